//! `/dead` reads a page's share of each queue, not every letter: page `p`
//! of size `s` reads at most `p * s` letters a queue, and shows exactly what
//! sorting every letter of every queue showed; the job filter reads each
//! queue's newest `JOB_SCAN` in chunks and says how many it left.

mod common;

use campanile::config::{QueueName, RedisSettings};
use campanile::control::{self, JOB_SCAN};
use campanile::run::DeadLetter;
use campanile::store::Store;
use chrono::{DateTime, Duration, Utc};
use common::RedisServer;

async fn store(server: &RedisServer) -> Store {
    let settings = RedisSettings { url: Some(server.url()), ..RedisSettings::default() };
    Store::connect(&settings).await.unwrap()
}

fn letter(queue: &str, job: &str, n: usize, failed_at: DateTime<Utc>) -> String {
    let letter = DeadLetter {
        payload: format!(r#"{{"n":{n}}}"#),
        payload_base64: None,
        payload_bytes: None,
        reason: "exit status 1".into(),
        queue: queue.into(),
        job: Some(job.into()),
        attempts: 1,
        exit_code: Some(1),
        failed_at,
        worker: "w".into(),
        id: Some(format!("{queue}-{n}")),
        output: None,
    };
    serde_json::to_string(&letter).unwrap()
}

/// Pushes letters as workers do (LPUSH as they fail, so newest first):
/// `count` of them over `queues`, spread unevenly, some sharing a second
/// across queues, jobs `x` and `y` taking turns unevenly too.
fn fill(server: &RedisServer, queues: &[&str], count: usize) {
    let base: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
    let mut pipe = redis::pipe();
    for n in 0..count {
        let queue = queues[(n * 7 / 3) % queues.len()];
        let job = if n % 5 < 2 { "x" } else { "y" };
        let at = base + Duration::seconds((n / 2) as i64);
        pipe.cmd("LPUSH").arg(format!("campanile:{{{queue}}}:dead")).arg(letter(queue, job, n, at)).ignore();
    }
    let _: () = pipe.query(&mut server.connection()).unwrap();
}

/// The page as `/dead` built it before: every letter, filtered, sorted
/// (stable, so ties keep queue order), then cut.
async fn every_letter_page(
    store: &Store,
    queues: &[QueueName],
    job: Option<&str>,
    page: usize,
    per: usize,
) -> (Vec<String>, usize, usize) {
    let mut letters = control::dead_letters(store, queues).await.unwrap();
    if let Some(job) = job {
        letters.retain(|d| d.letter.job.as_deref() == Some(job));
    }
    letters.sort_by_key(|d| std::cmp::Reverse(d.letter.failed_at));
    let pages = letters.len().div_ceil(per).max(1);
    let page = page.clamp(1, pages);
    let shown = &letters[(page - 1) * per..(page * per).min(letters.len())];
    (shown.iter().map(|d| d.id.clone()).collect(), letters.len(), page)
}

#[tokio::test]
async fn every_page_shows_what_sorting_every_letter_showed_and_reads_only_its_share() {
    let server = RedisServer::start();
    let s = store(&server).await;
    let names = ["alpha", "beta", "gamma"];
    fill(&server, &names, 3_000);
    let queues: Vec<QueueName> = names.iter().map(|q| QueueName::new(q).unwrap()).collect();
    let asks = [
        (None, 1, 50),
        (None, 2, 50),
        (None, 7, 25),
        (None, 60, 50),
        (None, 999, 50),
        (Some("x"), 1, 50),
        (Some("x"), 4, 200),
        (Some("y"), 9, 100),
        (Some("nobody"), 1, 50),
    ];
    for (job, page, per) in asks {
        let found = control::dead_page(&s, &queues, job, page, per).await.unwrap();
        let ids: Vec<String> = found.letters.iter().map(|d| d.id.clone()).collect();
        let before = every_letter_page(&s, &queues, job, page, per).await;
        assert_eq!((ids, found.total, found.page), before, "{job:?} page {page} per {per}");
        assert_eq!(found.unsearched, 0);
        if job.is_none() {
            assert!(
                found.read <= names.len() * found.page * per,
                "{job:?} {page} {per}: read {}",
                found.read
            );
        }
    }
    // The first page of 50 reads 50 a queue, not 1,000.
    let first = control::dead_page(&s, &queues, None, 1, 50).await.unwrap();
    assert_eq!(first.read, 150);
    // One queue's letters only.
    let one = control::dead_page(&s, &queues[1..2], None, 1, 50).await.unwrap();
    let before = every_letter_page(&s, &queues[1..2], None, 1, 50).await;
    assert_eq!(
        (one.letters.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), one.total),
        (before.0, before.1)
    );
    assert_eq!(one.read, 50);
}

#[tokio::test]
async fn the_job_filter_searches_each_queue_newest_first_up_to_its_bound_and_says_what_it_left() {
    let server = RedisServer::start();
    let s = store(&server).await;
    fill(&server, &["deep"], JOB_SCAN + 700);
    let queues = [QueueName::new("deep").unwrap()];
    let found = control::dead_page(&s, &queues, Some("x"), 1, 50).await.unwrap();
    assert_eq!(found.read, JOB_SCAN);
    assert_eq!(found.unsearched, 700);
    // Of the newest JOB_SCAN letters, two in five are x's.
    assert_eq!(found.total, JOB_SCAN * 2 / 5);
    let newest = every_letter_page(&s, &queues, Some("x"), 1, 50).await;
    let ids: Vec<String> = found.letters.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids, newest.0, "the newest of the job's letters come first either way");
}
