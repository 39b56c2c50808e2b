//! `/alerts` and `/api/alerts`: what is told about runs and where (the
//! configured webhooks, email, pings and heartbeat), the last deliveries
//! (`Pdeliveries`) and the last changes of leader (`P{Pleader}:changes`).
//!
//! Targets are shown by host only, or as host and digest like `clock plan`
//! shows `ping_url` ([`crate::deploy::url_digest`]): webhook and monitor
//! URLs carry secrets in their paths. Email shows its addresses' domains.

use axum::extract::State;
use axum::response::{Html, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::AppState;
use super::failure::{Failure, Result};
use super::pages;
use crate::config::{Config, Event};
use crate::deploy::url_digest;
use crate::notify::record::{Delivery, email_target};
use crate::store::{DELIVERIES_CAP, LEADER_CHANGES_CAP, LeaderChange, Store};

/// How far back the overview counts changes of leader.
pub(super) const CHANGES_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// The view both `/alerts` and `/api/alerts` show (a public contract of
/// the API, docs/dashboard.md).
pub(super) async fn view(config: &Config, store: &Store, now: DateTime<Utc>) -> crate::store::Result<Value> {
    let deliveries: Vec<Delivery> = store
        .deliveries(DELIVERIES_CAP)
        .await?
        .iter()
        .filter_map(|raw| serde_json::from_str(raw).ok())
        .collect();
    let changes = store.leader_changes(LEADER_CHANGES_CAP).await?;
    Ok(json!({
        "targets": targets(config),
        "deliveries": deliveries,
        "leader_changes": changes_json(&changes),
        "leader_summary": summary(&changes, now),
    }))
}

/// Every configured target with the events and jobs it takes.
pub(super) fn targets(config: &Config) -> Vec<Value> {
    let names = |events: &[Event]| events.iter().map(|e| e.name()).collect::<Vec<_>>();
    let mut out: Vec<Value> = config
        .webhooks
        .iter()
        .map(|h| target("webhook", url_digest(&h.url), &names(&h.events), json!(h.jobs)))
        .collect();
    if let Some(email) = &config.email {
        let to: Vec<String> = email.to.iter().map(|a| email_target(std::slice::from_ref(a))).collect();
        out.push(target("email", to.join(", "), &names(&email.events), json!(email.jobs)));
    }
    for job in &config.jobs {
        let Some(ping) = &job.ping else { continue };
        let urls = [("start", &ping.start), ("success", &ping.success), ("fail", &ping.fail)];
        for (kind, url) in urls.into_iter().filter_map(|(kind, url)| Some((kind, url.as_ref()?))) {
            out.push(target("ping", url_digest(url), &[kind], json!([job.name.as_str()])));
        }
    }
    if let Some(url) = &config.monitor.heartbeat_url {
        out.push(target("heartbeat", url_digest(url), &["heartbeat"], Value::Null));
    }
    out
}

/// One configured target: `jobs` is `null` for every job.
fn target(channel: &str, target: String, events: &[&str], jobs: Value) -> Value {
    json!({ "channel": channel, "target": target, "events": events, "jobs": jobs })
}

fn changes_json(changes: &[LeaderChange]) -> Vec<Value> {
    changes
        .iter()
        .map(|c| {
            let at = DateTime::from_timestamp_millis(c.at_ms).map(crate::text::utc);
            json!({ "clock": c.clock, "via": c.via, "from": c.from, "at": at })
        })
        .collect()
}

/// The leader's changes over the last [`CHANGES_WINDOW`]: how many, and the
/// newest (within the window or not).
pub(super) fn summary(changes: &[LeaderChange], now: DateTime<Utc>) -> Value {
    let since = (now - CHANGES_WINDOW).timestamp_millis();
    let recent = changes.iter().filter(|c| c.at_ms >= since).count();
    json!({
        "changes_last_hour": recent,
        // Every entry kept is in the hour: there may have been more.
        "at_least": recent == LEADER_CHANGES_CAP,
        "last_change": changes_json(&changes[..changes.len().min(1)]).pop(),
    })
}

pub(super) async fn page(State(state): State<AppState>) -> Result<Html<String>> {
    let now = state.now();
    let view = view(&state.0.config, state.store()?, now).await?;
    let csrf = state.csrf_token().await?;
    Ok(Html(pages::alerts(&view, &state.ctx(&csrf, None))))
}

pub(super) async fn api(State(state): State<AppState>) -> Result<Json<Value>> {
    let store = state.store().map_err(Failure::json)?;
    let view =
        view(&state.0.config, store, state.now()).await.map_err(Failure::from).map_err(Failure::json)?;
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(clock: &str, at: DateTime<Utc>) -> LeaderChange {
        LeaderChange { clock: clock.into(), via: "acquired".into(), from: None, at_ms: at.timestamp_millis() }
    }

    #[test]
    fn the_summary_counts_the_changes_of_the_last_hour_and_names_the_newest() {
        let now: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
        let minutes = |m| now - chrono::Duration::minutes(m);
        let changes = [change("c", minutes(5)), change("b", minutes(59)), change("a", minutes(61))];
        let summary = summary(&changes, now);
        assert_eq!(summary["changes_last_hour"], 2);
        assert_eq!(summary["at_least"], false);
        assert_eq!(summary["last_change"]["clock"], "c");
        assert_eq!(summary["last_change"]["at"], "2026-11-23T07:55:00Z");
        let none = super::summary(&[], now);
        assert_eq!((none["changes_last_hour"].as_u64(), none["last_change"].is_null()), (Some(0), true));
        let full: Vec<LeaderChange> = (0..LEADER_CHANGES_CAP).map(|_| change("x", minutes(1))).collect();
        assert_eq!(super::summary(&full, now)["at_least"], true);
    }

    #[test]
    fn targets_show_hosts_and_digests_never_a_url_path_or_a_mailbox() {
        let toml = r#"
[[notify.webhooks]]
url = "https://hooks.slack.com/services/T0/B0/s3cret"
events = ["dead"]
jobs = ["report"]

[notify.email]
to = ["ops@example.com"]
from = "clock@example.org"

[monitor]
heartbeat_url = "https://hc-ping.com/heart-s3cret"

[jobs.report]
every = "1m"
command = "true"
ping_url = "https://hc-ping.com/ping-s3cret"
"#;
        let now = "2026-11-23T08:00:00Z".parse().unwrap();
        let config = Config::parse(toml, std::path::Path::new("clock.toml"), now).unwrap();
        let targets = targets(&config);
        let text = serde_json::to_string(&targets).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("ops@"), "{text}");
        let channels: Vec<&str> = targets.iter().map(|t| t["channel"].as_str().unwrap()).collect();
        assert_eq!(channels, ["webhook", "email", "ping", "ping", "ping", "heartbeat"], "{text}");
        assert!(targets[0]["target"].as_str().unwrap().starts_with("https://hooks.slack.com/… sha256:"));
        assert_eq!(targets[0]["events"], json!(["dead"]));
        assert_eq!(targets[0]["jobs"], json!(["report"]));
        assert_eq!(targets[1]["target"], "@example.com");
        assert!(targets[1]["jobs"].is_null());
    }
}
