//! `rediss://` against a real TLS redis-server with a self-signed
//! certificate, as Heroku Redis presents: refused unless verification is
//! explicitly turned off.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use campanile::config::RedisSettings;
use campanile::store::Store;

struct TlsRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tls_redis() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed to make a test certificate (Debian: apt-get install openssl)");
    assert!(made.success());
    let port = common::free_port();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&cert)
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|_| panic!("{}", common::INSTALL_HINT));
    let server = TlsRedis { child, port, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    server
}

fn settings(url: String) -> RedisSettings {
    RedisSettings { url: Some(url), ..RedisSettings::default() }
}

#[tokio::test]
async fn self_signed_certificates_need_an_explicit_opt_out() {
    let server = start_tls_redis();
    let url = format!("rediss://127.0.0.1:{}", server.port);

    let refused = tokio::time::timeout(Duration::from_secs(20), Store::connect(&settings(url.clone()))).await;
    assert!(matches!(refused, Ok(Err(_))), "an unverifiable certificate must be refused");

    let store =
        Store::connect(&settings(format!("{url}?insecure=true"))).await.expect("insecure=true connects");
    assert!(store.try_acquire_lease("tls-test", Duration::from_secs(5)).await.unwrap());

    let mut config_key = settings(url);
    config_key.tls_insecure = true;
    let store = Store::connect(&config_key).await.expect("tls_insecure connects");
    assert_eq!(store.leader().await.unwrap().as_deref(), Some("tls-test"));
}
