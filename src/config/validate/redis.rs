//! `[redis]`: the connection, cluster nodes and key prefix.

use super::*;

pub(super) const REDIS_KEYS: &[&str] =
    &["url", "prefix", "tls_insecure", "cluster", "wait_replicas", "wait_timeout_ms"];

pub(super) fn validate_redis(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> RedisSettings {
    let mut settings = RedisSettings::default();
    let Some(table) = table_of(ctx, value, None, "redis") else { return settings };
    for (k, v) in table {
        let value = v.get_ref();
        let result = match k.get_ref().as_ref() {
            "url" => as_str(value).and_then(parse_redis_url).map(|u| settings.url = Some(u.to_owned())),
            "prefix" => as_str(value).and_then(parse_prefix).map(|p| settings.prefix = p.to_owned()),
            "tls_insecure" => as_bool(value).map(|b| settings.tls_insecure = b),
            "cluster" => {
                string_list(value).and_then(|nodes| parse_cluster(&nodes)).map(|n| settings.cluster = n)
            }
            "wait_replicas" => as_int(value)
                .and_then(|n| u32::try_from(n).map_err(|_| invalid!("{n} is not a number of replicas")))
                .map(|n| settings.wait_replicas = n),
            "wait_timeout_ms" => as_int(value)
                .and_then(|n| match n {
                    1..=60_000 => Ok(n as u64),
                    _ => Err(invalid!("{n} is not between 1 and 60000 milliseconds")),
                })
                .map(|n| settings.wait_timeout_ms = n),
            _ => {
                ctx.unknown_key(k, None, &[REDIS_KEYS]);
                Ok(())
            }
        };
        if let Err(message) = result {
            ctx.error(&v.span(), None, Some(&format!("redis.{}", k.get_ref())), message.into_message());
        }
    }
    if !settings.cluster.is_empty()
        && let Some(url) = table.get("url")
    {
        ctx.error(&url.span(), None, Some("redis.url"), "set either url or cluster, not both".into());
    }
    settings
}

pub(super) fn parse_redis_url(url: &str) -> Result<&str, Invalid> {
    if !crate::config::redis::is_known_scheme(url) {
        return Err("expected a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL".into());
    }
    let settings = RedisSettings { url: Some(url.to_owned()), ..RedisSettings::default() };
    settings.topology()?;
    Ok(url)
}

pub(super) fn parse_cluster(nodes: &[String]) -> Result<Vec<String>, Invalid> {
    if nodes.is_empty() {
        return Err("list at least one node".into());
    }
    if let Some(bad) = nodes.iter().find(|n| !n.starts_with("redis://") && !n.starts_with("rediss://")) {
        return Err(invalid!("expected redis:// or rediss:// node URLs, found {bad:?}"));
    }
    Ok(nodes.to_vec())
}

pub(super) fn parse_prefix(prefix: &str) -> Result<&str, Invalid> {
    if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.chars().any(char::is_whitespace) {
        return Err(invalid!("{prefix:?} must be non-empty, without braces or whitespace"));
    }
    Ok(prefix)
}
