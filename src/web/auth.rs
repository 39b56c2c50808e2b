//! Who may use the dashboard: HTTP basic auth against one configured user,
//! and the CSRF token every form carries.
//!
//! Basic auth credentials are sent by the browser on every request, from any
//! page that makes one, so a POST also needs the CSRF token (which another
//! site cannot read) and must not come from another origin.

use axum::http::{HeaderMap, header};
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::{digest, hmac};

/// How requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    /// HTTP basic auth with this user and password.
    Basic { user: String, password: String },
    /// No authentication: on a loopback address, or explicitly opted out of.
    Open,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user:?})"),
            Auth::Open => f.write_str("Open"),
        }
    }
}

impl Auth {
    /// Whether the request carries the right credentials. The comparison
    /// takes the same time however much of a guess is right.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Auth::Basic { user, password } = self else { return true };
        let Some((given_user, given_password)) = basic_credentials(headers) else { return false };
        // Both comparisons always run: `&` does not short-circuit.
        constant_time_eq(given_user.as_bytes(), user.as_bytes())
            & constant_time_eq(given_password.as_bytes(), password.as_bytes())
    }
}

/// How long a CSRF token is accepted after it was issued: a page left open
/// for a working day still works; a leaked token stops working.
pub const CSRF_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// How far in the future a token's issue time may lie: dashboards behind
/// one URL may disagree on the time by this much.
const CSRF_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// How long after an action its notice still shows (a reload of the page
/// it led to).
pub const NOTICE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// CSRF tokens: `<issued_at>.<tag>`, `issued_at` in Unix seconds and `tag`
/// the hex HMAC-SHA256 of `campanile csrf <issued_at>` under a secret that
/// is not the password (`CAMPANILE_WEB_SECRET`, else a random secret kept
/// in Redis), so every dashboard of a deployment accepts the others'
/// tokens, a token says nothing about the password, and it expires.
pub struct Csrf {
    key: hmac::Key,
}

