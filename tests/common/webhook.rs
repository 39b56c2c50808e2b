//! A tiny HTTP server that records the JSON bodies webhooks post to it, and
//! the paths monitors' pings request (with a `null` body).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Records `(path, JSON body)`; the first `fail_first` requests get a 500
/// to exercise retries.
pub struct Receiver {
    port: u16,
    pub seen: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            let mut served = 0;
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                served += 1;
                let mut stream = stream;
                if served <= fail_first {
                    let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    continue;
                }
                let body = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() };
                record.lock().unwrap().push((path, body));
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Receiver { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Polls what was received until `done` holds, failing after `within`.
    pub fn wait_for(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&[(String, Value)]) -> bool,
    ) -> Vec<(String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if done(&seen) {
                return seen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; got {seen:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
