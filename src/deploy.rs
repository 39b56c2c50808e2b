//! What a deployment runs: the leading clock publishes its config's job
//! table, normalised, under `Pconfig`, so `clock plan` can show what a new
//! clock.toml would change before it is deployed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Config, Format, Job};
use crate::hash::fnv1a;

/// The published form (a public contract: `clock plan` of another version
/// reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    /// [`fingerprint`] of the config.
    pub fingerprint: String,
    /// The clock that published it, and when.
    pub clock: String,
    #[serde(with = "crate::payload::rfc3339_millis")]
    pub published_at: DateTime<Utc>,
    /// Job name -> normalised definition ([`job_spec`]).
    pub jobs: BTreeMap<String, Value>,
}

/// A job's definition with every default applied, as comparable JSON:
/// two configs that schedule and run a job the same way give equal specs.
/// Secrets never appear: `env` values and `ping_url` URLs are digested.
/// The format's fields appear only for a format other than `campanile`, so
/// a table published before formats existed still compares equal.
pub fn job_spec(job: &Job) -> Value {
    let mut spec = json!({
        "schedule": job.schedule.to_string(),
        "timezone": job.timezone.name(),
        "queue": job.queue,
        "command": job.command,
        "timeout": job.timeout.to_string(),
        "retries": job.retries,
        "retry_delay": job.retry_delay.to_string(),
        "catch_up": job.catch_up,
        "catch_up_window": job.catch_up_window.to_string(),
        "overlap": job.overlap,
        "jitter": job.jitter.to_string(),
        "args": job.args,
        "env": env_digests(job),
        "enabled": job.enabled,
    });
    // Set only: a table published before these existed still compares equal.
    if let (Some(spec), Some(warn_after)) = (spec.as_object_mut(), job.warn_after) {
        spec.insert("warn_after".into(), json!(warn_after.to_string()));
    }
    if let (Some(spec), Some(ping)) = (spec.as_object_mut(), ping_digests(job)) {
        spec.insert("ping_url".into(), ping);
    }
    if let (Some(spec), Some(fields)) = (spec.as_object_mut(), format_spec(&job.format).as_object()) {
        spec.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        if job.command.is_none() {
            spec.remove("command");
        }
    }
    spec
}

/// A job's `env` with each value replaced by `sha256:` and the first 16
/// hex digits of its SHA-256: env values are often secrets, and the table
/// is readable by anyone with Redis access and printed by `clock plan`,
/// yet a changed value must still show as a change.
pub fn env_digests(job: &Job) -> BTreeMap<&str, String> {
    job.env.iter().map(|(name, value)| (name.as_str(), value_digest(value))).collect()
}

/// A job's `ping_url`, each URL as its host and a digest of the whole
/// (`https://hc-ping.com/… sha256:…`): the path is the check's secret, yet
/// a changed URL must still show as a change.
pub fn ping_digests(job: &Job) -> Option<Value> {
    let ping = job.ping.as_ref()?;
    let shown = |url: &Option<String>| url.as_deref().map(url_digest);
    Some(json!({ "start": shown(&ping.start), "success": shown(&ping.success), "fail": shown(&ping.fail) }))
}

/// A URL as `clock plan` and the dashboard show it: its host and a digest
/// of the whole (`https://hc-ping.com/… sha256:…`).
pub fn url_digest(url: &str) -> String {
    format!("{} {}", crate::config::host_only(url), value_digest(url))
}

