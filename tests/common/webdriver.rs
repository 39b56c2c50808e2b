//! A minimal W3C WebDriver client over HTTP, driving a real headless
//! Chromium through `chromedriver`: navigate, find, click, read text, take
//! screenshots. Enough for the dashboard's browser tests, without a browser
//! automation dependency.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const INSTALL_HINT: &str = "chromium and chromedriver were not found; the browser tests need a real \
     headless Chromium. Install them (Debian: `sudo apt-get install chromium chromium-driver`; Ubuntu: `sudo snap install chromium`), \
     or name them in CHROMIUM and CHROMEDRIVER, and re-run.";

fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates
        .iter()
        .find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// A chromedriver process and one browser session, both ended on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session.
    /// Panics with an install hint when either is missing.
    pub fn start() -> Browser {
        let chromium = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromium", "chromium-browser", "google-chrome"]))
            .unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        // Ubuntu's Chromium snap names its driver chromium.chromedriver.
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromedriver", "chromium.chromedriver"]))
            .unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let port = crate::common::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        crate::common::wait_until("chromedriver answers", Duration::from_secs(20), || {
            agent.get(&format!("{base}/status")).call().is_ok_and(|r| r.status() == 200)
        });
        let profile = tempfile::tempdir().expect("temp dir");
        // The flags keep Chromium from reaching out to the network (which a
        // closed sandbox refuses, slowly) and let it run as root in CI.
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1360,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
        }}});
        let mut browser = Browser { driver, base, session: String::new(), agent, _profile: profile };
        let reply = browser.call("POST", "/session", Some(caps));
        browser.session = reply["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let status = response.status();
        let text = response.body_mut().read_to_string().expect("webdriver reply");
        let reply: Value = serde_json::from_str(&text).expect("webdriver replies with JSON");
        assert!(status == 200, "webdriver {method} {path}: {status}: {reply}");
        reply["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Loads a page and waits for it.
    pub fn goto(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.call("GET", &self.session_path("/url"), None).as_str().unwrap_or_default().to_owned()
    }

    pub fn title(&self) -> String {
        self.call("GET", &self.session_path("/title"), None).as_str().unwrap_or_default().to_owned()
    }

    /// The elements matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.call(
            "POST",
            &self.session_path("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str())
            .map(|id| Element { browser: self, id: id.to_owned() })
            .collect()
    }

    /// The one element matching `css`; panics naming the selector if none.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.find_all(css).into_iter().next().unwrap_or_else(|| panic!("no element matches {css:?}"))
    }

    /// The visible text of the whole page.
    pub fn page_text(&self) -> String {
        self.find("body").text()
    }

    /// The visible text of the first element matching `css`, read in one
    /// step in the page: an element found first and read next may have
    /// been replaced in between by the page's own refresh.
    pub fn text_of(&self, css: &str) -> Option<String> {
        let source =
            format!("const el = document.querySelector({}); return el ? el.innerText : null;", json!(css));
        self.script(&source).as_str().map(str::to_owned)
    }

    /// How many elements match `css`, counted in one step in the page.
    pub fn count(&self, css: &str) -> usize {
        let source = format!("return document.querySelectorAll({}).length;", json!(css));
        self.script(&source).as_u64().unwrap_or(0) as usize
    }

    /// Runs a script in the page and returns its result.
    pub fn script(&self, source: &str) -> Value {
        self.call("POST", &self.session_path("/execute/sync"), Some(json!({ "script": source, "args": [] })))
    }

    /// Clicks the element matching `css` and waits until the page it leads
    /// to has loaded: a click returns once the browser has acted on it, not
    /// when a form's response has replaced the page.
    pub fn click_to_load(&self, css: &str) {
        self.script("window.__campanileBefore = true;");
        self.find(css).click();
        crate::common::wait_until(
            &format!("a new page after clicking {css:?}"),
            Duration::from_secs(20),
            || {
                self.script(
                    "return window.__campanileBefore === undefined && document.readyState === 'complete';",
                ) == Value::Bool(true)
            },
        );
    }

    /// Clicks the element matching `css`, accepts the confirmation it
    /// opens, and waits for the page the form leads to.
    pub fn click_confirm_to_load(&self, css: &str) -> String {
        self.script("window.__campanileBefore = true;");
        self.find(css).click();
        let question = self.call("GET", &self.session_path("/alert/text"), None);
        self.call("POST", &self.session_path("/alert/accept"), None);
        crate::common::wait_until(
            &format!("a new page after confirming {css:?}"),
            Duration::from_secs(20),
            || {
                self.script(
                    "return window.__campanileBefore === undefined && document.readyState === 'complete';",
                ) == Value::Bool(true)
            },
        );
        question.as_str().unwrap_or_default().to_owned()
    }

    /// Resizes the browser window, which in headless Chromium is the
    /// viewport: how a test sees a page at phone or laptop width.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.session_path("/window/rect"),
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Saves a PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        let data = self.call("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    pub fn click(&self) {
        self.browser.call("POST", &self.browser.session_path(&format!("/element/{}/click", self.id)), None);
    }

    pub fn text(&self) -> String {
        let v =
            self.browser.call("GET", &self.browser.session_path(&format!("/element/{}/text", self.id)), None);
        v.as_str().unwrap_or_default().to_owned()
    }

    pub fn attribute(&self, name: &str) -> Option<String> {
        let v = self.browser.call(
            "GET",
            &self.browser.session_path(&format!("/element/{}/attribute/{name}", self.id)),
            None,
        );
        v.as_str().map(str::to_owned)
    }
}
