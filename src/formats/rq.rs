//! An RQ job as RQ's `Queue.enqueue` leaves it: the `rq:job:<id>` hash
//! with the pickled call in `data`, its id pushed onto `rq:queue:<queue>`.
//! docs/formats.md shows one.

use chrono::{DateTime, Utc};
use num_bigint::BigInt;
use serde_json::Value;
use serde_pickle::{HashableValue, SerOptions, Value as Pickle};

use super::uuid;
use crate::config::format::Rq;
use crate::store::JobHash;

/// An RQ job id: a UUID, as RQ's `str(uuid4())`, but derived from the
/// tick's id, so the same tick has the same job id whichever clock pushed it.
pub fn job_id(id: &str) -> String {
    uuid(&format!("rq:{id}"))
}

/// The job hash for one push, with the fields RQ 2.6's `Job.to_dict`
/// writes for a job enqueued with no callbacks, TTLs or dependencies:
/// `created_at` the tick, `enqueued_at` the push, `status` `queued`.
pub fn job_hash(
    rq: &Rq,
    queue: &str,
    args: &Value,
    job_id: &str,
    created: DateTime<Utc>,
    enqueued: DateTime<Utc>,
) -> JobHash {
    let empty = Vec::new();
    let args = args.as_array().unwrap_or(&empty);
    let text = |field: &str, value: String| (field.to_owned(), value.into_bytes());
    let fields = vec![
        text("created_at", timestamp(created)),
        ("data".to_owned(), data(&rq.function, args, &rq.kwargs)),
        text("success_callback_name", String::new()),
        text("failure_callback_name", String::new()),
        text("stopped_callback_name", String::new()),
        text("started_at", String::new()),
        text("ended_at", String::new()),
        text("last_heartbeat", String::new()),
        text("worker_name", String::new()),
        text("group_id", String::new()),
        text("origin", queue.to_owned()),
        text("description", description(&rq.function, args, &rq.kwargs)),
        text("enqueued_at", timestamp(enqueued)),
        text("timeout", rq.timeout_secs.to_string()),
        text("status", "queued".to_owned()),
    ];
    JobHash { id: job_id.to_owned(), fields }
}

/// `data`: the pickle (protocol 3, which every Python 3 reads) of
/// `(function, None, args, kwargs)`, what RQ's default serializer loads.
/// RQ compresses it with zlib when it writes it, and reads it
/// uncompressed as well (its `Job.restore` falls back to the raw bytes),
/// so it is left uncompressed, readable in `redis-cli`.
pub fn data(function: &str, args: &[Value], kwargs: &serde_json::Map<String, Value>) -> Vec<u8> {
    let kwargs = kwargs.iter().map(|(k, v)| (HashableValue::String(k.clone()), pickle(v))).collect();
    let call = Pickle::Tuple(vec![
        Pickle::String(function.to_owned()),
        Pickle::None,
        Pickle::List(args.iter().map(pickle).collect()),
        Pickle::Dict(kwargs),
    ]);
    serde_pickle::value_to_vec(&call, SerOptions::new()).expect("a call always pickles")
}

/// A JSON value as the Python value `json.loads` would give: integers of
/// any size stay exact.
fn pickle(value: &Value) -> Pickle {
    match value {
        Value::Null => Pickle::None,
        Value::Bool(b) => Pickle::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.to_string().parse::<BigInt>()) {
            (Some(i), _) => Pickle::I64(i),
            (None, Ok(big)) => Pickle::Int(big),
            _ => Pickle::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Pickle::String(s.clone()),
        Value::Array(items) => Pickle::List(items.iter().map(pickle).collect()),
        Value::Object(map) => {
            Pickle::Dict(map.iter().map(|(k, v)| (HashableValue::String(k.clone()), pickle(v))).collect())
        }
    }
}

/// `description`: the call as text, shown by `rq info` and dashboards
/// (RQ writes Python's repr; this is the JSON of each argument).
fn description(function: &str, args: &[Value], kwargs: &serde_json::Map<String, Value>) -> String {
    let args = args.iter().map(Value::to_string);
    let kwargs = kwargs.iter().map(|(k, v)| format!("{k}={v}"));
    format!("{function}({})", args.chain(kwargs).collect::<Vec<_>>().join(", "))
}

/// RQ's `utcformat`: `%Y-%m-%dT%H:%M:%S.%fZ`, microseconds.
fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_the_pickled_call_with_big_integers_exact() {
        let args = [json!("é"), json!(9007199254740993_i64), json!(18446744073709551615_u64)];
        let kwargs = json!({"pages": 3}).as_object().unwrap().clone();
        let bytes = data("tasks.record", &args, &kwargs);
        let back: Pickle = serde_pickle::value_from_slice(&bytes, Default::default()).unwrap();
        let Pickle::Tuple(parts) = back else { panic!("{back:?}") };
        assert_eq!(parts[0], Pickle::String("tasks.record".into()));
        assert_eq!(parts[1], Pickle::None);
        assert_eq!(
            parts[2],
            Pickle::List(vec![
                Pickle::String("é".into()),
                Pickle::I64(9007199254740993),
                Pickle::Int(BigInt::from(u64::MAX))
            ])
        );
    }

    #[test]
    fn description_and_timestamps_read_like_rqs() {
        let kwargs = json!({"pages": 3}).as_object().unwrap().clone();
        assert_eq!(description("t.f", &[json!("a"), json!(1)], &kwargs), r#"t.f("a", 1, pages=3)"#);
        let t: DateTime<Utc> = "2026-11-23T08:00:00.003417Z".parse().unwrap();
        assert_eq!(timestamp(t), "2026-11-23T08:00:00.003417Z");
    }
}
