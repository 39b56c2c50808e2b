//! The dashboard in a real headless Chromium (through chromedriver), against
//! the real `clock`, `worker` and `clock web` processes and a private
//! redis-server: what an operator sees and clicks. Screenshots land in
//! `target/tmp/screenshots/`, among them the docs' picture of the overview,
//! taken of the shipped `clock.toml`; `CAMPANILE_UPDATE_SCREENSHOT=1` copies
//! it over `docs/dashboard.png`.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::RedisServer;
use redis::Commands;
use webdriver::Browser;

const USER: &str = "ops";
const PASSWORD: &str = "correct horse";

/// A whole deployment: Redis, a clock, a worker and the dashboard.
struct Deployment {
    redis: RedisServer,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    web_port: u16,
}

impl Deployment {
    /// Runs `jobs` with a `[redis]` table naming the private redis-server.
    fn start(jobs: &str) -> Deployment {
        let redis = RedisServer::start();
        let config = format!("[redis]\nurl = \"{}\"\n\n{jobs}", redis.url());
        Deployment::start_with(redis, &config)
    }

    /// Runs `config` as it is; the processes find the private redis-server
    /// through `REDIS_URL`, as they would on Heroku.
    fn start_with(redis: RedisServer, config: &str) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("clock.toml"), config).expect("clock.toml written");
        let web_port = common::free_port();
        let mut deployment = Deployment { redis, dir, children: Vec::new(), web_port };
        deployment.spawn("clock", &["run"]);
        deployment.spawn("worker", &[]);
        deployment.spawn("clock", &["web", "--listen", &format!("127.0.0.1:{web_port}")]);
        let health = format!("http://127.0.0.1:{web_port}/healthz");
        common::wait_until("the dashboard answers", Duration::from_secs(20), || {
            ureq::get(&health).call().is_ok()
        });
        deployment
    }

    fn spawn(&mut self, bin: &str, args: &[&str]) {
        let child = Command::new(common::bin(bin))
            .args(args)
            .current_dir(self.dir.path())
            .env("CAMPANILE_WEB_USER", USER)
            .env("CAMPANILE_WEB_PASSWORD", PASSWORD)
            .env("CAMPANILE_LOG_FORMAT", "logfmt")
            .env("REDIS_URL", self.redis.url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} starts: {e}"));
        self.children.push(child);
    }

    /// A dashboard URL with the credentials in it, as a browser takes them.
    fn url(&self, path: &str) -> String {
        format!("http://{USER}:{}@127.0.0.1:{}{path}", PASSWORD.replace(' ', "%20"), self.web_port)
    }

    /// Runs `clock <args>` against the deployment, as an operator's shell
    /// would, and waits for it to succeed.
    fn clock(&self, args: &[&str]) {
        let status = Command::new(common::bin("clock"))
            .args(args)
            .current_dir(self.dir.path())
            .env("REDIS_URL", self.redis.url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("clock runs");
        assert!(status.success(), "clock {args:?}: {status}");
    }

    fn redis(&self) -> redis::Connection {
        self.redis.connection()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            common::stop(child);
        }
    }
}

/// Reloads `path` until the page's text contains `text`.
fn wait_for_text(browser: &Browser, deployment: &Deployment, path: &str, text: &str) {
    common::wait_until(&format!("{path} shows {text:?}"), Duration::from_secs(30), || {
        browser.goto(&deployment.url(path));
        browser.page_text().contains(text)
    });
}

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots").join(name)
}

const JOBS: &str = r#"
[jobs.heartbeat]
every = "1s"
command = "echo heartbeat"
description = "Proves the clock and a worker are talking."
retries = 0

[jobs.nightly-report]
cron = "0 3 * * *"
timezone = "America/New_York"
command = "echo 'report built: 42 rows'"
description = "Builds and mails the nightly report."

[jobs.poll-api]
every = "5m"
command = "echo polling"
queue = "polling"
"#;

