//! A Celery task message (protocol 2, JSON serializer) in the envelope
//! kombu's Redis transport keeps on a queue's list: what
//! `app.send_task(task, args, kwargs)` would `LPUSH`, so a stock
//! `celery worker` runs it. docs/formats.md shows one.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

use super::uuid;
use crate::config::format::Celery;

/// The message for one push of the task with id `task_id` onto `queue`.
///
/// Every field is set the way Celery 5.5's `as_task_v2` and kombu 5.5's
/// Redis channel set it, except the ones that are random or about the
/// sender there: the task id and delivery tag are derived from the tick
/// (so every clock pushes a tick byte for byte the same), `origin` is
/// `campanile`, no `reply_to` (no one waits for a result), and `argsrepr`
/// and `kwargsrepr`, only ever displayed, are the JSON of the arguments.
pub fn message(celery: &Celery, queue: &str, args: &Value, task_id: &str) -> String {
    let empty = Value::Array(Vec::new());
    let args = if args.is_null() { &empty } else { args };
    let body =
        Body(args, &celery.kwargs, Embed { callbacks: None, errbacks: None, chain: None, chord: None });
    let body = serde_json::to_vec(&body).expect("a Celery body always serialises");
    let envelope = Envelope {
        body: base64::engine::general_purpose::STANDARD.encode(body),
        content_encoding: "utf-8",
        content_type: "application/json",
        headers: Headers {
            lang: "py",
            task: &celery.task,
            id: task_id,
            shadow: None,
            eta: None,
            expires: None,
            group: None,
            group_index: None,
            retries: 0,
            timelimit: [None, None],
            root_id: task_id,
            parent_id: None,
            argsrepr: args.to_string(),
            kwargsrepr: Value::Object(celery.kwargs.clone()).to_string(),
            origin: "campanile",
            ignore_result: false,
            replaced_task_nesting: 0,
            stamped_headers: None,
            stamps: Map::new(),
        },
        properties: Properties {
            correlation_id: task_id,
            delivery_mode: 2,
            delivery_info: DeliveryInfo { exchange: "", routing_key: queue },
            priority: 0,
            body_encoding: "base64",
            delivery_tag: uuid(&format!("delivery:{task_id}")),
        },
    };
    serde_json::to_string(&envelope).expect("a Celery message always serialises")
}

/// A Celery task id: a version-4-shaped UUID, as Celery's `uuid()`, but
/// derived from the tick's id, so the same tick has the same task id
/// whichever clock pushed it.
pub fn task_id(id: &str) -> String {
    uuid(id)
}

/// Protocol 2's body: `[args, kwargs, embed]`.
#[derive(Serialize)]
struct Body<'a>(&'a Value, &'a Map<String, Value>, Embed);

#[derive(Serialize)]
struct Embed {
    callbacks: Option<()>,
    errbacks: Option<()>,
    chain: Option<()>,
    chord: Option<()>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    body: String,
    #[serde(rename = "content-encoding")]
    content_encoding: &'a str,
    #[serde(rename = "content-type")]
    content_type: &'a str,
    headers: Headers<'a>,
    properties: Properties<'a>,
}

#[derive(Serialize)]
struct Headers<'a> {
    lang: &'a str,
    task: &'a str,
    id: &'a str,
    shadow: Option<()>,
    eta: Option<()>,
    expires: Option<()>,
    group: Option<()>,
    group_index: Option<()>,
    retries: u32,
    timelimit: [Option<()>; 2],
    root_id: &'a str,
    parent_id: Option<()>,
    argsrepr: String,
    kwargsrepr: String,
    origin: &'a str,
    ignore_result: bool,
    replaced_task_nesting: u32,
    stamped_headers: Option<()>,
    stamps: Map<String, Value>,
}

#[derive(Serialize)]
struct Properties<'a> {
    correlation_id: &'a str,
    delivery_mode: u8,
    delivery_info: DeliveryInfo<'a>,
    priority: u8,
    body_encoding: &'a str,
    delivery_tag: String,
}

#[derive(Serialize)]
struct DeliveryInfo<'a> {
    exchange: &'a str,
    routing_key: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_ids_are_uuids_stable_per_tick_and_distinct_across_ticks() {
        let a = task_id("nightly-report@2026-11-23T08:00:00Z");
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4", "version 4: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "RFC 4122 variant: {a}");
        let distinct: std::collections::HashSet<String> =
            (0..1000).map(|s| task_id(&format!("j@{s}"))).chain([a]).collect();
        assert_eq!(distinct.len(), 1001);
    }

    #[test]
    fn the_body_is_base64_of_args_kwargs_and_an_empty_embed() {
        let celery = Celery { task: "t".into(), kwargs: json!({"k": "é"}).as_object().unwrap().clone() };
        let msg: Value = serde_json::from_str(&message(&celery, "celery", &Value::Null, "id")).unwrap();
        let body = base64::engine::general_purpose::STANDARD.decode(msg["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"[[],{"k":"é"},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]"#
        );
    }
}
