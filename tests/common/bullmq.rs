//! What the BullMQ tests share: every key of a Redis as comparable JSON
//! (what a BullMQ add leaves, whoever made it), and Node with the pinned
//! BullMQ that scripts/test installs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use super::RedisServer;
use super::foreign_worker::repo;

/// The BullMQ release scripts/test installs (tests/data/bullmq's
/// package-lock.json pins it and every dependency), and where.
pub const BULLMQ_VERSION: &str = "5.58.5";
pub const BULLMQ_DIR: &str = "target/tools/bullmq";

/// Every key of `redis` matching `pattern`, by name, as
/// `{"type": …, "value": …}`: a hash as an object (values not UTF-8 with
/// U+FFFD), a list or set as an
/// array, a sorted set as [member, score] pairs, a stream as its entries'
/// fields (without their ids, which are times).
pub fn dump(redis: &RedisServer, pattern: &str) -> BTreeMap<String, Value> {
    let mut con = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut con).unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
        let value = match kind.as_str() {
            "string" => json!(redis::cmd("GET").arg(&key).query::<String>(&mut con).unwrap()),
            "hash" => {
                let hash: BTreeMap<String, Vec<u8>> =
                    redis::cmd("HGETALL").arg(&key).query(&mut con).unwrap();
                // Lossy: only another tool's binary fields (RQ's pickles) are not text.
                json!(
                    hash.into_iter()
                        .map(|(f, v)| (f, String::from_utf8_lossy(&v).into_owned()))
                        .collect::<BTreeMap<_, _>>()
                )
            }
            "list" => {
                json!(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query::<Vec<String>>(&mut con).unwrap())
            }
            "set" => json!(redis::cmd("SMEMBERS").arg(&key).query::<Vec<String>>(&mut con).unwrap()),
            "zset" => json!(
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query::<Vec<(String, String)>>(&mut con)
                    .unwrap()
            ),
            "stream" => {
                let entries: Vec<(String, Vec<String>)> =
                    redis::cmd("XRANGE").arg(&key).arg("-").arg("+").query(&mut con).unwrap();
                json!(entries.into_iter().map(|(_, fields)| fields).collect::<Vec<_>>())
            }
            other => panic!("{key}: unexpected type {other}"),
        };
        out.insert(key, json!({ "type": kind, "value": value }));
    }
    out
}

/// `node` with BullMQ's install on its module path; panics with the
/// install command when the pinned BullMQ is not there.
pub fn node() -> Command {
    let modules = repo().join(BULLMQ_DIR).join("node_modules");
    let probe = Command::new("node")
        .args(["-e", "process.exit(require('bullmq/package.json').version === process.argv[1] ? 0 : 1)"])
        .arg(BULLMQ_VERSION)
        .env("NODE_PATH", &modules)
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "bullmq {BULLMQ_VERSION} is not installed in {BULLMQ_DIR} (or node is missing); these tests run the \
         real BullMQ. scripts/test installs it, or run: mkdir -p {BULLMQ_DIR} && cp tests/data/bullmq/package*.json \
         {BULLMQ_DIR} && (cd {BULLMQ_DIR} && npm ci --ignore-scripts)"
    );
    let mut node = Command::new("node");
    node.env("NODE_PATH", modules);
    node
}

/// tests/data/bullmq/`name`.
pub fn script(name: &str) -> PathBuf {
    repo().join("tests/data/bullmq").join(name)
}
