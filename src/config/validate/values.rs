//! Single TOML values to typed settings, each with the message that
//! says what was expected.

use super::*;

pub(super) fn string_list(value: &DeValue<'_>) -> Result<Vec<String>, Invalid> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("expected an array of strings, found {}", value.type_str()))?;
    items
        .iter()
        .map(|v| {
            v.get_ref()
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Invalid::from("expected an array of strings"))
        })
        .collect()
}

pub(super) fn as_str<'a>(value: &'a DeValue<'_>) -> Result<&'a str, Invalid> {
    value.as_str().ok_or_else(|| invalid!("expected a string, found {}", value.type_str()))
}

pub(super) fn as_bool(value: &DeValue<'_>) -> Result<bool, Invalid> {
    value.as_bool().ok_or_else(|| invalid!("expected true or false, found {}", value.type_str()))
}

pub(super) fn as_int(value: &DeValue<'_>) -> Result<i64, Invalid> {
    let int = value.as_integer().ok_or_else(|| format!("expected an integer, found {}", value.type_str()))?;
    i64::from_str_radix(int.as_str(), int.radix()).map_err(|_| invalid!("{int} is too large"))
}

pub(super) fn as_span(value: &DeValue<'_>) -> Result<Span, Invalid> {
    as_str(value).and_then(|s| Ok(Span::parse(s)?))
}

/// An `http://` or `https://` URL without whitespace.
pub(super) fn http_url(s: &str) -> Result<&str, Invalid> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !s.chars().any(char::is_whitespace) => Ok(s),
        _ => Err(invalid!("{s:?} is not an http:// or https:// URL")),
    }
}

/// `start_within`: a duration, or `"off"`.
pub(super) fn parse_start_within(value: &DeValue<'_>) -> Result<StartWithin, Invalid> {
    match as_str(value)? {
        "off" => Ok(StartWithin::Off),
        _ => positive_span(value).map(StartWithin::Within).map_err(|e| invalid!("{e}, or \"off\"")),
    }
}

/// `ping_url`: one base URL (healthchecks.io's convention: `<url>/start`,
/// `<url>`, `<url>/fail`), or a table naming each of them.
pub(super) fn parse_ping(value: &DeValue<'_>) -> Result<PingUrls, Invalid> {
    if let DeValue::String(base) = value {
        let base = http_url(base)?.trim_end_matches('/');
        return Ok(PingUrls {
            start: Some(format!("{base}/start")),
            success: Some(base.to_owned()),
            fail: Some(format!("{base}/fail")),
        });
    }
    let DeValue::Table(table) = value else {
        return Err("expected a URL, or a table with start, success and fail URLs".into());
    };
    let mut ping = PingUrls::default();
    for (k, v) in table {
        let url = as_str(v.get_ref()).and_then(http_url).map_err(|e| format!("{}: {e}", k.get_ref()))?;
        let target = match k.get_ref().as_ref() {
            "start" => &mut ping.start,
            "success" => &mut ping.success,
            "fail" => &mut ping.fail,
            other => return Err(invalid!("unknown key {other:?} (expected start, success or fail)")),
        };
        *target = Some(url.to_owned());
    }
    if ping == PingUrls::default() {
        return Err("an empty table: give at least one of start, success and fail".into());
    }
    Ok(ping)
}

pub(super) fn positive_span(value: &DeValue<'_>) -> Result<Span, Invalid> {
    let span = as_span(value)?;
    if span == Span::ZERO {
        return Err("must be longer than 0s".into());
    }
    Ok(span)
}

/// The longest string `execve(2)` takes as one argument or environment
/// entry on Linux (`MAX_ARG_STRLEN` is 32 pages, the terminating nul
/// included).
pub(super) const MAX_ENV_STRING: usize = 131_072 - 1;

/// A command `sh -c` can be given: no nul byte, no longer than one
/// argument can be.
pub(super) fn executable_command(s: &str) -> Result<&str, Invalid> {
    if s.contains('\0') {
        return Err("contains a nul byte, which no command can be given".into());
    }
    if s.len() > MAX_ENV_STRING {
        return Err(invalid!("is {} bytes; a command can be at most {MAX_ENV_STRING} bytes", s.len()));
    }
    Ok(s)
}

