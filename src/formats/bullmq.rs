//! A BullMQ job as BullMQ's `Queue.add` leaves it: the
//! `<prefix>:<queue>:<id>` hash with `name`, `data` and `opts`, its id
//! pushed onto `<prefix>:<queue>:wait`. The enqueue script does the rest
//! of BullMQ's `addStandardJob` (the id counter, the `marker`, the `events`
//! stream). docs/formats.md shows one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::format::Bullmq;
use crate::store::JobHash;

/// A BullMQ job id: the tick's id with its ':'s as '-'
/// (`nightly-report@2026-11-23T08-00-00Z`), so the same tick has the same id
/// whichever clock pushed it. A custom id must not look like an integer
/// (`Job.validateOptions`), be "0" or start with "0:" (`Queue.add`); this
/// one has an '@' and no ':', which BullMQ's `<prefix>:<queue>:<id>` keys
/// are split on.
pub fn job_id(id: &str) -> String {
    id.replace(':', "-")
}

/// The job hash for one push, with the fields BullMQ 5's `storeJob` writes
/// for a standard job (no delay, priority, parent or deduplication):
/// `timestamp` is the push, in Unix ms.
pub fn job_hash(bullmq: &Bullmq, data: &Value, job_id: &str, now: DateTime<Utc>) -> JobHash {
    let text = |field: &str, value: String| (field.to_owned(), value.into_bytes());
    let fields = vec![
        text("name", bullmq.name.clone()),
        text("data", data.to_string()),
        text("opts", opts(bullmq, job_id)),
        text("timestamp", now.timestamp_millis().to_string()),
        text("delay", "0".to_owned()),
        text("priority", "0".to_owned()),
    ];
    JobHash { id: job_id.to_owned(), fields }
}

/// `opts`: the JSON of the job's options as `Job.optsAsJSON` leaves them,
/// in the order BullMQ 5.58 writes them.
fn opts(bullmq: &Bullmq, job_id: &str) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Opts<'a> {
        job_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        backoff: Option<&'a Value>,
        attempts: u32,
    }
    let opts = Opts { job_id, backoff: bullmq.backoff.as_ref(), attempts: bullmq.attempts };
    serde_json::to_string(&opts).expect("BullMQ options always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_ids_are_not_integers_and_have_no_colon() {
        let id = job_id("nightly-report@2026-11-23T08:00:00Z");
        assert_eq!(id, "nightly-report@2026-11-23T08-00-00Z");
        assert_eq!(job_id("7@manual-2026-11-23T08:00:00.123Z"), "7@manual-2026-11-23T08-00-00.123Z");
    }

    #[test]
    fn the_hash_has_storejobs_fields_with_options_as_bullmq_writes_them() {
        let bullmq = Bullmq {
            name: "nightly".into(),
            prefix: "bull".into(),
            attempts: 3,
            backoff: Some(json!({"type": "exponential", "delay": 1000})),
        };
        let now: DateTime<Utc> = "2026-11-23T08:00:00.003417Z".parse().unwrap();
        let job = job_hash(&bullmq, &json!({"n": 1, "s": "é"}), "n@x", now);
        let fields: Vec<(&str, String)> =
            job.fields.iter().map(|(f, v)| (f.as_str(), String::from_utf8(v.clone()).unwrap())).collect();
        assert_eq!(
            fields,
            [
                ("name", "nightly".into()),
                ("data", r#"{"n":1,"s":"é"}"#.into()),
                (
                    "opts",
                    r#"{"jobId":"n@x","backoff":{"delay":1000,"type":"exponential"},"attempts":3}"#.into()
                ),
                ("timestamp", "1795420800003".into()),
                ("delay", "0".into()),
                ("priority", "0".into()),
            ]
        );
    }
}
