//! `[redis]`: where the clock and workers find Redis.

use crate::store::keys::DEFAULT_PREFIX;

/// The URL used when neither `[redis] url` nor `REDIS_URL` is set.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `[redis] url`; when `None`, `REDIS_URL` or [`DEFAULT_URL`].
    pub url: Option<String>,
    /// Prefix of every key (`campanile:`).
    pub prefix: String,
    /// Accept any TLS certificate (Heroku Redis uses self-signed ones); also
    /// `?insecure=true` on the URL or `CAMPANILE_REDIS_INSECURE=1`.
    pub tls_insecure: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings { url: None, prefix: DEFAULT_PREFIX.into(), tls_insecure: false }
    }
}

impl RedisSettings {
    /// The configured URL: `[redis] url`, else `REDIS_URL`, else the default.
    pub fn url(&self) -> String {
        self.url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.into())
    }

    /// The URL in the form the redis client takes: `?insecure=true` (or
    /// `tls_insecure`) becomes its `#insecure` fragment.
    pub fn connection_url(&self) -> Result<String, String> {
        let url = self.url();
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base.to_owned(), Some(query.to_owned())),
            None => (url.clone(), None),
        };
        let mut insecure = self.tls_insecure || base.ends_with("#insecure") || insecure_from_env();
        let base = base.trim_end_matches("#insecure").to_owned();
        let mut kept = Vec::new();
        for pair in query.iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            match pair {
                "insecure=true" | "insecure=1" | "insecure" | "ssl_cert_reqs=none" => insecure = true,
                "insecure=false" | "insecure=0" => {}
                other => kept.push(other.to_owned()),
            }
        }
        if !base.starts_with("rediss://") {
            if insecure && !insecure_from_env() {
                return Err("insecure applies only to rediss:// (TLS) URLs".into());
            }
            insecure = false;
        }
        let mut out = base;
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        if insecure {
            out.push_str("#insecure");
        }
        Ok(out)
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url())
    }
}

/// `CAMPANILE_REDIS_INSECURE=1` (or `true`): for platforms that manage
/// `REDIS_URL` themselves.
fn insecure_from_env() -> bool {
    std::env::var("CAMPANILE_REDIS_INSECURE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((auth, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> RedisSettings {
        RedisSettings { url: Some(url.into()), ..RedisSettings::default() }
    }

    #[test]
    fn insecure_query_becomes_the_client_fragment() {
        assert_eq!(
            with_url("rediss://h:6380?insecure=true").connection_url().unwrap(),
            "rediss://h:6380#insecure"
        );
        assert_eq!(
            with_url("rediss://h:6380/0?insecure=1&x=y").connection_url().unwrap(),
            "rediss://h:6380/0?x=y#insecure"
        );
        let mut s = with_url("rediss://h:6380");
        s.tls_insecure = true;
        assert_eq!(s.connection_url().unwrap(), "rediss://h:6380#insecure");
        assert_eq!(with_url("redis://h:6379").connection_url().unwrap(), "redis://h:6379");
        assert!(with_url("redis://h?insecure=true").connection_url().is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("rediss://:p4ss@ec2.example.com:6380"), "rediss://:***@ec2.example.com:6380");
        assert_eq!(redact("redis://user:p4ss@h"), "redis://user:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
