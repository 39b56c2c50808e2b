//! Email alerts against a local SMTP server started by the test: a real
//! worker sends failure and dead-letter mail, rate-limited per job and event.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RedisServer, bin};

/// Received messages: the envelope commands and the data.
type Mailbag = Vec<(Vec<String>, String)>;

/// A minimal SMTP server (no TLS, no auth) that records each message's
/// envelope and data.
fn smtp_server() -> (u16, Arc<Mutex<Mailbag>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages: Arc<Mutex<Mailbag>> = Arc::default();
    let record = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            let _ = out.write_all(b"220 localhost ESMTP test\r\n");
            let (mut envelope, mut data) = (Vec::new(), String::new());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                let command = line.trim_end().to_owned();
                line.clear();
                let upper = command.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    b"250-localhost\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
                    envelope.push(command);
                    b"250 OK\r\n"
                } else if upper == "DATA" {
                    let _ = out.write_all(b"354 go ahead\r\n");
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        data.push_str(&l);
                    }
                    record.lock().unwrap().push((std::mem::take(&mut envelope), std::mem::take(&mut data)));
                    b"250 queued\r\n"
                } else if upper == "QUIT" {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = out.write_all(reply);
            }
        }
    });
    (port, messages)
}

#[test]
fn failures_and_dead_letters_are_mailed_once_per_job_and_event_window() {
    let redis = RedisServer::start();
    let (port, messages) = smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        r#"
[jobs.broken]
at = "2030-01-01T00:00:00Z"
command = "echo '<b>oops</b>' >&2; exit 3"
retries = 0

[notify.email]
to = ["ops@example.com", "oncall@example.com"]
from = "campanile <campanile@example.com>"
"#,
    )
    .unwrap();
    let mut worker = Command::new(bin("worker"))
        .arg("--config")
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let push = |tick: &str| {
        let payload = format!(
            r#"{{"id":"broken@{tick}","job":"broken","queue":"default","scheduled_at":"{tick}","enqueued_at":"{tick}","attempt":1,"args":null}}"#
        );
        let _: () = redis::cmd("LPUSH")
            .arg("campanile:{default}:pending")
            .arg(payload)
            .query(&mut redis.connection())
            .unwrap();
    };
    push("2026-11-23T08:00:00Z");
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no mail arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second failure within the rate-limit window sends nothing more.
    push("2026-11-23T08:01:00Z");
    let dead: i64 = loop {
        let n: i64 =
            redis::cmd("LLEN").arg("campanile:{default}:dead").query(&mut redis.connection()).unwrap();
        if n == 2 {
            break n;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(dead, 2);
    std::thread::sleep(Duration::from_millis(500));
    let _ = common::send_signal(worker.id(), libc::SIGTERM);
    worker.wait().unwrap();

    let messages = messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let subjects: Vec<String> = messages
        .iter()
        .map(|(_, data)| data.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").to_owned())
        .collect();
    assert!(subjects.contains(&"[campanile] broken failed (exit status 3)".to_owned()), "{subjects:?}");
    assert!(
        subjects.contains(&"[campanile] broken dead-lettered (exit status 3)".to_owned()),
        "{subjects:?}"
    );
    let (envelope, data) = &messages[0];
    assert!(envelope.iter().any(|c| c.contains("<campanile@example.com>")), "{envelope:?}");
    assert!(envelope.iter().any(|c| c.contains("<ops@example.com>")), "{envelope:?}");
    assert!(envelope.iter().any(|c| c.contains("<oncall@example.com>")), "{envelope:?}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain"), "{data}");
    assert!(data.contains("text/html"), "{data}");
    assert!(data.contains("broken@2026-11-23T08:00:00Z"), "{data}");
}

#[test]
fn forged_job_names_share_one_rate_limit_and_one_metric_label() {
    let redis = RedisServer::start();
    let (port, messages) = smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        "[jobs.broken]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"exit 3\"\nretries = 0\n\n\
         [notify.email]\nto = [\"ops@example.com\"]\nfrom = \"campanile@example.com\"\nevents = [\"dead\"]\n",
    )
    .unwrap();
    let metrics_port = common::free_port();
    let mut worker = Command::new(bin("worker"))
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}"), "--config"])
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let push = |job: &str| {
        let payload = format!(
            r#"{{"id":"{job}@t","job":"{job}","queue":"default","scheduled_at":"2026-11-23T08:00:00Z","enqueued_at":"2026-11-23T08:00:00Z","attempt":1,"args":null}}"#
        );
        let _: () = redis::cmd("LPUSH")
            .arg("campanile:{default}:pending")
            .arg(payload)
            .query(&mut redis.connection())
            .unwrap();
    };
    let dead = || -> i64 {
        redis::cmd("LLEN").arg("campanile:{default}:dead").query(&mut redis.connection()).unwrap()
    };
    for i in 0..5 {
        push(&format!("forged-{i}"));
    }
    common::wait_until("5 dead letters", Duration::from_secs(20), || dead() == 5);
    // A configured job's dead letter is mailed after every forged one.
    push("broken");
    let subject =
        |data: &str| data.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").to_owned();
    common::wait_until("the mail about broken", Duration::from_secs(20), || {
        messages.lock().unwrap().iter().any(|(_, data)| subject(data).contains("broken"))
    });
    let scrape = || {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).unwrap();
        body
    };
    let metrics = scrape();
    let _ = common::send_signal(worker.id(), libc::SIGTERM);
    worker.wait().unwrap();

    let forged: Vec<String> = messages
        .lock()
        .unwrap()
        .iter()
        .map(|(_, data)| subject(data))
        .filter(|s| s.contains("forged"))
        .collect();
    assert_eq!(forged.len(), 1, "jobs not in clock.toml share one rate-limit window: {forged:?}");
    assert!(metrics.contains(r#"campanile_runs_dead_total{job="unknown"} 5"#), "{metrics}");
    assert!(!metrics.contains("forged"), "{metrics}");
}

/// The body of the `text/html` part of a message as the SMTP server got
/// it, with its transfer encoding (7bit or quoted-printable) undone.
fn html_part(data: &str) -> String {
    let part = data.split("Content-Type: text/html").nth(1).unwrap_or_else(|| panic!("no HTML part: {data}"));
    let (head, body) = part.split_once("\r\n\r\n").expect("part headers end");
    let body = body.split("\r\n--").next().unwrap_or("");
    if !head.contains("quoted-printable") {
        assert!(head.contains("7bit"), "{head}");
        return body.to_owned();
    }
    let joined = body.replace("=\r\n", "");
    let (bytes, mut out) = (joined.as_bytes(), Vec::new());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape ={hex}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_html_part_escapes_job_names_and_ids_from_payloads() {
    let redis = RedisServer::start();
    let (port, messages) = smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clock.toml");
    std::fs::write(
        &config,
        "[jobs.broken]\nat = \"2030-01-01T00:00:00Z\"\ncommand = \"exit 3\"\n\n\
         [notify.email]\nto = [\"ops@example.com\"]\nfrom = \"campanile@example.com\"\nevents = [\"dead\"]\n",
    )
    .unwrap();
    let mut worker = Command::new(bin("worker"))
        .arg("--config")
        .arg(&config)
        .env("REDIS_URL", redis.url())
        .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A payload may name any job and carry any id: both reach the mail.
    let payload = serde_json::json!({
        "id": "<script>\"pwn-id\"</script>@t", "job": "<script>\"pwn-job\"</script>", "queue": "default",
        "scheduled_at": "2026-11-23T08:00:00Z", "enqueued_at": "2026-11-23T08:00:00Z", "attempt": 1,
        "args": null,
    });
    let _: () = redis::cmd("LPUSH")
        .arg("campanile:{default}:pending")
        .arg(payload.to_string())
        .query(&mut redis.connection())
        .unwrap();
    common::wait_until("the mail about the dead letter", Duration::from_secs(20), || {
        !messages.lock().unwrap().is_empty()
    });
    let _ = common::send_signal(worker.id(), libc::SIGTERM);
    worker.wait().unwrap();

    let (_, data) = messages.lock().unwrap()[0].clone();
    let html = html_part(&data);
    for what in ["job", "id"] {
        let escaped = format!("&lt;script&gt;&quot;pwn-{what}&quot;&lt;/script&gt;");
        assert!(html.contains(&escaped), "{what} is not escaped: {html}");
    }
    assert!(html.contains(r#"<tr><th align="left">job</th><td>&lt;script&gt;"#), "{html}");
    assert!(!html.contains("<script") && !html.contains("\"pwn-"), "{html}");
}