pub(super) fn non_empty(s: &str) -> Result<&str, Invalid> {
    if s.trim().is_empty() { Err("must not be empty".into()) } else { Ok(s) }
}

pub(super) fn parse_zone(name: &str) -> Result<Tz, Invalid> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let folded = |s: &str| s.to_ascii_lowercase().replace([' ', '-'], "_");
    let hint = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| folded(tz.name()) == folded(name))
        .map(|tz| format!(" (did you mean {:?}?)", tz.name()))
        .unwrap_or_else(|| " (expected an IANA name such as \"Europe/London\")".into());
    Err(invalid!("unknown time zone {name:?}{hint}"))
}

pub(super) fn parse_retries(n: i64) -> Result<u32, Invalid> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_RETRIES)
        .ok_or_else(|| invalid!("{n} is out of range 0-{MAX_RETRIES}"))
}

pub(super) fn parse_catch_up(s: &str) -> Result<CatchUp, Invalid> {
    match s {
        "latest" => Ok(CatchUp::Latest),
        "all" => Ok(CatchUp::All),
        "none" => Ok(CatchUp::None),
        _ => Err(invalid!("{s:?} is not one of \"latest\", \"all\", \"none\"")),
    }
}

pub(super) fn parse_overlap(s: &str) -> Result<Overlap, Invalid> {
    match s {
        "skip" => Ok(Overlap::Skip),
        "allow" => Ok(Overlap::Allow),
        _ => Err(invalid!("{s:?} is not one of \"skip\", \"allow\"")),
    }
}

/// `at` as an RFC 3339 instant, or a local date-time in the job's zone;
/// either as a TOML string or a TOML date-time.
pub(super) fn parse_at(value: &DeValue<'_>) -> Result<RawInstant, Invalid> {
    let text = match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(dt) => dt.to_string(),
        other => return Err(invalid!("expected a date-time, found {}", other.type_str())),
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(RawInstant::Utc(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&text, format) {
            return Ok(RawInstant::Local(local));
        }
    }
    Err(invalid!(
        "{text:?} is not a date-time (expected RFC 3339 like \"2026-12-01T09:00:00+01:00\", or a local \"2026-12-01T09:00:00\" in the job's timezone)"
    ))
}

pub(super) fn parse_env(value: &DeValue<'_>) -> Result<BTreeMap<String, String>, Invalid> {
    let table =
        value.as_table().ok_or_else(|| format!("expected a table of strings, found {}", value.type_str()))?;
    let mut env = BTreeMap::new();
    for (k, v) in table {
        let name = k.get_ref().as_ref();
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(invalid!("{name:?} is not a valid environment variable name"));
        }
        let value = v
            .get_ref()
            .as_str()
            .ok_or_else(|| format!("{name}: expected a string, found {}", v.get_ref().type_str()))?;
        if value.contains('\0') {
            return Err(invalid!("{name}: contains a nul byte, which no environment can hold"));
        }
        let size = name.len() + 1 + value.len();
        if size > MAX_ENV_STRING {
            return Err(invalid!(
                "{name}: \"{name}=…\" is {size} bytes; one environment string can be at most {MAX_ENV_STRING} bytes"
            ));
        }
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}

/// Any TOML value as JSON; date-times become RFC 3339 strings.
pub(super) fn to_json(value: &DeValue<'_>) -> Result<serde_json::Value, Invalid> {
    use serde_json::Value;
    Ok(match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let n = i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| format!("{i} is too large"))?;
            Value::from(n)
        }
        DeValue::Float(f) => {
            let n: f64 = f.as_str().replace('_', "").parse().map_err(|_| format!("{f} is not a number"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("{f} cannot be represented in JSON"))?
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(dt) => Value::String(dt.to_string()),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|v| to_json(v.get_ref())).collect::<Result<_, _>>()?)
        }
        DeValue::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), to_json(v.get_ref())?)))
                .collect::<Result<_, Invalid>>()?,
        ),
    })
}
