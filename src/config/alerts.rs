//! The settings of `[notify]`: webhooks, email and the events they filter
//! on. Delivery lives in `notify`; these are the validated settings it is
//! given.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A run failed (including attempts that will be retried). Worker.
    Failed,
    /// A payload was dead-lettered. Worker.
    Dead,
    /// Ticks were dropped by the catch-up policy or window. Clock.
    Missed,
    /// A tick was skipped: overlap or pause. Clock.
    Skipped,
    /// A run succeeded after the job's previous run had failed. Worker.
    Recovered,
    /// A tick's payload had not started by its tick plus the job's
    /// `start_within`. Clock.
    Late,
    /// A run is still going after the job's `warn_after`. Worker.
    LongRunning,
    /// A queue with jobs to run has had no live worker for
    /// `[monitor] unserved_after`. Clock.
    Unserved,
    /// An unserved queue has a live worker again. Clock.
    Served,
    /// No clock has held the leader lease for `[monitor] no_leader_after`.
    /// Workers and dashboards, since a dead clock cannot report itself.
    NoLeader,
    /// A clock leads again after `no_leader`. Workers and dashboards.
    LeaderBack,
}

impl Event {
    pub const ALL: [Event; 11] = [
        Event::Failed,
        Event::Dead,
        Event::Missed,
        Event::Skipped,
        Event::Recovered,
        Event::Late,
        Event::LongRunning,
        Event::Unserved,
        Event::Served,
        Event::NoLeader,
        Event::LeaderBack,
    ];

    /// What a webhook is told about when its `events` is not set: every
    /// event but `skipped`, which a paused job sends on each tick.
    pub const WEBHOOK_DEFAULT: [Event; 10] = [
        Event::Failed,
        Event::Dead,
        Event::Missed,
        Event::Recovered,
        Event::Late,
        Event::LongRunning,
        Event::Unserved,
        Event::Served,
        Event::NoLeader,
        Event::LeaderBack,
    ];

    /// What email is sent about when `[notify.email] events` is not set:
    /// the events that need someone to act.
    pub const EMAIL_DEFAULT: [Event; 6] =
        [Event::Failed, Event::Dead, Event::Missed, Event::Late, Event::Unserved, Event::NoLeader];

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Event::Failed => "failed",
            Event::Dead => "dead",
            Event::Missed => "missed",
            Event::Skipped => "skipped",
            Event::Recovered => "recovered",
            Event::Late => "late",
            Event::LongRunning => "long_running",
            Event::Unserved => "unserved",
            Event::Served => "served",
            Event::NoLeader => "no_leader",
            Event::LeaderBack => "leader_back",
        }
    }
}

/// One `[[notify.webhooks]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub events: Vec<Event>,
    /// Only these jobs; `None`: every job.
    pub jobs: Option<Vec<String>>,
}

impl Webhook {
    /// Whether this webhook is told about `event` of `job`.
    pub fn wants(&self, event: Event, job: &str) -> bool {
        wants(&self.events, self.jobs.as_deref(), event, job)
    }
}

/// `[notify.email]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub to: Vec<String>,
    pub from: String,
    pub events: Vec<Event>,
    pub jobs: Option<Vec<String>>,
    pub smtp_url: Option<String>,
    /// At most one email per job and event within this window.
    pub rate_limit: Duration,
}

impl EmailSettings {
    /// Whether an email is sent about `event` of `job`.
    pub fn wants(&self, event: Event, job: &str) -> bool {
        wants(&self.events, self.jobs.as_deref(), event, job)
    }
}

/// The job name of events about a queue or the whole deployment rather
/// than one job (`unserved`, `no_leader`, a Redis that lost its data).
pub const ANY_JOB: &str = "*";

/// Whether `events` and `jobs` select `event` of `job`. An event about
/// every job ([`ANY_JOB`]) passes any `jobs` filter: a webhook watching one
/// job still wants to hear that nothing runs it.
fn wants(events: &[Event], jobs: Option<&[String]>, event: Event, job: &str) -> bool {
    events.contains(&event) && (job == ANY_JOB || jobs.is_none_or(|jobs| jobs.iter().any(|j| j == job)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_about_every_job_pass_a_jobs_filter() {
        let hook = Webhook {
            url: "http://x".into(),
            events: vec![Event::NoLeader, Event::Failed],
            jobs: Some(vec!["a".into()]),
        };
        assert!(hook.wants(Event::NoLeader, ANY_JOB));
        assert!(hook.wants(Event::Failed, "a"));
        assert!(!hook.wants(Event::Failed, "b"));
        assert!(!hook.wants(Event::Unserved, ANY_JOB), "an event it does not list");
    }
}
