//! The JSON payload the clock pushes and workers take: a public contract,
//! produced and consumed by other languages too. docs/formats.md documents
//! every field; `tests/contracts.rs` pins the format.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// One unit of work on a pending list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// `<job>@<scheduled_at>`: derived from the job and tick, so the same
    /// tick always has the same id, whichever clock pushed it.
    pub id: String,
    /// The job's name in clock.toml; the worker runs that job's command.
    pub job: String,
    /// The queue it was pushed to.
    pub queue: String,
    /// The tick: when the job was due, whole seconds, UTC.
    #[serde(with = "rfc3339_secs")]
    pub scheduled_at: DateTime<Utc>,
    /// When the clock pushed it, milliseconds, UTC.
    #[serde(with = "rfc3339_millis")]
    pub enqueued_at: DateTime<Utc>,
    /// 1 for the first run; incremented on each retry.
    pub attempt: u32,
    /// The job's `args` from clock.toml, or `null`.
    pub args: serde_json::Value,
    /// `true` for a run started with `clock trigger`, outside the schedule;
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}

impl Payload {
    /// The payload for a scheduled tick.
    pub fn for_tick(
        job: &str,
        queue: &str,
        tick: DateTime<Utc>,
        enqueued_at: DateTime<Utc>,
        args: &serde_json::Value,
    ) -> Payload {
        Payload {
            id: tick_id(job, tick),
            job: job.to_owned(),
            queue: queue.to_owned(),
            scheduled_at: tick.trunc_subsecs(0),
            enqueued_at: enqueued_at.trunc_subsecs(3),
            attempt: 1,
            args: args.clone(),
            manual: false,
        }
    }

    /// The payload for a manual run (`clock trigger`) at `now`: its id,
    /// `<job>@manual-<now>`, cannot collide with a tick's.
    pub fn manual(job: &str, queue: &str, now: DateTime<Utc>, args: &serde_json::Value) -> Payload {
        Payload {
            id: format!("{job}@manual-{}", now.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            job: job.to_owned(),
            queue: queue.to_owned(),
            scheduled_at: now.trunc_subsecs(0),
            enqueued_at: now.trunc_subsecs(3),
            attempt: 1,
            args: args.clone(),
            manual: true,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload always serialises")
    }
}

/// The id of a job's tick: `nightly-report@2026-11-23T08:00:00Z`.
pub fn tick_id(job: &str, tick: DateTime<Utc>) -> String {
    let mut id = String::with_capacity(job.len() + 21);
    id.push_str(job);
    id.push('@');
    crate::text::push_utc(&mut id, tick, false);
    id
}

pub(crate) mod rfc3339_secs {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::text::utc(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod rfc3339_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::text::utc_millis(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        super::rfc3339_secs::deserialize(d)
    }
}
