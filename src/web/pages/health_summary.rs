//! The overview's first line: what is wrong, counted, so an operator sees at
//! a glance whether to read on. Counted from what the overview already holds
//! (the status view and each job's trouble), so it adds no read of Redis.

use std::collections::HashMap;

use maud::{Markup, html};
use serde_json::Value;

use super::super::trouble::Trouble;
use super::url_segment;
use crate::text::cell;

/// The counts behind the summary.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    jobs: usize,
    /// Jobs whose newest runs failed, and the one with the longest streak
    /// (the first of clock.toml's order among equals) with that streak.
    failing: usize,
    worst: Option<(String, usize, bool)>,
    /// Late ticks, listed or only counted.
    late: u64,
    unserved: usize,
    no_leader: bool,
    dead_letters: u64,
    paused: usize,
}

impl Counts {
    fn of(status: &Value, troubles: &HashMap<String, Trouble>) -> Counts {
        let jobs = status["jobs"].as_array().map(Vec::as_slice).unwrap_or_default();
        let problems = status["problems"].as_array().map(Vec::as_slice).unwrap_or_default();
        let kind = |k: &'static str| problems.iter().filter(move |p| p["kind"] == k);
        let mut counts = Counts {
            jobs: jobs.len(),
            late: kind("late").count() as u64
                + kind("late_unlisted").filter_map(|p| p["count"].as_u64()).sum::<u64>(),
            unserved: kind("unserved").count(),
            no_leader: kind("no_leader").next().is_some(),
            dead_letters: status["queues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|q| q["dead"].as_u64())
                .sum(),
            paused: jobs.iter().filter(|j| j["paused"] == true).count(),
            ..Counts::default()
        };
        for job in jobs {
            let name = cell(&job["name"]);
            let Some(trouble) = troubles.get(&name).filter(|t| t.streak > 0) else { continue };
            counts.failing += 1;
            if counts.worst.as_ref().is_none_or(|(_, streak, _)| trouble.streak > *streak) {
                counts.worst = Some((name, trouble.streak, trouble.streak_may_be_longer()));
            }
        }
        counts
    }

    fn healthy(&self) -> bool {
        *self == Counts { jobs: self.jobs, ..Counts::default() }
    }
}

/// One row of counts, each a badge (a link where a page lists them), or
/// `All N jobs healthy`; nothing for a config without jobs and no problem.
pub(super) fn health_summary(status: &Value, troubles: &HashMap<String, Trouble>) -> Markup {
    let c = Counts::of(status, troubles);
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    html! {
        @if c.healthy() {
            @if c.jobs > 0 {
                p class="health-summary" data-healthy="" {
                    span class="badge badge-healthy" { "All " (plural(c.jobs as u64, "job", "jobs")) " healthy" }
                }
                "\n"
            }
        } @else {
            p class="health-summary" {
                @if c.no_leader { span class="badge badge-no-leader" { "no leading clock" } " " }
                @if let Some((name, streak, more)) = &c.worst {
                    a class="badge badge-failing" href={ "/jobs/" (url_segment(name)) } {
                        (plural(c.failing as u64, "job", "jobs")) " failing, worst "
                        (name) " " (streak) @if *more { "+" } " in a row"
                    }
                    " "
                }
                @if c.late > 0 { span class="badge badge-late-ticks" { (plural(c.late, "late tick", "late ticks")) } " " }
                @if c.unserved > 0 {
                    a class="badge badge-unserved" href="/queues" {
                        (plural(c.unserved as u64, "unserved queue", "unserved queues"))
                    }
                    " "
                }
                @if c.dead_letters > 0 {
                    a class="badge badge-dead-letters" href="/dead" {
                        (plural(c.dead_letters, "dead letter", "dead letters"))
                    }
                    " "
                }
                @if c.paused > 0 {
                    span class="badge badge-paused-jobs" { (plural(c.paused as u64, "paused job", "paused jobs")) }
                }
            }
            "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(jobs: Value, queues: Value, problems: Value) -> Value {
        json!({ "jobs": jobs, "queues": queues, "problems": problems })
    }

    fn two_jobs() -> Value {
        json!([{ "name": "report", "paused": false }, { "name": "export", "paused": false }])
    }

    fn render(status: &Value, troubles: &HashMap<String, Trouble>) -> String {
        health_summary(status, troubles).into_string()
    }

    #[test]
    fn a_deployment_without_trouble_says_all_its_jobs_are_healthy() {
        let ok = Trouble { runs_read: 3, last_success: None, ..Trouble::default() };
        let troubles = HashMap::from([("report".to_owned(), ok)]);
        let page =
            render(&status(two_jobs(), json!([{ "name": "default", "dead": 0 }]), json!([])), &troubles);
        assert_eq!(
            page,
            r#"<p class="health-summary" data-healthy=""><span class="badge badge-healthy">All 2 jobs healthy</span></p>"#
                .to_owned()
                + "\n"
        );
        assert_eq!(render(&status(json!([]), json!([]), json!([])), &HashMap::new()), "");
    }

    #[test]
    fn each_kind_of_trouble_is_counted_and_links_where_a_page_lists_it() {
        let failing = |streak, runs_read| Trouble { streak, runs_read, ..Trouble::default() };
        let troubles = HashMap::from([
            ("report".to_owned(), failing(3, 20)),
            ("export".to_owned(), failing(20, 20)),
            ("<b>".to_owned(), failing(20, 20)),
        ]);
        let jobs = json!([
            { "name": "report", "paused": true },
            { "name": "export", "paused": false },
            { "name": "<b>", "paused": true },
        ]);
        let problems = json!([
            { "kind": "no_leader" },
            { "kind": "unserved", "queue": "default" },
            { "kind": "late", "job": "report" },
            { "kind": "late", "job": "report" },
            { "kind": "late_unlisted", "queue": "default", "count": 9 },
        ]);
        let queues = json!([{ "name": "default", "dead": 4 }, { "name": "fast", "dead": 1 }]);
        let page = render(&status(jobs, queues, problems), &troubles);
        for shown in [
            r#"<span class="badge badge-no-leader">no leading clock</span>"#,
            // The longest streak, the first in clock.toml's order among equals.
            r#"<a class="badge badge-failing" href="/jobs/export">3 jobs failing, worst export 20+ in a row</a>"#,
            r#"<span class="badge badge-late-ticks">11 late ticks</span>"#,
            r#"<a class="badge badge-unserved" href="/queues">1 unserved queue</a>"#,
            r#"<a class="badge badge-dead-letters" href="/dead">5 dead letters</a>"#,
            r#"<span class="badge badge-paused-jobs">2 paused jobs</span>"#,
        ] {
            assert!(page.contains(shown), "{shown} in {page}");
        }
        assert!(!page.contains("healthy"), "{page}");

        // One kind alone is enough to lose the healthy state.
        let one = |jobs: Value, queues: Value, troubles: &HashMap<String, Trouble>| {
            render(&status(jobs, queues, json!([])), troubles)
        };
        let paused = one(json!([{ "name": "report", "paused": true }]), json!([]), &HashMap::new());
        assert!(paused.contains(">1 paused job<") && !paused.contains("healthy"), "{paused}");
        let dead = one(two_jobs(), json!([{ "name": "default", "dead": 1 }]), &HashMap::new());
        assert!(dead.contains(r#"href="/dead">1 dead letter<"#) && !dead.contains("healthy"), "{dead}");
        let streak = HashMap::from([("report".to_owned(), failing(1, 5))]);
        let failing = one(two_jobs(), json!([]), &streak);
        assert!(failing.contains(">1 job failing, worst report 1 in a row<"), "{failing}");
    }

    /// Every badge of the summary has its own rule in the stylesheet, so
    /// the contrast test of `.badge…` rules (`html::tests`) covers it.
    #[test]
    fn every_summary_badge_has_a_coloured_rule() {
        let css = include_str!("../assets/app.css");
        for class in
            ["healthy", "no-leader", "failing", "late-ticks", "unserved", "dead-letters", "paused-jobs"]
        {
            let rule =
                css.lines().find(|l| l.starts_with(".badge") && l.contains(&format!(".badge-{class}")));
            let rule = rule.unwrap_or_else(|| panic!(".badge-{class} has no rule"));
            assert!(rule.contains("background: var(--ok)") || !class.contains("healthy"), "{rule}");
            assert!(rule.contains("background: var("), "{rule}");
        }
    }
}
