//! Secrets out of URLs, for messages, logs and what is published: the
//! passwords of Redis URLs, the paths of webhook and monitor URLs.

/// Every password of a URL replaced by `***`, for messages and logs: the
/// userinfo's (`redis://user:secret@host` → `redis://user:***@host`, and a
/// bare `token@host` wholly) and every query parameter named like a
/// password (`?sentinel_password=`, `?password=`). A password holding an
/// unencoded `@` or `?` is still removed whole.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (auth, rest) = split_userinfo(rest);
    let mut out = format!("{scheme}://");
    match auth.map(|a| a.split_once(':')) {
        None => {}
        Some(Some((user, _))) => out.push_str(&format!("{user}:***@")),
        Some(None) => out.push_str("***@"),
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    match rest.split_once('?') {
        Some((base, query)) => {
            let pairs: Vec<String> = query.split('&').map(redact_param).collect();
            out.push_str(&format!("{base}?{}", pairs.join("&")));
        }
        None => out.push_str(rest),
    }
    if let Some(fragment) = fragment {
        out.push_str(&format!("#{fragment}"));
    }
    out
}

/// The userinfo of `rest` (what follows `scheme://`) and the remainder.
/// The userinfo ends at the last `@` before the query; when that part has
/// none, an `@` in what follows the first `?` still ends a userinfo unless
/// the `?` starts a `key=value` query (a password holding `?`).
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let base = rest.split('?').next().unwrap_or(rest);
    if let Some(at) = base.rfind('@') {
        return (Some(&rest[..at]), &rest[at + 1..]);
    }
    let query = &rest[base.len()..];
    let first = query.trim_start_matches('?').split('&').next().unwrap_or("");
    let param_shaped = first.find('=').is_some_and(|eq| first.find('@').is_none_or(|at| eq < at));
    match rest.rfind('@') {
        Some(at) if !param_shaped => (Some(&rest[..at]), &rest[at + 1..]),
        _ => (None, rest),
    }
}

/// `key=value`, with the value replaced when the key names a password.
fn redact_param(pair: &str) -> String {
    match pair.split_once('=') {
        Some((key, _))
            if key.to_ascii_lowercase().contains("password") || key.eq_ignore_ascii_case("pass") =>
        {
            format!("{key}=***")
        }
        _ => pair.to_owned(),
    }
}

/// A URL whose path is its secret (a Slack webhook's, a healthchecks.io
/// check's UUID, a Cronitor key) reduced to its scheme and host:
/// `https://hc-ping.com/<uuid>` → `https://hc-ping.com/…`. Userinfo, path
/// and query all go.
pub fn host_only(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "***".into() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}/…")
}

#[cfg(test)]
mod tests {
    use super::host_only;

    #[test]
    fn host_only_keeps_scheme_and_host() {
        assert_eq!(host_only("https://hc-ping.com/5f3e-uuid/start"), "https://hc-ping.com/…");
        assert_eq!(host_only("https://cronitor.link/p/KEY/nightly?state=run"), "https://cronitor.link/…");
        assert_eq!(host_only("http://u:pw@127.0.0.1:9/x"), "http://127.0.0.1:9/…");
        assert_eq!(host_only("https://h?token=s3cret"), "https://h/…");
        assert_eq!(host_only("not a url"), "***");
    }
}