#[test]
fn overview_shows_every_job_and_a_triggered_run_lands_in_history() {
    let deployment = Deployment::start(JOBS);
    let browser = Browser::start();

    // The heartbeat runs every second, so the overview soon shows a leader
    // and a successful last run.
    wait_for_text(&browser, &deployment, "/", "Leading clock");
    common::wait_until("heartbeat has a last run", Duration::from_secs(30), || {
        browser.goto(&deployment.url("/"));
        browser.find(r#"tr[data-job="heartbeat"]"#).text().contains("success")
    });
    assert_eq!(browser.title(), "Overview · campanile");
    for job in ["heartbeat", "nightly-report", "poll-api"] {
        browser.find(&format!(r#"tr[data-job="{job}"]"#));
    }
    let report = browser.find(r#"tr[data-job="nightly-report"]"#).text();
    assert!(report.contains("America/New_York"), "{report}");
    assert!(report.contains("at 03:00"), "schedule in words: {report}");
    browser.screenshot(&screenshot_path("dashboard-overview.png"));

    // The page script keeps countdowns current: point one at five seconds
    // from now and the browser counts it down.
    browser.script(
        "const el = document.querySelector('tr[data-job=\"nightly-report\"] .countdown');
         el.dataset.at = new Date(Date.now() + 5000).toISOString();",
    );
    common::wait_until("the countdown ticks in the browser", Duration::from_secs(5), || {
        let text = browser.find(r#"tr[data-job="nightly-report"] .countdown"#).text();
        text.len() == 5 && text.starts_with("in ") && text.ends_with('s')
    });
    let queues = browser.find("table.queues").text();
    assert!(queues.contains("default") && queues.contains("polling"), "{queues}");

    // Trigger the nightly report from its row; the worker runs it and the
    // job page shows the run and its output.
    browser.click_to_load(r#"tr[data-job="nightly-report"] button.trigger"#);
    assert!(
        browser.current_url().contains("/?done=triggered&of=nightly-report&sig="),
        "{}",
        browser.current_url()
    );
    assert!(browser.find(".notice").text().contains("Enqueued a run of nightly-report now."));
    wait_for_text(&browser, &deployment, "/jobs/nightly-report", "manual");
    let run = browser.find("table.history tbody tr");
    assert!(run.text().contains("success"), "{}", run.text());
    browser.find("table.history details summary").click();
    assert!(browser.find("table.history pre").text().contains("report built: 42 rows"));
    assert_eq!(browser.find_all(".chart rect").len(), 1, "one bar per run");
    assert_eq!(browser.find_all("ol.upcoming li").len(), 10);

    // The heartbeat's page charts its runs by now.
    browser.goto(&deployment.url("/jobs/heartbeat"));
    assert!(browser.find_all(".chart rect.bar-success").len() >= 2);
    browser.screenshot(&screenshot_path("dashboard-job.png"));
}

#[test]
fn pause_and_resume_from_the_browser() {
    let deployment = Deployment::start(JOBS);
    let browser = Browser::start();
    browser.goto(&deployment.url("/"));

    browser.click_to_load(r#"tr[data-job="poll-api"] button.pause"#);
    assert!(browser.find(".notice").text().contains("Paused poll-api"));
    assert!(browser.find(r#"tr[data-job="poll-api"]"#).text().contains("paused"));
    let paused: bool = deployment.redis().hexists("campanile:{polling}:paused", "poll-api").unwrap();
    assert!(paused, "the pause reached Redis");

    browser.click_to_load(r#"tr[data-job="poll-api"] button.resume"#);
    assert!(browser.find(".notice").text().contains("Resumed poll-api."));
    assert!(!browser.find(r#"tr[data-job="poll-api"]"#).text().contains("paused"));
    let paused: bool = deployment.redis().hexists("campanile:{polling}:paused", "poll-api").unwrap();
    assert!(!paused, "the resume reached Redis");

    // From the job page too; the page comes back to itself.
    browser.goto(&deployment.url("/jobs/heartbeat"));
    browser.click_to_load("div.actions button.pause");
    assert!(
        browser.current_url().contains("/jobs/heartbeat?done=paused&of=heartbeat"),
        "{}",
        browser.current_url()
    );
    assert!(browser.find("table.definition").text().contains("paused"));
}

#[test]
fn a_dead_letter_is_retried_from_the_browser() {
    let marker = tempfile::tempdir().expect("temp dir");
    let ready = marker.path().join("ready");
    let jobs = format!(
        "[jobs.import]\ncron = \"0 0 1 1 *\"\ncommand = \"test -f '{}'\"\nretries = 0\n",
        ready.display()
    );
    let deployment = Deployment::start(&jobs);
    let browser = Browser::start();

    // The first run fails (the file is missing) and, with no retries left,
    // becomes a dead letter.
    browser.goto(&deployment.url("/jobs/import"));
    browser.click_to_load("div.actions button.trigger");
    wait_for_text(&browser, &deployment, "/dead", "exit status 1");
    let row = browser.find("table.dead tbody tr");
    assert!(row.text().contains("import"), "{}", row.text());

    // Fix the cause, then retry: the run succeeds and the letter is gone.
    std::fs::write(&ready, b"").expect("marker written");
    browser.click_to_load("table.dead tbody tr button.retry");
    assert!(browser.find(".notice").text().contains("Put 1 dead letter back on the queue."));
    wait_for_text(&browser, &deployment, "/jobs/import", "success");
    browser.goto(&deployment.url("/dead"));
    assert!(browser.find(".empty").text().contains("No dead letters."));
    let dead: usize = deployment.redis().llen("campanile:{default}:dead").unwrap();
    assert_eq!(dead, 0);
}

/// README's picture of the overview is this test's screenshot of the shipped
/// `clock.toml`, so it shows what a user who starts the example sees.
#[test]
fn readme_screenshot_shows_the_shipped_example() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(manifest.join("clock.toml")).expect("the shipped clock.toml");
    let deployment = Deployment::start_with(RedisServer::start(), &shipped);
    let browser = Browser::start();

    // A run triggered from the dashboard and the heartbeat's first tick give
    // the overview last runs to show.
    wait_for_text(&browser, &deployment, "/", "Leading clock");
    browser.click_to_load(r#"tr[data-job="nightly-report"] button.trigger"#);
    common::wait_until("the example's runs land", Duration::from_secs(60), || {
        browser.goto(&deployment.url("/"));
        ["heartbeat", "nightly-report"]
            .iter()
            .all(|job| browser.find(&format!(r#"tr[data-job="{job}"]"#)).text().contains("success"))
    });
    let jobs = browser.find("table.jobs").text();
    assert!(jobs.contains(r#"every "10s""#) && jobs.contains("poll-api"), "{jobs}");
    let queues = browser.find("table.queues").text();
    assert!(!queues.contains("polling"), "the example has one queue: {queues}");
    // Saved beside the other screenshots; it replaces the picture in the
    // docs only when asked, so a test run leaves the checkout as it was.
    let shot = screenshot_path("docs-dashboard.png");
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real picture: {} bytes", png.len());
    if std::env::var_os("CAMPANILE_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, manifest.join("docs").join("dashboard.png")).unwrap();
    }
}

/// At a phone's width (390 px) and a laptop's (1366 px) no page is wider
/// than the window: wide tables scroll inside their own box, so the page
/// itself never scrolls sideways.
#[test]
fn every_page_fits_a_phone_and_a_laptop() {
    let jobs = format!(
        "{JOBS}\n[jobs.broken-export-of-the-quarterly-ledger]\ncron = \"0 0 1 1 *\"\n\
         command = \"echo 'HTTP 502 Bad Gateway from https://ledger.example.com/api/v2/export' >&2; exit 1\"\n\
         description = \"Exports the quarterly ledger to the accounting system, which is often down.\"\n\
         retries = 0\n\n\
         [[notify.webhooks]]\nurl = \"http://127.0.0.1:9/services/T0000000000/B0000000000/XXXXXXXXXXXXXXXXXXXXXXXX\"\n\
         events = [\"dead\", \"failed\"]\njobs = [\"broken-export-of-the-quarterly-ledger\", \"heartbeat\"]\n"
    );
    let deployment = Deployment::start(&jobs);
    let browser = Browser::start();
    let broken = "/jobs/broken-export-of-the-quarterly-ledger";

    // A run of each kind, so every page has rows to lay out: the heartbeat
    // succeeds, the export fails into a dead letter.
    browser.goto(&deployment.url(broken));
    browser.click_to_load("div.actions button.trigger");
    wait_for_text(&browser, &deployment, "/dead", "exit status 1");
    wait_for_text(&browser, &deployment, broken, "failed");
    wait_for_text(&browser, &deployment, "/jobs/heartbeat", "success");
    // The webhook's receiver is down: its deliveries fail after 3 attempts.
    wait_for_text(&browser, &deployment, "/alerts", "attempt(s)");

    let pages =
        [("overview", "/"), ("job", broken), ("dead", "/dead"), ("queues", "/queues"), ("alerts", "/alerts")];
    for (device, width, height) in [("phone", 390, 844), ("laptop", 1366, 900)] {
        browser.set_window_size(width, height);
        for (page, path) in pages {
            browser.goto(&deployment.url(path));
            let inner = browser.script("return window.innerWidth;").as_u64().unwrap();
            let scroll = browser.script("return document.documentElement.scrollWidth;").as_u64().unwrap();
            assert!(inner <= u64::from(width) && inner + 20 >= u64::from(width), "{device}: window {inner}");
            assert!(scroll <= inner, "{device}: {path} is {scroll} px wide in a {inner} px window");
            if page == "job" {
                // The chart shrinks with the page; its labels must not.
                let label = "const t = document.querySelector('.chart text.y-label'); \
                             return t ? t.getBoundingClientRect().height : 0;";
                let height = browser.script(label).as_f64().unwrap();
                assert!(height >= 9.0, "{device}: the chart's axis labels are {height} px tall");
                let chart = "return document.querySelector('.chart svg').getBoundingClientRect().right;";
                let right = browser.script(chart).as_f64().unwrap();
                assert!(
                    right <= inner as f64,
                    "{device}: the chart ends at {right} px in a {inner} px window"
                );
            }
            browser.screenshot(&screenshot_path(&format!("{page}-{device}.png")));
        }
    }
}

/// A job that fails every run sorts above the healthy ones (whatever its
/// name) and shows its streak; a paused job shows since when, and neither
/// a next run nor upcoming ticks.
#[test]
fn a_failing_job_sorts_first_and_a_paused_job_shows_no_next_run() {
    // No job is ever late (`start_within = "off"`): on a busy machine a late
    // tick of the heartbeat would put it in trouble too, ahead by name.
    let jobs = format!("{JOBS}\n[jobs.zz-always-fails]\nevery = \"1s\"\ncommand = \"exit 3\"\nretries = 0\n")
        .replace("\ncommand = ", "\nstart_within = \"off\"\ncommand = ");
    assert_eq!(jobs.matches("start_within").count(), 4, "{jobs}");
    let deployment = Deployment::start(&jobs);
    let browser = Browser::start();

    common::wait_until("the failing job shows a streak of 2 or more", Duration::from_secs(30), || {
        browser.goto(&deployment.url("/"));
        let Some(streak) = browser.find_all(r#"tr[data-job="zz-always-fails"] .streak"#).into_iter().next()
        else {
            return false;
        };
        let text = streak.text();
        let n: usize = text.split(' ').nth(1).unwrap_or("0").trim_end_matches('+').parse().unwrap();
        assert!(text.starts_with("failed ") && text.ends_with(" in a row"), "{text}");
        n >= 2
    });
    // The failing job first, then the healthy ones in clock.toml's order.
    let rows = browser.find_all("table.jobs tbody tr");
    let order: Vec<Option<String>> = rows.iter().map(|r| r.attribute("data-job")).collect();
    let names = ["zz-always-fails", "heartbeat", "nightly-report", "poll-api"];
    assert_eq!(order, names.map(|n| Some(n.to_owned())));
    assert_eq!(rows[0].attribute("class").as_deref(), Some("trouble"));
    assert!(rows[0].text().contains("no success in any of its"), "{}", rows[0].text());
    for healthy in &rows[1..] {
        assert_eq!(healthy.attribute("class"), None, "{}", healthy.text());
    }
    let summary = browser.find(".health-summary").text();
    assert!(summary.contains("1 job failing, worst zz-always-fails "), "{summary}");
    browser.screenshot(&screenshot_path("overview-trouble.png"));

    // Pause poll-api: its next run gives way to since when it is paused.
    let next = r#"tr[data-job="poll-api"] td:nth-child(4)"#;
    assert!(browser.find(next).text().contains("in "), "{}", browser.find(next).text());
    browser.click_to_load(r#"tr[data-job="poll-api"] button.pause"#);
    let text = browser.find(next).text();
    assert!(text.starts_with("paused since 20"), "{text}");
    assert!(browser.find_all(r#"tr[data-job="poll-api"] .countdown"#).is_empty(), "{text}");
    let summary = browser.find(".health-summary").text();
    assert!(summary.contains("1 paused job"), "{summary}");
    browser.goto(&deployment.url("/jobs/poll-api"));
    assert!(browser.find_all("ol.upcoming li").is_empty());
    assert!(browser.find(".paused-note").text().contains("None while it is paused"));
    assert!(browser.find("table.definition").text().contains("paused since 20"));
    assert!(browser.find_all(".countdown").is_empty());
    browser.screenshot(&screenshot_path("job-paused.png"));
}

/// An open page keeps itself current: a run recorded after it loaded shows
/// up without a reload, with a newer "as of"; when the dashboard's Redis or
/// the dashboard itself stops answering, the page says so.
#[test]
fn an_open_page_shows_new_runs_without_a_reload_and_says_when_it_cannot() {
    let mut deployment = Deployment::start(JOBS);
    let browser = Browser::start();
    let loaded = "return window.__sameDocument === true;";
    let as_of = |browser: &Browser| {
        let time = browser.script("return document.querySelector('.as-of time').getAttribute('datetime');");
        time.as_str().expect("an as-of time").to_owned()
    };

    browser.goto(&deployment.url("/"));
    browser.script("window.__sameDocument = true;");
    let report = r#"tr[data-job="nightly-report"]"#;
    assert!(
        !browser.text_of(report).unwrap_or_default().contains("success"),
        "{}",
        browser.find(report).text()
    );
    let first = as_of(&browser);
    deployment.clock(&["trigger", "nightly-report"]);
    common::wait_until("the overview shows the new run", Duration::from_secs(30), || {
        browser.text_of(report).unwrap_or_default().contains("success")
    });
    assert_eq!(browser.script(loaded), serde_json::Value::Bool(true), "the page was not reloaded");
    let newer = as_of(&browser);
    assert!(newer > first, "as of {newer}, was {first}");

    // The job page too: a second run joins the history under the eyes.
    browser.goto(&deployment.url("/jobs/nightly-report"));
    browser.script("window.__sameDocument = true;");
    // Each manual run shows twice: its push (a tick row) and the run.
    assert_eq!(browser.count("table.history tbody tr.run"), 1);
    deployment.clock(&["trigger", "nightly-report"]);
    common::wait_until("the job page shows the second run", Duration::from_secs(30), || {
        browser.count("table.history tbody tr.run") == 2
    });
    assert_eq!(browser.count("table.history tbody tr.tick"), 2, "both pushes, as manual ticks");
    assert_eq!(browser.script(loaded), serde_json::Value::Bool(true), "the page was not reloaded");
    assert_eq!(browser.text_of(".connection").as_deref(), Some(""), "no alert while all answers");

    // Redis goes away: the page keeps what it showed and says why.
    deployment.redis.kill();
    common::wait_until("the page says Redis is unreachable", Duration::from_secs(30), || {
        browser.text_of(".connection").unwrap_or_default().contains("Redis cannot be reached.")
    });
    assert_eq!(browser.count("table.history tbody tr.run"), 2, "the last rendering stays");
    browser.screenshot(&screenshot_path("job-redis-lost.png"));

    // So does the dashboard itself.
    common::stop(deployment.children.pop().expect("clock web"));
    common::wait_until("the page says the server is unreachable", Duration::from_secs(30), || {
        browser.text_of(".connection").unwrap_or_default().contains("The dashboard server cannot be reached.")
    });
    assert_eq!(browser.script(loaded), serde_json::Value::Bool(true), "the page was not reloaded");
}

/// Dead letters read newest first across queues, a page at a time, one job
/// at a time if asked; "delete" of the letters listed deletes exactly
/// those, after a confirmation, while new ones keep arriving.
#[test]
fn dead_letters_paginate_filter_and_delete_exactly_what_was_listed() {
    let jobs = "[jobs.flaky]\nevery = \"1s\"\ncommand = \"exit 1\"\nretries = 0\n\n\
                [jobs.other]\nevery = \"1s\"\ncommand = \"exit 2\"\nretries = 0\nqueue = \"polling\"\n";
    let mut deployment = Deployment::start(jobs);
    let browser = Browser::start();
    let dead = |d: &Deployment, queue: &str| -> usize {
        d.redis().llen(format!("campanile:{{{queue}}}:dead")).unwrap()
    };
    common::wait_until("letters of both jobs", Duration::from_secs(30), || {
        dead(&deployment, "default") >= 4 && dead(&deployment, "polling") >= 4
    });
    // The worker writes the letters: with it stopped the list holds still
    // while the pages are compared.
    common::stop(deployment.children.remove(1));

    let ids = |browser: &Browser| -> Vec<String> {
        browser.find_all("table.dead tbody tr").iter().map(|r| r.attribute("data-dead").unwrap()).collect()
    };
    let failed_at = |browser: &Browser| -> Vec<String> {
        let cells = browser.find_all("table.dead tbody tr td:first-child time");
        cells.iter().map(|t| t.attribute("datetime").unwrap()).collect()
    };
    browser.goto(&deployment.url("/dead?per=3"));
    let first = ids(&browser);
    assert_eq!(first.len(), 3);
    let times = failed_at(&browser);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert!(browser.find("p.count").text().starts_with("Showing 1–3 of "));
    browser.click_to_load("a[rel=next]");
    let second = ids(&browser);
    assert_eq!(second.len(), 3);
    assert!(second.iter().all(|id| !first.contains(id)), "{first:?} {second:?}");
    assert!(failed_at(&browser)[0] <= times[2], "page 2 is older");

    // Across queues: both jobs' letters are in one listing, newest first.
    browser.goto(&deployment.url("/dead?per=200"));
    let all = browser.find("table.dead").text();
    assert!(all.contains("polling") && all.contains("default"), "{all}");
    let times = failed_at(&browser);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first across queues: {times:?}");

    // One job's letters; its name links to its page.
    browser.goto(&deployment.url("/dead?job=other&per=3"));
    for row in browser.find_all("table.dead tbody tr td:nth-child(3) a") {
        assert_eq!(row.text(), "other");
        assert!(row.attribute("href").unwrap().ends_with("/jobs/other"));
    }
    browser.set_window_size(390, 844);
    browser.screenshot(&screenshot_path("dead-paged-phone.png"));
    browser.set_window_size(1366, 900);

    // Delete the three listed while more fail every second.
    deployment.spawn("worker", &[]);
    browser.goto(&deployment.url("/dead?job=flaky&per=3"));
    let listed = ids(&browser);
    let question = browser.click_confirm_to_load("form[data-confirm] button.delete");
    assert_eq!(question, "Delete the 3 dead letters listed? This cannot be undone.");
    assert!(browser.find(".notice").text().contains("Deleted 3 dead letters."));
    browser.goto(&deployment.url("/dead?job=flaky&per=200"));
    let left = ids(&browser);
    assert!(listed.iter().all(|id| !left.contains(id)), "{listed:?} are gone: {left:?}");
    common::wait_until("a newer letter of flaky stays", Duration::from_secs(30), || {
        browser.goto(&deployment.url("/dead?job=flaky&per=200"));
        !ids(&browser).is_empty()
    });
    browser.screenshot(&screenshot_path("dead-paged.png"));
}
