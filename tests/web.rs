//! `clock web` over HTTP: the real binary against a private redis-server,
//! driven with `ureq` (no redirects followed, every status returned).
//! Authentication, refusing to start open, security headers, CSRF and
//! origin checks, actions, escaping, dead letters, the JSON API's shapes
//! and a Redis outage.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{RedisServer, bin, free_port, wait_until};
use serde_json::{Value, json};

const PENDING: &str = "campanile:{default}:pending";
const DEAD: &str = "campanile:{default}:dead";
const USER: &str = "ops";
const PASSWORD: &str = "s3cret:pw";
const READY: Duration = Duration::from_secs(20);

/// Form fields, headers or environment variables.
type Pairs<'a> = &'a [(&'a str, &'a str)];

// ---------------------------------------------------------------------------
// Harness

/// A private Redis and a clock.toml pointing at it.
struct Env {
    redis: RedisServer,
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn env(jobs: &str) -> Env {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(&config, format!("[redis]\nurl = \"{}\"\n\n{jobs}", redis.url())).unwrap();
    Env { redis, dir, config }
}

impl Env {
    /// `program --config <clock.toml> args`, with none of the variables the
    /// tests set inherited from the environment.
    fn command(&self, program: &str, args: &[&str], vars: Pairs) -> Command {
        let mut cmd = Command::new(bin(program));
        cmd.arg("--config").arg(&self.config).args(args).current_dir(self.dir.path());
        let inherited = "CAMPANILE_WEB_USER CAMPANILE_WEB_PASSWORD CAMPANILE_WEB_LISTEN CAMPANILE_WEB_NO_AUTH CAMPANILE_WEB_SECRET CAMPANILE_WEB_ALLOWED_HOSTS \
                         CAMPANILE_CONFIG CAMPANILE_METRICS_ADDR PORT REDIS_URL";
        for var in inherited.split_whitespace() {
            cmd.env_remove(var);
        }
        cmd.envs(vars.iter().copied()).stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    fn spawn(&self, program: &str, args: &[&str], vars: Pairs, label: &str) -> Proc {
        let log = self.dir.path().join(format!("{label}.log"));
        let child = self
            .command(program, args, vars)
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        Proc { child, log }
    }

    /// `clock web` on 127.0.0.1, open or with basic auth, ready.
    fn web(&self, auth: bool) -> Web {
        let listen = format!("127.0.0.1:{}", free_port());
        let vars = [("CAMPANILE_WEB_USER", USER), ("CAMPANILE_WEB_PASSWORD", PASSWORD)];
        let (vars, creds) = if auth { (&vars[..], Some((USER, PASSWORD))) } else { (&[][..], None) };
        self.web_with(&["--listen", &listen], vars, creds, &listen)
    }

    /// `clock web args` reached at `addr`, once `/healthz` answers.
    fn web_with(&self, args: &[&str], vars: Pairs, auth: Option<(&str, &str)>, addr: &str) -> Web {
        let args: Vec<&str> = ["web"].iter().chain(args).copied().collect();
        let proc = self.spawn("clock", &args, vars, "web");
        let auth = auth.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let mut web = Web { proc, base: format!("http://{addr}"), agent: agent(), auth, csrf: String::new() };
        wait_until("the dashboard to answer /healthz", READY, || {
            assert!(web.proc.running(), "clock web exited: {}", web.proc.log());
            web.agent.get(web.url("/healthz")).call().is_ok_and(|r| r.status() == 200)
        });
        // The CSRF token of the overview's forms. `/healthz` answers before
        // the dashboard has reached Redis, which the overview needs.
        let mut page = web.get("/");
        wait_until("the overview to reach Redis", READY, || {
            page = web.get("/");
            page.status == 200
        });
        let (_, rest) = page.body.split_once(r#"name="csrf" value=""#).expect("a form with a csrf token");
        web.csrf = rest[..rest.find('"').unwrap()].to_owned();
        web
    }

    /// `clock web args` expected to exit at once: its exit code and stderr.
    fn web_exit(&self, args: &[&str], vars: Pairs) -> (Option<i32>, String) {
        let args: Vec<&str> = ["web"].iter().chain(args).copied().collect();
        let mut proc = self.spawn("clock", &args, vars, "web-exit");
        wait_until(&format!("clock {args:?} to exit"), Duration::from_secs(10), || !proc.running());
        (proc.child.wait().unwrap().code(), proc.log())
    }

    fn worker(&self) -> Proc {
        self.spawn("worker", &["--concurrency", "1"], &[], "worker")
    }

    fn clock_json(&self, args: &[&str]) -> Value {
        let out = self.command("clock", args, &[]).stdout(Stdio::piped()).output().unwrap();
        assert!(out.status.success(), "clock {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn lrange(&self, key: &str) -> Vec<String> {
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut self.redis.connection()).unwrap()
    }

    fn lpush(&self, key: &str, value: &str) {
        let _: () = redis::cmd("LPUSH").arg(key).arg(value).query(&mut self.redis.connection()).unwrap();
    }
}

/// A child process with its stderr in a file: SIGTERMed when dropped, and
/// SIGKILLed if it does not exit within 10 s, so no test leaves one behind.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.running() {
            return; // reaped: its pid may be another process's by now
        }
        let _ = common::send_signal(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// A running dashboard; requests carry its credentials unless told otherwise.
struct Web {
    proc: Proc,
    base: String,
    agent: ureq::Agent,
    auth: Option<(String, String)>,
    csrf: String,
}

/// A response, read whole.
struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// Where an action redirects, without the notice's signature (`&sig=`,
    /// which it must carry).
    fn redirect(&self) -> &str {
        let location = self.header("location");
        location.split_once("&sig=").unwrap_or_else(|| panic!("a signed notice: {location:?}")).0
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `req` with basic auth as `auth` and `headers`.
fn with<B>(
    mut req: ureq::RequestBuilder<B>,
    auth: Option<(&str, &str)>,
    h: Pairs,
) -> ureq::RequestBuilder<B> {
    if let Some((user, password)) = auth {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req = req.header("authorization", format!("Basic {basic}"));
    }
    h.iter().fold(req, |req, (k, v)| req.header(*k, *v))
}

impl Web {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn creds(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// GET with explicit credentials (`None`: none) and headers.
    fn get_as(&self, path: &str, auth: Option<(&str, &str)>, headers: Pairs) -> Resp {
        read(with(self.agent.get(self.url(path)), auth, headers).call())
    }

    fn get(&self, path: &str) -> Resp {
        self.get_as(path, self.creds(), &[])
    }

    /// POST a form, with the credentials and `headers`.
    fn post(&self, path: &str, form: Pairs, headers: Pairs) -> Resp {
        read(with(self.agent.post(self.url(path)), self.creds(), headers).send_form(form.iter().copied()))
    }

    /// POST a form as the dashboard's own pages do: with the CSRF token.
    fn act(&self, path: &str, form: Pairs) -> Resp {
        let form: Vec<_> = [("csrf", self.csrf.as_str())].into_iter().chain(form.iter().copied()).collect();
        self.post(path, &form, &[])
    }
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut resp = result.expect("an HTTP response");
    let body = resp.body_mut().read_to_string().unwrap();
    Resp { status: resp.status().as_u16(), headers: resp.headers().clone(), body }
}

/// A history entry as the worker writes it.
fn history_entry(job: &str, id: &str, finished: &str) -> String {
    json!({
        "id": id, "job": job, "queue": "default", "scheduled_at": "2026-11-23T08:00:00Z",
        "started_at": "2026-11-23T08:00:00.000Z", "finished_at": finished, "duration_ms": 1500,
        "attempt": 1, "outcome": "success", "exit_code": 0, "signal": null, "output": "ok\n",
        "worker": "w:1:a", "retry": false, "manual": false
    })
    .to_string()
}

/// A minutely job with two runs in its history.
fn minutely_with_two_runs() -> Env {
    let env = env("[jobs.minutely]\ncron = \"* * * * *\"\ncommand = \"echo hi\"\n");
    let key = "campanile:{default}:history:minutely";
    env.lpush(key, &history_entry("minutely", "minutely@1", "2026-11-23T08:00:01Z"));
    env.lpush(key, &history_entry("minutely", "minutely@2", "2026-11-23T08:01:01Z"));
    env
}

const REPORT: &str = "[jobs.report]\ncron = \"0 3 * * *\"\ncommand = \"echo report\"\n";

// ---------------------------------------------------------------------------
// Authentication and start-up

#[test]
fn every_page_but_health_and_assets_needs_the_credentials() {
    let env = env(REPORT);
    let web = env.web(true);
    for path in [
        "/",
        "/api/jobs",
        "/jobs/report",
        "/jobs/nope",
        "/dead",
        "/api/status",
        "/api/dead",
        "/alerts",
        "/api/alerts",
    ] {
        for auth in [None, Some((USER, "wrong")), Some(("other", PASSWORD))] {
            let r = web.get_as(path, auth, &[]);
            assert_eq!(r.status, 401, "{path} with {auth:?}");
            assert!(r.header("www-authenticate").starts_with(r#"Basic realm="campanile""#), "{path}");
        }
    }
    for path in
        ["/", "/api/jobs", "/jobs/report", "/dead", "/api/status", "/api/dead", "/alerts", "/api/alerts"]
    {
        assert_eq!(web.get(path).status, 200, "{path} with the credentials");
    }
    let post = web.agent.post(web.url("/jobs/report/trigger")).send_form([("back", "/")]);
    assert_eq!(read(post).status, 401);
    assert!(env.lrange(PENDING).is_empty());
    assert_eq!(web.get_as("/healthz", None, &[]).status, 200);
    let css = web.get_as("/assets/app.css", None, &[]);
    assert_eq!((css.status, css.header("content-type")), (200, "text/css; charset=utf-8"));
    assert_eq!(web.get_as("/assets/app.js", None, &[]).status, 200);
}

#[test]
fn refuses_to_serve_open_off_loopback() {
    let env = env(REPORT);
    let public = format!("0.0.0.0:{}", free_port());
    let (code, stderr) = env.web_exit(&["--listen", &public], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("refusing"), "{stderr}");

    let (code, stderr) = env.web_exit(&["--listen", &public], &[("CAMPANILE_WEB_USER", USER)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("CAMPANILE_WEB_PASSWORD"), "{stderr}");

    let port = public.rsplit(':').next().unwrap();
    let local = format!("127.0.0.1:{port}");
    let web = env.web_with(&["--listen", &public, "--no-auth"], &[], None, &local);
    assert_eq!(web.get("/").status, 200, "--no-auth serves without credentials");
    drop(web);

    let web = env.web_with(&["--listen", &local], &[], None, &local);
    assert_eq!(web.get("/api/jobs").status, 200, "loopback serves without credentials");
}

#[test]
fn listens_on_all_interfaces_at_port_env() {
    let env = env(REPORT);
    let port = free_port().to_string();
    let vars = [("PORT", port.as_str()), ("CAMPANILE_WEB_USER", USER), ("CAMPANILE_WEB_PASSWORD", PASSWORD)];
    let web = env.web_with(&[], &vars, Some((USER, PASSWORD)), &format!("127.0.0.1:{port}"));
    assert_eq!(web.get("/").status, 200);
    assert_eq!(web.get_as("/", None, &[]).status, 401);
    assert!(web.proc.log().contains(&format!("0.0.0.0:{port}")), "{}", web.proc.log());
}

#[test]
fn pages_carry_security_headers() {
    let env = env(REPORT);
    let web = env.web(false);
    let page = web.get("/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    let csp = page.header("content-security-policy");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "same-origin");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page.headers.get("strict-transport-security").is_none());
    let https = web.get_as("/", None, &[("x-forwarded-proto", "https")]);
    assert!(https.header("strict-transport-security").starts_with("max-age="));
}

// ---------------------------------------------------------------------------
// Actions

#[test]
fn trigger_needs_the_csrf_token_and_the_same_origin() {
    let env = env(REPORT);
    let web = env.web(false);
    let csrf = web.csrf.as_str();
    let (issued, tag) = csrf.split_once('.').expect("<issued_at>.<tag>");
    assert!(issued.parse::<i64>().is_ok() && tag.len() == 64, "{csrf}");

    let r = web.act("/jobs/report/trigger", &[("back", "/")]);
    assert_eq!((r.status, r.redirect()), (303, "/?done=triggered&of=report"));
    let pending = env.lrange(PENDING);
    assert_eq!(pending.len(), 1);
    let payload: Value = serde_json::from_str(&pending[0]).unwrap();
    assert_eq!((&payload["job"], &payload["manual"]), (&json!("report"), &json!(true)));
    assert!(payload["id"].as_str().unwrap().starts_with("report@manual-"), "{payload}");

    let origin = web.base.clone();
    let refused: [(Pairs, Pairs); 5] = [
        (&[("back", "/")], &[]),
        (&[("csrf", "0000"), ("back", "/")], &[]),
        (&[("csrf", csrf)], &[("origin", "http://evil.example")]),
        (&[("csrf", csrf)], &[("origin", "null")]),
        (&[("csrf", csrf)], &[("sec-fetch-site", "cross-site")]),
    ];
    for (form, headers) in refused {
        let r = web.post("/jobs/report/trigger", form, headers);
        assert_eq!(r.status, 403, "{form:?} {headers:?}");
    }
    assert_eq!(env.lrange(PENDING).len(), 1, "a refused request pushes nothing");

    let same_site = [("origin", origin.as_str()), ("sec-fetch-site", "same-origin")];
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", csrf)], &same_site).status, 303);
    assert_eq!(web.act("/jobs/nope/trigger", &[]).status, 404);
    assert_eq!(web.act("/jobs/report/explode", &[]).status, 404);
    assert_eq!(env.lrange(PENDING).len(), 2);
}

#[test]
fn actions_redirect_only_to_paths_on_this_site() {
    let env = env(REPORT);
    let web = env.web(false);
    let cases = [
        ("/jobs/report", "/jobs/report?done=triggered&of=report"),
        ("/dead?queue=default", "/dead?queue=default&done=triggered&of=report"),
        ("//evil.example/", "/?done=triggered&of=report"),
        ("/\\evil.example/", "/?done=triggered&of=report"),
        ("https://evil.example/", "/?done=triggered&of=report"),
        // Browsers drop tabs and newlines from a URL: "/\t/x" is "//x".
        ("/\t/evil.example/", "/?done=triggered&of=report"),
        // Not a valid header value: no 500 after the job was triggered.
        ("/jobs\u{1}", "/?done=triggered&of=report"),
    ];
    for (back, location) in cases {
        let r = web.act("/jobs/report/trigger", &[("back", back)]);
        assert_eq!((r.status, r.redirect()), (303, location), "back={back:?}");
    }
}

#[test]
fn pause_and_resume_from_the_dashboard() {
    let env = env(REPORT);
    let web = env.web(false);
    let act = |action: &str| {
        let r = web.act(&format!("/jobs/report/{action}"), &[("back", "/")]);
        assert_eq!(r.status, 303, "{action}: {}", r.body);
        r
    };
    let paused = act("pause");
    assert_eq!(paused.redirect(), "/?done=paused&of=report");
    let keys: Vec<String> =
        redis::cmd("HKEYS").arg("campanile:{default}:paused").query(&mut env.redis.connection()).unwrap();
    assert_eq!(keys, ["report"]);
    let jobs = web.get("/api/jobs").json();
    assert_eq!(jobs[0]["paused"], true);
    assert!(jobs[0]["paused_since"].is_string(), "{jobs}");
    let overview = web.get(paused.header("location")).body;
    assert!(overview.contains("badge-paused"), "{overview}");
    assert!(overview.contains(r#"action="/jobs/report/resume""#), "{overview}");
    assert!(overview.contains("Paused report: its ticks are skipped"), "the action's notice names the job");
    // The notice comes from the action, not from whoever wrote the link.
    let crafted = web.get("/?done=paused&of=report").body;
    assert!(!crafted.contains("its ticks are skipped"), "no notice without the action's signature");
    let renamed = web.get(&paused.header("location").replace("of=report", "of=other")).body;
    assert!(!renamed.contains("its ticks are skipped"), "a signature covers its own job only");
    let unchanged = act("pause");
    assert_eq!(unchanged.redirect(), "/?done=unchanged&of=report");
    let swapped = web.get(&unchanged.header("location").replace("unchanged", "resumed")).body;
    assert!(!swapped.contains("Resumed"), "a signature covers its own outcome only");
    assert_eq!(act("resume").redirect(), "/?done=resumed&of=report");
    assert_eq!(web.get("/api/jobs").json()[0]["paused"], false);
    assert_eq!(act("resume").redirect(), "/?done=unchanged&of=report");
    assert!(!web.get("/?done=%3Cb%3Ehi%3C%2Fb%3E").body.contains("<b>hi"), "only known notices show");
}

// ---------------------------------------------------------------------------
// Pages

#[test]
fn job_output_description_and_args_are_escaped() {
    // The command itself does not contain the markup it prints.
    let env = env(r#"
[jobs.shout]
cron = "0 3 * * *"
command = "printf '<%s>alert(1)</%s>\n' script script"
description = "<b>x</b>"
args = { note = "</pre><img src=x onerror=alert(2)>" }
"#);
    let web = env.web(false);
    let _worker = env.worker();
    assert_eq!(web.act("/jobs/shout/trigger", &[]).status, 303);
    wait_until("the run to land in history", READY, || {
        web.get("/api/jobs/shout/history").json().as_array().is_some_and(|h| !h.is_empty())
    });
    assert_eq!(web.get("/api/jobs/shout/history").json()[0]["output"], "<script>alert(1)</script>\n");

    let page = web.get("/jobs/shout");
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{body}");
    assert!(body.contains("&lt;b&gt;x&lt;/b&gt;"), "{body}");
    assert!(body.contains("&lt;/pre&gt;&lt;img src=x"), "{body}");
    for raw in ["<script>alert(1)", "<b>x</b>", "<img src=x", "</pre><img"] {
        assert!(!body.contains(raw), "{raw} unescaped in {body}");
    }
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(body.contains(r#"<script src="/assets/app.js" defer></script>"#));
}

/// Asserts `body` shows each `what` of [`pwn`] escaped, keeps its one
/// script tag, and has no quote that could end an attribute early.
fn assert_shows_escaped(page: &str, body: &str, fields: &[&str]) {
    for what in fields {
        let escaped = format!("&lt;script&gt;&quot;pwn-{what}&quot;&lt;/script&gt;");
        assert!(body.contains(&escaped), "{page}: {what} is not shown escaped: {body}");
    }
    assert!(!body.contains("\"pwn-"), "{page}: a quote reached the page raw: {body}");
    assert_eq!(body.matches("<script").count(), 1, "{page}: {body}");
}

#[test]
fn markup_and_quotes_in_definitions_and_dead_letters_are_escaped_on_every_page() {
    let env = env(r#"
[jobs.shout]
cron = "0 3 * * *"
command = 'echo <script>"pwn-command"</script>'
description = '<script>"pwn-description"</script>'
args = { note = '<script>"pwn-args"</script>' }
"#);
    let letter = json!({"payload": json!({"id": "<script>\"pwn-payload\"</script>"}).to_string(),
                        "reason": "<script>\"pwn-reason\"</script>", "queue": "default",
                        "job": "<script>\"pwn-job\"</script>", "attempts": 1, "exit_code": 3,
                        "failed_at": "2026-11-23T08:01:00.000Z", "worker": "w:1:a",
                        "id": "<script>\"pwn-id\"</script>"});
    env.lpush(DEAD, &letter.to_string());
    let web = env.web(false);

    let job = web.get("/jobs/shout");
    assert_eq!(job.status, 200);
    assert_shows_escaped("/jobs/shout", &job.body, &["command", "description"]);
    assert!(job.body.contains(r#"&lt;script&gt;\&quot;pwn-args\&quot;&lt;/script&gt;"#), "{}", job.body);
    let overview = web.get("/");
    assert_shows_escaped("/", &overview.body, &[]);
    for page in ["/dead", "/dead?queue=default"] {
        let dead = web.get(page);
        assert_eq!(dead.status, 200, "{page}");
        assert_shows_escaped(page, &dead.body, &["reason", "job", "id"]);
        assert!(dead.body.contains(r#"\&quot;pwn-payload\&quot;"#), "{page}: {}", dead.body);
        assert!(
            dead.body.contains(r#"name="id" value="&lt;script&gt;&quot;pwn-id"#),
            "{page}: {}",
            dead.body
        );
    }
}

#[test]
fn dead_letters_are_listed_retried_and_deleted() {
    let env = env("[jobs.doomed]\ncron = \"0 3 * * *\"\ncommand = \"exit 3\"\nretries = 0\n");
    let web = env.web(false);
    let dead_after_a_run = || {
        let worker = env.worker();
        wait_until("a dead letter", READY, || {
            web.get("/api/dead").json().as_array().is_some_and(|d| !d.is_empty())
        });
        drop(worker);
        web.get("/api/dead").json()
    };
    assert_eq!(web.act("/jobs/doomed/trigger", &[]).status, 303);
    let dead = dead_after_a_run();
    assert_eq!(dead.as_array().unwrap().len(), 1, "{dead}");
    let letter = &dead[0];
    let id = letter["id"].as_str().unwrap().to_owned();
    let id = id.as_str();
    assert!(id.starts_with("doomed@manual-"), "{letter}");
    let payload_id = id.split_once('~').expect("<payload id>~<suffix>").0;
    assert_eq!((&letter["job"], &letter["reason"]), (&json!("doomed"), &json!("exit status 3")));
    assert_eq!((&letter["attempts"], &letter["queue"]), (&json!(1), &json!("default")));
    let payload: Value = serde_json::from_str(letter["payload"].as_str().unwrap()).unwrap();
    assert_eq!((&payload["id"], &payload["manual"]), (&json!(payload_id), &json!(true)));
    assert_eq!(web.get("/api/dead?queue=default").json(), dead);
    assert_eq!(web.get("/api/dead?queue=other").json(), json!([]));

    let page = web.get("/dead").body;
    assert!(page.contains(&format!(r#"data-dead="{id}""#)), "{page}");
    assert!(page.contains("exit status 3"));

    // Retry, with no worker running: the payload waits on the queue.
    let retry = web.act("/dead/retry", &[("id", id), ("back", "/dead")]);
    assert_eq!((retry.status, retry.redirect()), (303, "/dead?done=retried&n=1"));
    assert_eq!(web.get("/api/dead").json(), json!([]));
    let pending = env.lrange(PENDING);
    assert_eq!(pending.len(), 1);
    let requeued: Value = serde_json::from_str(&pending[0]).unwrap();
    assert_eq!((&requeued["id"], &requeued["attempt"]), (&json!(payload_id), &json!(1)));
    assert!(web.get(retry.header("location")).body.contains("Put 1 dead letter back on the queue."));
    let crafted = web.get("/dead?done=deleted&n=9999").body;
    assert!(!crafted.contains("Deleted 9999"), "a crafted link shows no notice");
    let tampered = web.get(&retry.header("location").replace("n=1", "n=9999")).body;
    assert!(!tampered.contains("9999 dead letters"), "the signature covers the count");

    // It fails again, as a new dead letter with an id of its own; delete it
    // by that id.
    let again = dead_after_a_run()[0]["id"].as_str().unwrap().to_owned();
    assert!(again.starts_with(&format!("{payload_id}~")) && again != id, "{again}");
    let id = again.as_str();
    let delete = web.act("/dead/delete", &[("id", id)]);
    assert_eq!((delete.status, delete.redirect()), (303, "/?done=deleted&n=1"));
    assert!(env.lrange(DEAD).is_empty() && env.lrange(PENDING).is_empty());
    assert_eq!(web.act("/dead/delete", &[("id", id)]).status, 404);
    assert_eq!(web.act("/dead/retry", &[("id", "nope")]).status, 404);
    assert_eq!(web.post("/dead/delete", &[("id", id)], &[]).status, 403);

    // Every one at once.
    for n in 0..3 {
        let payload = json!({"id": format!("doomed@{n}"), "job": "doomed"}).to_string();
        let letter = json!({"payload": payload, "reason": "exit status 3", "queue": "default", "job": "doomed",
                            "attempts": 1, "exit_code": 3, "failed_at": "2026-11-23T08:01:00.000Z",
                            "worker": "w:1:a"});
        env.lpush(DEAD, &letter.to_string());
    }
    assert_eq!(web.get("/api/dead").json().as_array().unwrap().len(), 3);
    let all = web.act("/dead/delete", &[("all", "1"), ("back", "/dead")]);
    assert_eq!(all.redirect(), "/dead?done=deleted&n=3");
    assert!(env.lrange(DEAD).is_empty());
}

#[test]
fn a_failing_commands_output_reaches_the_dead_page_and_the_job_record() {
    let env = env(
        "[jobs.doomed]\ncron = \"0 3 * * *\"\ncommand = \"echo 'disk full on /var' >&2; exit 1\"\nretries = 0\ntimeout = \"90s\"\n",
    );
    let web = env.web(false);
    assert_eq!(web.act("/jobs/doomed/trigger", &[]).status, 303);
    let worker = env.worker();
    wait_until("a dead letter", READY, || {
        web.get("/api/dead").json().as_array().is_some_and(|d| !d.is_empty())
    });
    drop(worker);
    let letter = &web.get("/api/dead").json()[0];
    assert_eq!(letter["reason"], "exit status 1");
    assert_eq!(letter["output"], "disk full on /var\n", "{letter}");
    let page = web.get("/dead").body;
    assert!(
        page.contains(r#"<details class="output"><summary>output</summary><pre>disk full on /var"#),
        "the stderr, collapsed, on the dead page: {page}"
    );

    let job = web.get("/api/jobs/doomed").json();
    let stats = &job["stats"];
    assert_eq!(
        (&stats["runs"], &stats["success"], &stats["failed"], &stats["timed_out"]),
        (&json!(1), &json!(0), &json!(1), &json!(0)),
        "{job}"
    );
    assert_eq!((&stats["success_rate"], &stats["last_success"]), (&json!(0.0), &Value::Null), "{job}");
    assert_eq!((&stats["failure_streak"], &stats["dead_letters"]), (&json!(1), &json!(1)), "{job}");
    assert_eq!(stats["ticks"], json!({"pushed": 0, "missed": 0, "overlap": 0, "paused": 0, "manual": 1}));
    let ticks = job["ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 1, "{job}");
    assert_eq!(ticks[0]["outcome"], "manual");
    assert!(ticks[0]["id"].as_str().unwrap().starts_with("doomed@manual-"), "{job}");

    let overview = web.get("/").body;
    let link = r#"<a class="dead-count" href="/dead?job=doomed">1 dead letter</a>"#;
    assert!(overview.contains(link), "the overview row links the job's dead letters: {overview}");
    // The run was triggered, not ticked: the status says so, and so do the pages.
    let last = &web.get("/api/status").json()["jobs"][0]["last_run"];
    assert_eq!((&last["outcome"], &last["manual"]), (&json!("failed"), &json!(true)), "{last}");
    assert_eq!(env.clock_json(&["status", "--json"])["jobs"][0]["last_run"], *last);
    let marked =
        r#"<span class="badge badge-failed">failed</span> <span class="badge badge-manual">manual</span>"#;
    assert!(overview.contains(marked), "the overview's last run is marked manual: {overview}");

    let page = web.get("/jobs/doomed").body;
    for shown in [
        "0% of 1 runs kept",
        "1 failed in a row",
        r#"<a href="/dead?job=doomed">1</a>"#,
        r#"<span class="kind">tick</span> <span class="badge badge-manual">manual</span>"#,
        r#"<span class="kind">run</span> <span class="badge badge-failed">failed</span>"#,
        "timeout 90s: off the scale",
        &format!(r#"<th scope="row">Last run</th><td>{marked}"#),
    ] {
        assert!(page.contains(shown), "{shown} on the job page: {page}");
    }
}

// ---------------------------------------------------------------------------
// JSON API

#[test]
fn api_status_is_clock_status_json() {
    // Far-off ticks only, so both reads agree on every next run.
    let env = env(r#"
[jobs.yearly]
cron = "0 0 1 1 *"
timezone = "Europe/Berlin"
command = "echo yearly"

[jobs.once]
at = "2099-01-01T00:00:00Z"
queue = "fast"
command = "echo once"

[jobs.off]
cron = "0 0 1 1 *"
enabled = false
command = "echo off"
"#);
    env.clock_json(&["pause", "yearly", "--json"]);
    env.clock_json(&["trigger", "once", "--json"]);
    env.lpush(
        "campanile:{default}:history:yearly",
        &history_entry("yearly", "yearly@x", "2026-11-23T08:00:01Z"),
    );
    let web = env.web(false);
    let api = web.get("/api/status");
    assert_eq!(api.status, 200);
    assert!(api.header("content-type").starts_with("application/json"));
    let api = api.json();
    let keys: Vec<&String> = api.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clocks", "jobs", "leader", "problems", "queues", "tool_queues"]);
    assert_eq!(api, env.clock_json(&["status", "--json"]));
    let kinds: Vec<(&Value, &Value)> =
        api["problems"].as_array().unwrap().iter().map(|p| (&p["kind"], &p["queue"])).collect();
    let (no_leader, unserved, default, fast) =
        (json!("no_leader"), json!("unserved"), json!("default"), json!("fast"));
    assert_eq!(kinds, [(&no_leader, &Value::Null), (&unserved, &default), (&unserved, &fast)], "{api}");
    assert_eq!(api["jobs"][2]["name"], "yearly");
    assert_eq!(api["jobs"][2]["paused"], true, "{api}");
    assert_eq!(api["jobs"][2]["last_run"]["manual"], false, "a run of a tick: {api}");
    assert_eq!(
        api["queues"],
        json!([
            {"name": "default", "pending": 0, "in_progress": 0, "retry": 0, "dead": 0},
            {"name": "fast", "pending": 1, "in_progress": 0, "retry": 0, "dead": 0},
        ])
    );
    assert_eq!(web.get("/api/jobs").json(), api["jobs"]);
}

#[test]
fn api_job_has_upcoming_ticks_and_history() {
    let env = minutely_with_two_runs();
    let web = env.web(false);
    let job = web.get("/api/jobs/minutely").json();
    assert_eq!((&job["name"], &job["schedule"]), (&json!("minutely"), &json!("cron \"* * * * *\"")));
    let utc = |t: &Value| t.as_str().filter(|t| t.ends_with('Z')).map(chrono::DateTime::parse_from_rfc3339);
    let upcoming: Vec<_> =
        job["upcoming"].as_array().unwrap().iter().map(|t| utc(t).unwrap().unwrap()).collect();
    assert_eq!(upcoming.len(), 10, "{job}");
    assert!(upcoming.windows(2).all(|w| w[1] - w[0] == chrono::Duration::minutes(1)), "{job}");

    let history = web.get("/api/jobs/minutely/history").json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["id"], "minutely@2", "newest first");
    let one = web.get("/api/jobs/minutely/history?limit=1").json();
    assert_eq!(one.as_array().unwrap().len(), 1);

    for path in ["/api/jobs/nope", "/api/jobs/nope/history"] {
        let r = web.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.header("content-type").starts_with("application/json"), "{path}");
        assert!(r.json()["error"].as_str().unwrap().contains("nope"), "{path}");
    }
    assert_eq!(web.get("/jobs/nope").status, 404);
}

// ---------------------------------------------------------------------------
// Health

/// A fresh leader lease and a live worker on the default queue.
fn healthy(env: &Env) {
    let mut con = env.redis.connection();
    let _: () =
        redis::cmd("SET").arg("campanile:leader").arg("h:1:a").arg("PX").arg(3000).query(&mut con).unwrap();
    let _: () = redis::cmd("SADD").arg("campanile:{default}:workers").arg("w:1:a").query(&mut con).unwrap();
    let lease = "campanile:{default}:lease:w:1:a";
    let _: () = redis::cmd("SET").arg(lease).arg(1).arg("PX").arg(60_000).query(&mut con).unwrap();
}

#[test]
fn deep_healthz_is_ok_or_503_with_the_problems_behind_the_credentials() {
    let env = env(REPORT);
    let web = env.web(true);
    let shallow = web.get_as("/healthz", None, &[]);
    assert_eq!((shallow.status, shallow.body.as_str()), (200, "ok\n"), "/healthz stays open and cheap");
    assert_eq!(web.get_as("/healthz?deep=1", None, &[]).status, 401);
    assert_eq!(web.get_as("/healthz?deep=1", Some((USER, "wrong")), &[]).status, 401);

    let deep = web.get("/healthz?deep=1");
    assert_eq!(deep.status, 503);
    assert_eq!(deep.header("content-type"), "text/plain; charset=utf-8");
    // The dashboard itself watches the lease, so it knows for how long.
    let lines: Vec<&str> = deep.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", deep.body);
    assert!(lines[0].starts_with("no_leader: no clock has held the leader lease for "), "{}", deep.body);
    assert!(lines[0].ends_with(" s, so no tick is pushed (0 clock(s) running)"), "{}", deep.body);
    assert_eq!(lines[1], "unserved: queue default has no live worker (0 pending)");

    healthy(&env);
    let deep = web.get("/healthz?deep=1");
    assert_eq!((deep.status, deep.body.as_str()), (200, "ok\n"));
    assert_eq!(web.get("/healthz?deep=0").body, "ok\n");
}

#[test]
fn the_overview_lists_the_problems_escaped() {
    let env = env(REPORT);
    healthy(&env);
    let web = env.web(false);
    let page = web.get("/");
    assert!(!page.body.contains("class=\"notice warning problems\""), "no list when healthy: {}", page.body);

    // Payload ids come from Redis and may be anything.
    let _: () = redis::cmd("ZADD")
        .arg("campanile:{default}:late")
        .arg(1)
        .arg("<b>x</b>@2026-11-23T08:00:00Z")
        .query(&mut env.redis.connection())
        .unwrap();
    let page = web.get("/");
    let list =
        page.body.split_once("<ul class=\"notice warning problems\" role=\"alert\">\n").map(|(_, l)| l);
    let item = list.and_then(|l| l.lines().next()).unwrap_or_else(|| panic!("{}", page.body));
    assert!(
        item.starts_with(
            r#"<li data-kind="late">&lt;b&gt;x&lt;/b&gt;@2026-11-23T08:00:00Z on queue default"#
        ),
        "{item}"
    );
    assert!(!page.body.contains("<b>x"), "escaped");
    assert!(page.body.find("problems").unwrap() < page.body.find("class=\"leader").unwrap(), "at the top");
}

/// The summary on a live deployment: all healthy once a clock leads and a
/// worker serves; then a job that fails and a paused one are counted, the
/// failing one linked, its dead letter linked to `/dead`.
#[test]
fn the_overview_summarises_failing_and_paused_jobs_and_dead_letters() {
    let env =
        env(&format!("{REPORT}\n[jobs.doomed]\ncron = \"0 3 * * *\"\ncommand = \"exit 1\"\nretries = 0\n"));
    let _clock = env.spawn("clock", &["run"], &[], "clock");
    let _worker = env.worker();
    let web = env.web(false);
    let summary = || {
        let page = web.get("/").body;
        let at = page.find(r#"<p class="health-summary""#).unwrap_or_else(|| panic!("a summary: {page}"));
        page[at..at + page[at..].find("</p>").unwrap()].to_owned()
    };
    wait_until("a leader and a live worker", READY, || summary().contains("All 2 jobs healthy"));

    assert_eq!(web.act("/jobs/report/pause", &[("back", "/")]).status, 303);
    assert_eq!(web.act("/jobs/doomed/trigger", &[("back", "/")]).status, 303);
    wait_until("the failed run", READY, || summary().contains("failing"));
    let shown = summary();
    for part in [
        r#"<a class="badge badge-failing" href="/jobs/doomed">1 job failing, worst doomed 1 in a row</a>"#,
        r#"<a class="badge badge-dead-letters" href="/dead">1 dead letter</a>"#,
        r#"<span class="badge badge-paused-jobs">1 paused job</span>"#,
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    assert!(!shown.contains("healthy") && !shown.contains("late") && !shown.contains("unserved"), "{shown}");
}

// ---------------------------------------------------------------------------
// Outage

#[test]
fn redis_down_is_a_503_and_the_dashboard_stays_up() {
    let env = env(REPORT);
    let mut web = env.web(false);
    assert_eq!(web.get("/").status, 200);
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut env.redis.connection());
    wait_until("redis to stop", READY, || env.redis.client().get_connection().is_err());

    let page = web.get("/");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.body.contains("Redis"), "{}", page.body);
    for path in ["/api/status", "/api/jobs", "/api/jobs/report", "/api/dead", "/api/alerts"] {
        let r = web.get(path);
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}");
    }
    assert!(web.proc.running(), "{}", web.proc.log());
    assert_eq!(web.get("/healthz").status, 200);
    let deep = web.get("/healthz?deep=1");
    assert_eq!(deep.status, 503);
    let cannot_reach = format!("redis_unreachable: cannot reach redis://127.0.0.1:{}: ", env.redis.port());
    assert!(deep.body.starts_with(&cannot_reach) && deep.body.lines().count() == 1, "{}", deep.body);
}

#[test]
fn serves_before_redis_answers_and_connects_when_it_does() {
    let mut env = env(REPORT);
    env.redis = RedisServer::start_persistent();
    let config = format!("[redis]\nurl = \"{}\"\n\n{REPORT}", env.redis.url());
    std::fs::write(&env.config, config).unwrap();
    env.redis.shutdown_keeping_data();

    let listen = format!("127.0.0.1:{}", free_port());
    let proc = env.spawn("clock", &["web", "--listen", &listen], &[], "web-early");
    let web = Web { proc, base: format!("http://{listen}"), agent: agent(), auth: None, csrf: String::new() };
    wait_until("/healthz to answer without Redis", READY, || {
        web.agent.get(web.url("/healthz")).call().is_ok_and(|r| r.status() == 200)
    });
    let page = web.get("/");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("has not reached Redis yet"), "{}", page.body);
    assert_eq!(web.get("/api/status").status, 503);
    let deep = web.get("/healthz?deep=1");
    assert_eq!(deep.status, 503);
    assert_eq!(
        deep.body,
        format!(
            "redis_unreachable: cannot reach redis://127.0.0.1:{}: the dashboard has not reached it yet\n",
            env.redis.port()
        )
    );

    env.redis.start_again();
    wait_until("the dashboard to reach Redis", Duration::from_secs(15), || web.get("/").status == 200);
}

// ---------------------------------------------------------------------------
// Hardening: hosts, CSRF tokens, API errors

/// One request written by hand (any `Host`), answered with `connection: close`:
/// its status, `content-type` and body.
fn raw(addr: &str, method: &str, path: &str, headers: Pairs, body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

#[test]
fn an_open_dashboard_answers_only_loopback_and_allowed_hosts() {
    let env = env(REPORT);
    let listen = format!("127.0.0.1:{}", free_port());
    let web = env.web_with(&["--listen", &listen, "--allowed-host", "dash.internal"], &[], None, &listen);
    let port = listen.rsplit(':').next().unwrap();
    let own = format!("localhost:{port}");
    for host in ["localhost", own.as_str(), "127.0.0.1", "[::1]:8080", "dash.internal", "DASH.internal:9"] {
        let (status, ..) = raw(&listen, "GET", "/", &[("host", host)], "");
        assert_eq!(status, 200, "{host}");
    }
    // A page on a rebinding domain: the browser sends that domain as Host
    // and Origin, so the same-origin check alone would pass.
    let evil = format!("evil.example:{port}");
    let evil_origin = format!("http://{evil}");
    let forged: Pairs = &[("host", &evil), ("origin", &evil_origin)];
    let (status, content_type, body) = raw(&listen, "GET", "/", forged, "");
    assert_eq!(status, 421, "{body}");
    assert!(content_type.starts_with("text/plain") && body.contains("evil.example"), "{content_type} {body}");
    let (status, content_type, body) = raw(&listen, "GET", "/api/status", forged, "");
    assert_eq!(status, 421);
    assert!(content_type.starts_with("application/json"), "{content_type}");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string(), "{body}");
    let form = format!("csrf={}", web.csrf);
    let headers: Pairs =
        &[("host", &evil), ("origin", &evil_origin), ("content-type", "application/x-www-form-urlencoded")];
    let (status, ..) = raw(&listen, "POST", "/jobs/report/pause", headers, &form);
    assert_eq!(status, 421);
    let paused: Vec<String> =
        redis::cmd("HKEYS").arg("campanile:{default}:paused").query(&mut env.redis.connection()).unwrap();
    assert!(paused.is_empty(), "a refused request pauses nothing: {paused:?}");
    assert_eq!(raw(&listen, "GET", "/healthz", forged, "").0, 200, "a health check may use any host");
    let (status, _, body) = raw(&listen, "GET", "/healthz?deep=1", forged, "");
    assert_eq!(status, 421, "the deep check names jobs and queues: {body}");
    // The same POST from the loopback host goes through.
    let own_origin = format!("http://{own}");
    let headers: Pairs =
        &[("host", &own), ("origin", &own_origin), ("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(raw(&listen, "POST", "/jobs/report/pause", headers, &form).0, 303);
}

/// The CSRF token the dashboard issues at `issued_at` (Unix seconds) with
/// `secret`: `<issued_at>.<hex HMAC-SHA256(secret, "campanile csrf <issued_at>")>`.
fn csrf_token(secret: &str, issued_at: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("campanile csrf {issued_at}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{issued_at}.{hex}")
}

#[test]
fn csrf_tokens_are_shared_by_every_dashboard_and_are_not_derived_from_the_password() {
    let env = env(REPORT);
    // Two open dashboards on one Redis: each accepts the other's token.
    let (a, b) = (env.web(false), env.web(false));
    assert_eq!(b.post("/jobs/report/trigger", &[("csrf", &a.csrf)], &[]).status, 303);
    assert_eq!(a.post("/jobs/report/trigger", &[("csrf", &b.csrf)], &[]).status, 303);
    let secret: Option<String> =
        redis::cmd("GET").arg("campanile:web_secret").query(&mut env.redis.connection()).unwrap();
    assert!(secret.is_some_and(|s| s.len() >= 32), "the shared secret lives in Redis");

    // With credentials the token still is not a function of the password.
    let c = env.web(true);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, format!("{USER}\0{PASSWORD}").as_bytes());
    let old: String = ring::hmac::sign(&key, b"campanile dashboard csrf")
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!c.csrf.contains(&old), "{}", c.csrf);
    for field in [USER, PASSWORD] {
        assert!(!c.csrf.contains(field));
    }
    assert_eq!(c.post("/jobs/report/trigger", &[("csrf", &a.csrf)], &[]).status, 303);
    let (issued, tag) = c.csrf.split_once('.').expect("issued_at.tag");
    let forged = format!("{}.{tag}", issued.parse::<i64>().unwrap() + 1);
    assert_eq!(c.post("/jobs/report/trigger", &[("csrf", &forged)], &[]).status, 403);
}

#[test]
fn csrf_tokens_from_the_configured_secret_expire() {
    let env = env(REPORT);
    let listen = format!("127.0.0.1:{}", free_port());
    let secret = "0123456789abcdef0123456789abcdef";
    let web = env.web_with(&["--listen", &listen], &[("CAMPANILE_WEB_SECRET", secret)], None, &listen);
    // The dashboard's own clock, as its tokens state it.
    let now: i64 = web.csrf.split_once('.').unwrap().0.parse().unwrap();
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", &csrf_token(secret, now - 60))], &[]).status, 303);
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", &web.csrf)], &[]).status, 303);
    let expired = csrf_token(secret, now - 13 * 3600);
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", &expired)], &[]).status, 403);
    let future = csrf_token(secret, now + 3600);
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", &future)], &[]).status, 403);
    let other = csrf_token("another secret entirely, 32 bytes", now);
    assert_eq!(web.post("/jobs/report/trigger", &[("csrf", &other)], &[]).status, 403);
    assert_eq!(env.lrange(PENDING).len(), 2);
}

#[test]
fn every_api_error_is_json_and_limit_zero_lists_nothing() {
    let env = minutely_with_two_runs();
    let web = env.web(true);
    let paths = [
        ("/api/jobs/minutely/history?limit=-1", 400),
        ("/api/jobs/minutely/history?limit=many", 400),
        ("/api/dead?queue=no%20such", 400),
        ("/api/nothing-here", 404),
    ];
    for (path, status) in paths {
        let r = web.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.header("content-type").starts_with("application/json"), "{path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = web.get_as("/api/status", None, &[]);
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string() && !r.header("www-authenticate").is_empty());
    let r = read(with(web.agent.post(web.url("/api/status")), web.creds(), &[]).send_empty());
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].is_string(), "{}", r.body);
    assert_eq!(web.get("/api/jobs/minutely/history?limit=0").json(), json!([]));
    assert_eq!(web.get("/api/jobs/minutely/history?limit=1").json().as_array().unwrap().len(), 1);
}

#[test]
fn a_payload_dead_twice_gives_two_letters_retried_and_deleted_one_by_one() {
    let env = env("[jobs.doomed]\nat = \"2099-01-01T00:00:00Z\"\ncommand = \"exit 3\"\nretries = 0\n");
    let web = env.web(false);
    let payload = json!({"id": "doomed@x", "job": "doomed", "queue": "default",
                         "scheduled_at": "2026-11-23T08:00:00Z", "enqueued_at": "2026-11-23T08:00:00Z",
                         "attempt": 1, "args": null})
    .to_string();
    let worker = env.worker();
    for n in 1..=2 {
        env.lpush(PENDING, &payload);
        wait_until("a dead letter", READY, || env.lrange(DEAD).len() == n);
    }
    drop(worker);
    let dead = web.get("/api/dead").json();
    let ids: Vec<String> =
        dead.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "each dead letter has its own id");
    assert!(ids.iter().all(|id| id.starts_with("doomed@x~")), "{ids:?}");

    let delete = web.act("/dead/delete", &[("id", &ids[0])]);
    assert_eq!(delete.redirect(), "/?done=deleted&n=1");
    let left = web.get("/api/dead").json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], ids[1].as_str());
    let retry = web.act("/dead/retry", &[("id", &ids[1])]);
    assert_eq!(retry.redirect(), "/?done=retried&n=1");
    assert_eq!(env.lrange(PENDING).len(), 1);
}

// ---------------------------------------------------------------------------
// Queues

/// `/queues` and `/api/queues` against a real worker: a run that ended
/// counted this minute, the slow run going on shown with since when on
/// the worker running it, the payload behind it pending, and a retry with
/// the error of the run it follows.
#[test]
fn the_queues_page_shows_a_busy_worker_pending_payloads_and_retries() {
    let env = env(r#"
[jobs.quick]
cron = "0 3 * * *"
command = "echo done"

[jobs.slow]
cron = "0 3 * * *"
command = "sleep 60"

[jobs.flaky]
cron = "0 3 * * *"
command = "exit 3"
"#);
    for job in ["quick", "slow", "slow"] {
        env.clock_json(&["trigger", job, "--json"]);
    }
    let (retry_id, due_ms) = ("flaky@2026-11-23T08:00:00Z", 4_102_444_800_000_i64); // 2100-01-01
    let retry = json!({
        "id": retry_id, "job": "flaky", "queue": "default", "scheduled_at": "2026-11-23T08:00:00Z",
        "enqueued_at": "2026-11-23T08:00:00.000Z", "attempt": 2, "args": null,
    });
    let mut failed: Value =
        serde_json::from_str(&history_entry("flaky", retry_id, "2026-11-23T08:00:01Z")).unwrap();
    failed["outcome"] = json!("failed");
    failed["exit_code"] = json!(3);
    failed["output"] = json!("connecting\nrefused: <db>\n");
    env.lpush("campanile:{default}:history:flaky", &failed.to_string());
    let _: () = redis::cmd("ZADD")
        .arg("campanile:{default}:retry")
        .arg(due_ms)
        .arg(retry.to_string())
        .query(&mut env.redis.connection())
        .unwrap();

    // Since when a run goes on is Redis's clock.
    let redis_now = || {
        let (secs, _): (i64, i64) = redis::cmd("TIME").query(&mut env.redis.connection()).unwrap();
        chrono::DateTime::from_timestamp(secs, 0).unwrap()
    };
    let started = redis_now();
    let _worker = env.worker();
    let web = env.web(false);
    let mut api = Value::Null;
    wait_until("the worker to run the slow job", READY, || {
        api = web.get("/api/queues").json();
        api["queues"][0]["busy"] == 1 && api["queues"][0]["processed_last_hour"] == 1
    });
    let q = &api["queues"][0];
    assert_eq!(q["name"], "default");
    assert_eq!((&q["workers"], &q["workers_registered"]), (&json!(1), &json!(1)), "{q}");
    let worker = &q["worker_list"][0];
    assert_eq!(worker["concurrency"], 1, "{worker}");
    assert_eq!(worker["pid"], json!(_worker.child.id()), "{worker}");
    let run = &worker["running"][0];
    assert_eq!(run["job"], "slow", "{worker}");
    assert!(run["id"].as_str().unwrap().starts_with("slow@manual-"), "{run}");
    let since: chrono::DateTime<chrono::Utc> = run["since"].as_str().unwrap().parse().unwrap();
    assert!(
        since >= started - chrono::Duration::seconds(1)
            && since <= redis_now() + chrono::Duration::seconds(1),
        "{run}"
    );

    assert_eq!(q["pending"], 1, "the second slow run waits: concurrency 1");
    assert_eq!(q["pending_first"][0]["job"], "slow");
    assert_eq!((&q["processed_last_hour"], &q["failed_last_hour"]), (&json!(1), &json!(0)), "quick ran");
    assert_eq!(q["minutes"].as_array().unwrap().len(), 60);
    assert_eq!(q["retries"], 1);
    let r = &q["retries_first"][0];
    assert_eq!(
        (&r["job"], &r["attempt"], &r["retry_at"]),
        (&json!("flaky"), &json!(2), &json!("2100-01-01T00:00:00Z"))
    );
    assert_eq!(r["last_error"], "failed, exit 3: refused: <db>");
    assert_eq!(q["tool_lists"], json!([]), "campanile's jobs only");

    let page = web.get("/queues");
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("1 pending · 1 retry · 1 live worker, 1 busy · 1 processed, 0 failed"), "{body}");
    let row = &body[body.find("<tr data-worker=").expect("a worker row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!(r#"<td class="since"><time datetime="{}">"#, run["since"].as_str().unwrap())),
        "{row}"
    );
    assert!(row.contains(r#"<a href="/jobs/slow">slow</a>"#), "{row}");
    assert!(body.contains("failed, exit 3: refused: &lt;db&gt;"), "{body}");
    assert!(body.contains(r#"<svg role="img""#), "{body}");
    assert!(body.contains(r#"<a href="/queues" aria-current="page">Queues</a>"#), "{body}");
    let overview = web.get("/").body;
    assert!(overview.contains(r#"<a href="/queues">Queues</a>"#), "in the nav of every page");
    assert!(
        overview.contains(r#"<a href="/queues#queue-default">default</a>"#),
        "the overview links each queue"
    );
}

/// A queue whose job pushes to Sidekiq's list: `/api/queues` and `/queues`
/// name the list and its length, not an empty pending list alone.
#[test]
fn the_queues_page_names_another_tools_list_and_its_length() {
    let env = env(
        "[jobs.mail]\ncron = \"0 3 * * *\"\nformat = \"sidekiq\"\nclass = \"MailJob\"\nqueue = \"mail\"\n",
    );
    env.clock_json(&["trigger", "mail", "--json"]);
    let web = env.web(false);
    let q = &web.get("/api/queues").json()["queues"][0];
    assert_eq!(q["name"], "mail");
    assert_eq!(q["pending"], 0, "{q}");
    assert_eq!(q["tool_lists"], json!([{ "list": "queue:mail", "format": "sidekiq", "waiting": 1 }]), "{q}");
    let page = web.get("/queues").body;
    assert!(page.contains("<code>queue:mail</code> (sidekiq): 1 waiting"), "{page}");
    assert!(page.contains("campanile's workers do not run them"), "{page}");
    assert!(!page.contains("Nothing pending."), "{page}");
}
