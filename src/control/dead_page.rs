//! One page of dead letters across queues, newest first, read in bounded
//! steps rather than every letter of every queue.
//!
//! Each queue's list is newest first (letters are pushed as runs fail), so
//! the first `o + s` letters across queues, sorted, come from the first
//! `o + s` of each queue: page `p` of size `s` reads at most `p * s`
//! letters a queue and sorts those the way [`super::dead_letters`] and a
//! full sort would, ties kept in queue order. A job filter must count the
//! job's letters for the pager, so it reads each queue in chunks of
//! [`CHUNK`], up to its newest [`JOB_SCAN`], and says how many older ones
//! it did not search.

use super::{Dead, parse_dead};
use crate::config::QueueName;
use crate::store::{self, Store};

/// The newest letters of each queue the job filter searches.
pub const JOB_SCAN: usize = 2_000;
/// Letters read at once by the job filter.
const CHUNK: usize = 500;

/// A page of dead letters and what it took to read it.
#[derive(Debug)]
pub struct DeadPage {
    /// This page's letters, newest first.
    pub letters: Vec<Dead>,
    /// The letters of the queues (of the job, among those searched).
    pub total: usize,
    /// The page shown, 1-based: the one asked for, within the pages there are.
    pub page: usize,
    /// Letters read from Redis for this page.
    pub read: usize,
    /// Letters the job filter did not search: older than each queue's
    /// newest [`JOB_SCAN`].
    pub unsearched: usize,
}

/// Page `page` (1-based, clamped to the pages there are) of `per` letters
/// of `queues`, of `job` only when given.
pub async fn dead_page(
    store: &Store,
    queues: &[QueueName],
    job: Option<&str>,
    page: usize,
    per: usize,
) -> store::Result<DeadPage> {
    let per = per.max(1);
    let mut lens = Vec::with_capacity(queues.len());
    for queue in queues {
        lens.push(store.dead_len(queue).await?);
    }
    let (mut letters, total, read, unsearched) = match job {
        None => {
            let total = lens.iter().sum();
            let page = page.clamp(1, pages(total, per));
            let mut letters = Vec::new();
            for queue in queues {
                letters.extend(parse_dead(queue, store.dead_range(queue, 0, page * per).await?));
            }
            let read = letters.len();
            (letters, total, read, 0)
        }
        Some(job) => {
            let (mut letters, mut read, mut unsearched) = (Vec::new(), 0, 0);
            for (queue, len) in queues.iter().zip(&lens) {
                let searched = (*len).min(JOB_SCAN);
                unsearched += len - searched;
                for start in (0..searched).step_by(CHUNK) {
                    let chunk = store.dead_range(queue, start, CHUNK.min(searched - start)).await?;
                    read += chunk.len();
                    let of_job = parse_dead(queue, chunk).filter(|d| d.letter.job.as_deref() == Some(job));
                    letters.extend(of_job);
                }
            }
            let total = letters.len();
            (letters, total, read, unsearched)
        }
    };
    letters.sort_by_key(|d| std::cmp::Reverse(d.letter.failed_at));
    let page = page.clamp(1, pages(total, per));
    let from = ((page - 1) * per).min(letters.len());
    let letters: Vec<Dead> = letters.drain(from..).take(per).collect();
    Ok(DeadPage { letters, total, page, read, unsearched })
}

fn pages(total: usize, per: usize) -> usize {
    total.div_ceil(per).max(1)
}
