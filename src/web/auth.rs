//! Who may use the dashboard: HTTP basic auth against one configured user,
//! and the CSRF token every form carries.
//!
//! Basic auth credentials are sent by the browser on every request, from any
//! page that makes one, so a POST also needs the CSRF token (which another
//! site cannot read) and must not come from another origin.

use axum::http::{HeaderMap, header};
use base64::Engine;
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

    /// The CSRF token of this deployment. Derived from the password, so
    /// every dashboard process behind one URL agrees on it without sharing
    /// state; without a password, random per process.
    pub fn csrf_token(&self) -> String {
        let key = match self {
            Auth::Basic { user, password } => {
                hmac::Key::new(hmac::HMAC_SHA256, format!("{user}\0{password}").as_bytes())
            }
            Auth::Open => hmac::Key::new(hmac::HMAC_SHA256, &random_bytes()),
        };
        hex(hmac::sign(&key, b"campanile dashboard csrf").as_ref())
    }
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

fn random_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the system has a random source");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn csrf_token_is_stable_per_password_and_random_without() {
        let a = Auth::Basic { user: "u".into(), password: "p".into() };
        let b = Auth::Basic { user: "u".into(), password: "q".into() };
        assert_eq!(a.csrf_token(), a.csrf_token());
        assert_ne!(a.csrf_token(), b.csrf_token());
        assert_ne!(Auth::Open.csrf_token(), Auth::Open.csrf_token());
        assert_eq!(a.csrf_token().len(), 64);
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
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