fn value_digest(value: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The format's fields of [`job_spec`]; none for `campanile`.
fn format_spec(format: &Format) -> Value {
    match format {
        Format::Campanile => json!({}),
        Format::Sidekiq(s) => json!({
            "format": "sidekiq",
            "class": s.class,
            "retry": s.retry,
            "namespace": s.namespace,
            "timestamps": s.timestamps,
        }),
        Format::Resque(r) => json!({ "format": "resque", "class": r.class, "namespace": r.namespace }),
        Format::Json { list } => json!({ "format": "json", "list": list }),
        Format::Celery(c) => json!({ "format": "celery", "task": c.task, "kwargs": c.kwargs }),
        Format::Rq(r) => json!({
            "format": "rq",
            "function": r.function,
            "kwargs": r.kwargs,
            "job_timeout": r.timeout_secs,
        }),
        Format::Bullmq(b) => json!({
            "format": "bullmq",
            "name": b.name,
            "prefix": b.prefix,
            "attempts": b.attempts,
            "backoff": b.backoff,
        }),
    }
}

/// Every job's spec, by name.
pub fn job_table(config: &Config) -> BTreeMap<String, Value> {
    config.jobs.iter().map(|j| (j.name.to_string(), job_spec(j))).collect()
}

/// A stable hash of a config's jobs: every field of [`job_spec`], written
/// into one reused buffer rather than built as JSON, since a clock computes
/// it at start-up for every job.
pub fn fingerprint(config: &Config) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for job in &config.jobs {
        let _ = write!(
            text,
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1e}",
            job.name,
            job.schedule,
            job.timezone.name(),
            job.queue,
            job.command.as_deref().unwrap_or_default(),
            job.timeout,
            job.retries,
            job.retry_delay,
            job.catch_up,
            job.catch_up_window,
            job.overlap,
            job.jitter,
            job.args,
            env_digests(job),
            job.enabled,
        );
        if !job.format.is_campanile() {
            let _ = write!(text, "{}\u{1e}", format_spec(&job.format));
        }
        if let Some(warn_after) = job.warn_after {
            let _ = write!(text, "warn_after={warn_after}\u{1e}");
        }
        if let Some(ping) = ping_digests(job) {
            let _ = write!(text, "ping_url={ping}\u{1e}");
        }
    }
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// [`Deployed::of`] as JSON, written one job at a time: the table as JSON
/// values takes several times the memory of its text, which at 100,000 jobs
/// is hundreds of megabytes.
pub fn published_json(config: &Config, clock: &str, now: DateTime<Utc>) -> String {
    #[derive(Serialize)]
    struct Published<'a> {
        fingerprint: String,
        clock: &'a str,
        #[serde(with = "crate::payload::rfc3339_millis")]
        published_at: DateTime<Utc>,
        jobs: Jobs<'a>,
    }
    /// Serialises as [`job_table`] does, in name order.
    struct Jobs<'a>(&'a [Job]);
    impl Serialize for Jobs<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut jobs: Vec<&Job> = self.0.iter().collect();
            jobs.sort_by(|a, b| a.name.cmp(&b.name));
            let mut map = serializer.serialize_map(Some(jobs.len()))?;
            for job in jobs {
                map.serialize_entry(job.name.as_str(), &job_spec(job))?;
            }
            map.end()
        }
    }
    let published =
        Published { fingerprint: fingerprint(config), clock, published_at: now, jobs: Jobs(&config.jobs) };
    serde_json::to_string(&published).expect("a deployed config serialises")
}

impl Deployed {
    pub fn of(config: &Config, clock: &str, now: DateTime<Utc>) -> Deployed {
        Deployed {
            fingerprint: fingerprint(config),
            clock: clock.to_owned(),
            published_at: now,
            jobs: job_table(config),
        }
    }
}

/// How a local config differs from a deployed one.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Job -> field -> `{"old", "new"}`.
    pub changed: BTreeMap<String, BTreeMap<String, Value>>,
    pub unchanged: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares the local job table with the deployed one.
pub fn diff(local: &BTreeMap<String, Value>, deployed: &BTreeMap<String, Value>) -> Diff {
    let mut d = Diff::default();
    for (name, spec) in local {
        match deployed.get(name).map(with_format) {
            None => d.added.push(name.clone()),
            Some(old) if old == with_format(spec) => d.unchanged.push(name.clone()),
            Some(old) => {
                let fields = changed_fields(&old, &with_format(spec));
                d.changed.insert(name.clone(), fields);
            }
        }
    }
    d.removed = deployed.keys().filter(|n| !local.contains_key(*n)).cloned().collect();
    d
}

/// A spec with its implicit `"format": "campanile"` spelled out, so a
/// change from or to it reads as one.
fn with_format(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(fields) = spec.as_object_mut() {
        fields.entry("format").or_insert_with(|| json!("campanile"));
    }
    spec
}

