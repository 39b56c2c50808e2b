//! The settings of `[notify]`: webhooks, email and the events they filter
//! on. Delivery lives in `notify`; these are the validated settings it is
//! given.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
}

impl Event {
    pub const ALL: [Event; 5] = [Event::Failed, Event::Dead, Event::Missed, Event::Skipped, Event::Recovered];

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

fn wants(events: &[Event], jobs: Option<&[String]>, event: Event, job: &str) -> bool {
    events.contains(&event) && jobs.is_none_or(|jobs| jobs.iter().any(|j| j == job))
}