impl Csrf {
    pub fn new(secret: &[u8]) -> Csrf {
        Csrf { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// A token issued at `now`.
    pub fn issue(&self, now: DateTime<Utc>) -> String {
        let issued_at = now.timestamp();
        format!("{issued_at}.{}", hex(hmac::sign(&self.key, &Csrf::message(issued_at)).as_ref()))
    }

    /// Whether `token` was issued with this secret within [`CSRF_LIFETIME`]
    /// of `now`. The tag is checked in constant time.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.verify_issued(token, now, CSRF_LIFETIME, Csrf::message)
    }

    /// Whether `token` is `<issued_at>.<HMAC of message(issued_at)>`,
    /// issued within `lifetime` of `now`.
    fn verify_issued(
        &self,
        token: &str,
        now: DateTime<Utc>,
        lifetime: chrono::Duration,
        message: impl Fn(i64) -> Vec<u8>,
    ) -> bool {
        let Some((issued, tag)) = token.split_once('.') else { return false };
        let (Ok(issued_at), Some(tag)) = (issued.parse::<i64>(), unhex(tag)) else { return false };
        let Some(issued) = DateTime::from_timestamp(issued_at, 0) else { return false };
        if issued > now + CSRF_SKEW || now - issued > lifetime {
            return false;
        }
        hmac::verify(&self.key, &message(issued_at), &tag).is_ok()
    }

    fn message(issued_at: i64) -> Vec<u8> {
        format!("campanile csrf {issued_at}").into_bytes()
    }

    /// A tag for the notice `text` (an action's outcome put in the URL it
    /// redirects to) issued at `now`: `<issued_at>.<HMAC>`, so a page shows
    /// only notices this deployment's actions wrote.
    pub fn sign_notice(&self, text: &str, now: DateTime<Utc>) -> String {
        let issued_at = now.timestamp();
        format!("{issued_at}.{}", hex(hmac::sign(&self.key, &Csrf::notice(text, issued_at)).as_ref()))
    }

    /// Whether `tag` is [`Csrf::sign_notice`]'s for `text`, issued within
    /// [`NOTICE_LIFETIME`] of `now`.
    pub fn verify_notice(&self, text: &str, tag: &str, now: DateTime<Utc>) -> bool {
        self.verify_issued(tag, now, NOTICE_LIFETIME, |issued_at| Csrf::notice(text, issued_at))
    }

    fn notice(text: &str, issued_at: i64) -> Vec<u8> {
        format!("campanile notice {issued_at} {text}").into_bytes()
    }
}

/// A fresh random secret for [`Csrf`], as text (64 hex digits).
pub fn random_secret() -> String {
    hex(&random_bytes())
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Equality whose running time does not depend on where the inputs differ:
/// both sides are hashed to a fixed length first, so not even the length
/// of the secret shows.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (digest::digest(&digest::SHA256, a), digest::digest(&digest::SHA256, b));
    let diff = a.as_ref().iter().zip(b.as_ref()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Whether a state-changing request comes from the dashboard's own pages:
/// the browser's `Sec-Fetch-Site` and `Origin` headers, when it sends them,
/// must not name another site.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (get("origin"), get("host")) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, rest)| rest == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Whether an open dashboard answers a request with this `Host`: a
/// loopback name (`localhost`, `127.0.0.0/8`, `[::1]`, any port) or one of
/// `allowed` (lowercase `name` or `name:port`).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = host_name(&host).trim_end_matches('.');
    let loopback = name == "localhost"
        || name == "[::1]"
        || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    loopback || allowed.iter().any(|a| *a == host || a == name)
}

/// `name` of `name:port`; `[v6]` of `[v6]:port`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn random_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system has a random source");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_auth_admits_only_the_configured_user() {
        let auth = Auth::Basic { user: "ops".into(), password: "s3cret:x".into() };
        let encode = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert!(auth.admits(&with_auth(&encode("ops:s3cret:x"))));
        assert!(!auth.admits(&with_auth(&encode("ops:s3cret"))));
        assert!(!auth.admits(&with_auth(&encode("op:s3cret:x"))));
        assert!(!auth.admits(&with_auth("Bearer abc")));
        assert!(!auth.admits(&HeaderMap::new()));
        assert!(Auth::Open.admits(&HeaderMap::new()));
    }

    #[test]
    fn csrf_tokens_verify_under_their_secret_until_they_expire() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (csrf, other) = (Csrf::new(b"secret one"), Csrf::new(b"secret two"));
        let token = csrf.issue(now);
        assert!(token.starts_with("1800000000."), "{token}");
        assert!(csrf.verify(&token, now));
        assert!(csrf.verify(&token, now + CSRF_LIFETIME));
        assert!(!csrf.verify(&token, now + CSRF_LIFETIME + chrono::Duration::seconds(1)));
        assert!(!csrf.verify(&token, now - chrono::Duration::minutes(6)), "issued in the future");
        assert!(!other.verify(&token, now));
        let (_, tag) = token.split_once('.').unwrap();
        assert!(!csrf.verify(&format!("1800000001.{tag}"), now));
        for bad in ["", ".", "x.y", "1800000000", "1800000000.zz", "99999999999999999999.00"] {
            assert!(!csrf.verify(bad, now), "{bad:?}");
        }
        assert_ne!(random_secret(), random_secret());
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[("host", "a:8080"), ("origin", "http://a:8080")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[("host", "a:8080"), ("origin", "http://evil:8080")])));
        assert!(!same_origin(&headers(&[("host", "a:8080"), ("origin", "null")])));
    }

    #[test]
    fn open_dashboards_answer_loopback_and_allowed_hosts_only() {
        let allowed = ["dash.internal".to_owned(), "proxy:8443".to_owned()];
        for host in
            ["localhost", "LOCALHOST:8080", "localhost.", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:8080"]
        {
            assert!(host_allowed(host, &[]), "{host}");
        }
        for host in ["dash.internal", "Dash.Internal:9", "proxy:8443"] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        let refused = [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "[::2]",
            "",
            "proxy:80",
            "0.0.0.0",
        ];
        for host in refused {
            assert!(!host_allowed(host, &allowed), "{host}");
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
