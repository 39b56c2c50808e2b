//! Passwords out of Redis URLs, for messages and logs.

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