fn changed_fields(old: &Value, new: &Value) -> BTreeMap<String, Value> {
    let (empty, mut out) = (serde_json::Map::new(), BTreeMap::new());
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    for key in old.keys().chain(new.keys()) {
        let (o, n) = (old.get(key).unwrap_or(&Value::Null), new.get(key).unwrap_or(&Value::Null));
        if o != n {
            out.insert(key.clone(), json!({ "old": o, "new": n }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> BTreeMap<String, Value> {
        let config = Config::parse(text, std::path::Path::new("t.toml"), DateTime::UNIX_EPOCH).unwrap();
        job_table(&config)
    }

    #[test]
    fn the_published_json_is_the_deployed_table() {
        let text = "[jobs.b]\nevery = \"1m\"\ncommand = \"x\"\nargs = { n = 1.50 }\n\
                    [jobs.a]\ncron = \"0 3 * * *\"\nformat = \"sidekiq\"\nclass = \"A\"\n\
                    [jobs.a-b]\nevery = \"5m\"\ncommand = \"y\"\nenv = { K = \"v\" }\n";
        let config = Config::parse(text, std::path::Path::new("t.toml"), DateTime::UNIX_EPOCH).unwrap();
        let now = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let expected = serde_json::to_string(&Deployed::of(&config, "host:1:ab", now)).unwrap();
        assert_eq!(published_json(&config, "host:1:ab", now), expected);
    }

    #[test]
    fn a_format_change_shows_as_a_change_and_campanile_specs_keep_their_old_shape() {
        let own = table("[jobs.j]\nevery = \"1m\"\ncommand = \"x\"\noverlap = \"allow\"\n");
        let sidekiq = table("[jobs.j]\nevery = \"1m\"\nformat = \"sidekiq\"\nclass = \"A\"\n");
        // Tables published before formats existed have no format fields.
        assert!(own["j"].get("format").is_none());
        let d = diff(&sidekiq, &own);
        let fields = &d.changed["j"];
        assert_eq!(fields["format"], json!({"old": "campanile", "new": "sidekiq"}));
        assert_eq!(fields["class"], json!({"old": null, "new": "A"}));
        assert_eq!(fields["command"], json!({"old": "x", "new": null}));
        assert!(diff(&own, &own).is_empty());
        assert!(diff(&sidekiq, &sidekiq).is_empty());
        let ns =
            table("[jobs.j]\nevery = \"1m\"\nformat = \"sidekiq\"\nclass = \"A\"\nnamespace = \"app\"\n");
        assert_eq!(diff(&ns, &sidekiq).changed["j"]["namespace"], json!({"old": null, "new": "app"}));
        let celery = |task: &str| {
            table(&format!(
                "[jobs.j]\nevery = \"1m\"\nformat = \"celery\"\ntask = \"{task}\"\nkwargs = {{ a = 1 }}\n"
            ))
        };
        let fields = &diff(&celery("t.b"), &celery("t.a")).changed["j"];
        assert_eq!(fields["task"], json!({"old": "t.a", "new": "t.b"}));
        assert_eq!(diff(&celery("t.a"), &own).changed["j"]["kwargs"], json!({"old": null, "new": {"a": 1}}));
        let rq = |timeout: &str| {
            table(&format!(
                "[jobs.j]\nevery = \"1m\"\nformat = \"rq\"\nfunction = \"m.f\"\njob_timeout = \"{timeout}\"\n"
            ))
        };
        assert_eq!(diff(&rq("5m"), &rq("3m")).changed["j"]["job_timeout"], json!({"old": 180, "new": 300}));
        let bullmq = |attempts: u32| {
            table(&format!(
                "[jobs.j]\nevery = \"1m\"\nformat = \"bullmq\"\nname = \"n\"\nattempts = {attempts}\n"
            ))
        };
        assert_eq!(diff(&bullmq(5), &bullmq(3)).changed["j"]["attempts"], json!({"old": 3, "new": 5}));
    }

    #[test]
    fn ping_urls_are_published_as_host_and_digest_and_a_change_shows() {
        let job = |url: &str| {
            format!("[jobs.j]\nevery = \"1m\"\ncommand = \"x\"\nwarn_after = \"5m\"\nping_url = \"{url}\"\n")
        };
        let text = job("https://hc-ping.com/0f1e-s3cret");
        let config = Config::parse(&text, std::path::Path::new("t.toml"), DateTime::UNIX_EPOCH).unwrap();
        let published = published_json(&config, "c", DateTime::UNIX_EPOCH);
        assert!(!published.contains("s3cret"), "{published}");
        assert!(!format!("{:?}", config.jobs[0]).contains("s3cret"), "Debug shows the URLs' hosts only");
        let spec = &table(&text)["j"];
        assert_eq!(spec["warn_after"], "5m");
        assert!(spec["ping_url"]["start"].as_str().unwrap().starts_with("https://hc-ping.com/… sha256:"));
        let other = table(&job("https://hc-ping.com/another"));
        assert!(diff(&other, &table(&text)).changed["j"].contains_key("ping_url"));
        let before = Config::parse(
            &job("https://hc-ping.com/another"),
            std::path::Path::new("t.toml"),
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_ne!(fingerprint(&before), fingerprint(&config));
        // Without them, the spec keeps its old shape.
        let plain = table("[jobs.j]\nevery = \"1m\"\ncommand = \"x\"\n");
        assert!(plain["j"].get("ping_url").is_none() && plain["j"].get("warn_after").is_none());
    }
}
