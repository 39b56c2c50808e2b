//! `clock next`: the upcoming ticks of an expression, an interval, or jobs.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::Args;

use crate::cron::Cron;
use crate::duration::Span;
use crate::schedule::Schedule;
use crate::text;
use crate::time::TimeSource;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").args(["cron", "every", "job"]))]
pub struct NextArgs {
    /// A cron expression (5 fields, 6 with seconds, or a macro like @daily).
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// An interval such as 5m or 1h30m, anchored on the Unix epoch.
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    pub every: Option<Span>,
    /// With --every: shift the ticks by this much.
    #[arg(long, value_name = "DURATION", value_parser = Span::parse, requires = "every")]
    pub offset: Option<Span>,
    /// A job from the config; without --cron, --every or --job, every job.
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// IANA zone for --cron, and for showing local times.
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = parse_zone)]
    pub tz: Tz,
    /// List ticks strictly after this instant (RFC 3339, any offset) instead of now.
    #[arg(long, value_name = "INSTANT", value_parser = super::parse_instant)]
    pub after: Option<DateTime<Utc>>,
    /// How many ticks to list.
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Print JSON: an array of UTC instants (an object of arrays per job for
    /// the whole config).
    #[arg(long)]
    pub json: bool,
}

fn parse_zone(s: &str) -> Result<Tz, super::Error> {
    s.parse::<Tz>().map_err(|_| super::Error::Zone(s.to_owned()))
}

pub(super) fn run(path: &Path, args: &NextArgs, time: &dyn TimeSource) -> ExitCode {
    let after = args.after.unwrap_or_else(|| time.now());
    let single = match (&args.cron, args.every) {
        (Some(expr), _) => match Cron::parse(expr) {
            Ok(cron) => Some(Schedule::Cron { cron, tz: args.tz }),
            Err(e) => {
                eprintln!("error: cron {expr:?}: {e}");
                return ExitCode::from(super::EXIT_INVALID);
            }
        },
        (None, Some(period)) if period == Span::ZERO => {
            eprintln!("error: --every must be longer than 0s");
            return ExitCode::from(super::EXIT_INVALID);
        }
        (None, Some(period)) if args.offset.is_some_and(|o| o >= period) => {
            let offset = args.offset.unwrap_or(Span::ZERO);
            eprintln!("error: --offset: offset {offset} must be shorter than the interval {period}");
            return ExitCode::from(super::EXIT_INVALID);
        }
        (None, Some(period)) => Some(Schedule::Every { period, offset: args.offset.unwrap_or(Span::ZERO) }),
        (None, None) => None,
    };
    if let Some(schedule) = single {
        print_ticks(&schedule, args.tz, after, args.count, args.json);
        return ExitCode::SUCCESS;
    }
    let config = match super::load_config(path, after) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let jobs: Vec<_> = match &args.job {
        Some(name) => match config.job(name) {
            Some(job) => vec![job],
            None => {
                eprintln!("error: {}: no job named {name:?}", config.path.display());
                return ExitCode::from(super::EXIT_INVALID);
            }
        },
        None => config.jobs.iter().collect(),
    };
    if args.job.is_some() {
        print_ticks(&jobs[0].schedule, jobs[0].timezone, after, args.count, args.json);
    } else if args.json {
        let map: serde_json::Map<String, serde_json::Value> = jobs
            .iter()
            .map(|job| (job.name.to_string(), ticks_json(&job.schedule, after, args.count)))
            .collect();
        println!("{}", serde_json::Value::Object(map));
    } else {
        for job in jobs {
            println!("{}  {}  {}", job.name, job.schedule, job.timezone.name());
            for t in job.schedule.ticks(after, DateTime::<Utc>::MAX_UTC).take(args.count as usize) {
                println!("  {}  {}", text::utc(t), text::local(t, job.timezone));
            }
        }
    }
    ExitCode::SUCCESS
}

fn ticks_json(schedule: &Schedule, after: DateTime<Utc>, count: u32) -> serde_json::Value {
    schedule.ticks(after, DateTime::<Utc>::MAX_UTC).take(count as usize).map(text::utc).collect()
}

fn print_ticks(schedule: &Schedule, tz: Tz, after: DateTime<Utc>, count: u32, json: bool) {
    if json {
        println!("{}", ticks_json(schedule, after, count));
        return;
    }
    for t in schedule.ticks(after, DateTime::<Utc>::MAX_UTC).take(count as usize) {
        println!("{}  {}", text::utc(t), text::local(t, tz));
    }
}
