//! The crontab grammar, field by field. Every error names the field and the
//! offending text, which is what `clock check` shows the user.

use super::{Cron, Field};

/// Why an expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct CronError {
    /// The field at fault, or `None` for a whole-expression error (wrong
    /// field count, unknown macro, empty expression).
    pub field: Option<Field>,
    pub message: String,
}

impl CronError {
    fn whole(message: impl Into<String>) -> Self {
        CronError { field: None, message: message.into() }
    }
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn expand_macro(expr: &str) -> Result<&'static str, CronError> {
    Ok(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(CronError::whole(format!(
                "unknown macro {expr:?} (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)"
            )));
        }
    })
}

pub(super) fn parse(source: &str) -> Result<Cron, CronError> {
    let trimmed = source.trim_matches([' ', '\t']);
    if trimmed.is_empty() {
        return Err(CronError::whole("empty expression"));
    }
    let body = if trimmed.starts_with('@') { expand_macro(trimmed)? } else { trimmed };
    let fields: Vec<&str> = body.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
    let (second, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(CronError::whole(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found {n}"
            )));
        }
    };
    let mut cron = Cron::empty();
    cron.seconds = parse_plain(Field::Second, second)?;
    cron.minutes = parse_plain(Field::Minute, rest[0])?;
    cron.hours = parse_plain(Field::Hour, rest[1])? as u32;
    parse_day_of_month(&mut cron, rest[2])?;
    cron.months = parse_plain(Field::Month, rest[3])? as u16;
    parse_day_of_week(&mut cron, rest[4])?;
    let dom_star = starts_star(rest[2]);
    let dow_star = starts_star(rest[4]);
    cron.days_and = dom_star || dow_star;
    cron.wildcard =
        (fields.len() == 6 && starts_star(second)) || starts_star(rest[0]) || starts_star(rest[1]);
    if !cron.can_ever_match() {
        return Err(CronError {
            field: Some(Field::DayOfMonth),
            message: "no day of the chosen months matches, so the expression never fires".into(),
        });
    }
    Ok(cron)
}

/// cronie's rule: a day field "is `*`" when its text starts with `*`; `?`
/// is accepted as a synonym of `*`.
fn starts_star(field: &str) -> bool {
    field.starts_with('*') || field.starts_with('?')
}

fn err(field: Field, message: impl Into<String>) -> CronError {
    CronError { field: Some(field), message: message.into() }
}

/// Splits a field into its comma-separated elements, rejecting empty ones.
fn elements(field: Field, text: &str) -> Result<impl Iterator<Item = &str>, CronError> {
    if text.split(',').any(str::is_empty) {
        return Err(err(field, format!("{text:?} has an empty list element")));
    }
    Ok(text.split(','))
}

/// A field made only of `*`, numbers, names, ranges and steps.
fn parse_plain(field: Field, text: &str) -> Result<u64, CronError> {
    let mut mask = 0u64;
    for element in elements(field, text)? {
        mask |= parse_element(field, element)?;
    }
    Ok(mask)
}

/// One `*`, `*/S`, `N`, `N/S`, `N-M` or `N-M/S` element as a bit mask.
fn parse_element(field: Field, element: &str) -> Result<u64, CronError> {
    let (min, max) = field.range();
    let (base, step) = match element.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(field, step)?)),
        None => (element, None),
    };
    let (lo, hi) = if base == "*" || (base == "?" && field.is_day()) {
        (min, max)
    } else if let Some((a, b)) = base.split_once('-') {
        let lo = parse_value(field, a)?;
        let mut hi = parse_value(field, b)?;
        if field == Field::DayOfWeek && hi == 0 && lo > 0 {
            hi = 7; // `5-0` and `FRI-SUN` run up to Sunday.
        }
        if lo > hi {
            return Err(err(field, format!("range {base:?} is reversed")));
        }
        (lo, hi)
    } else {
        let v = parse_value(field, base)?;
        (v, if step.is_some() { max } else { v })
    };
    let step = step.unwrap_or(1);
    let mut mask = 0u64;
    let mut v = lo;
    while v <= hi {
        mask |= 1 << v;
        v += step;
    }
    if field == Field::DayOfWeek && mask & (1 << 7) != 0 {
        mask = (mask | 1) & !(1 << 7); // 7 is Sunday too.
    }
    Ok(mask)
}

fn parse_step(field: Field, text: &str) -> Result<u32, CronError> {
    let step = parse_number(text).ok_or_else(|| err(field, format!("step {text:?} is not a number")))?;
    let (min, max) = field.range();
    if step == 0 {
        return Err(err(field, "step must be at least 1"));
    }
    if step > max - min + 1 {
        return Err(err(field, format!("step {step} is too large (max {})", max - min + 1)));
    }
    Ok(step)
}

/// Plain ASCII decimal digits only: no sign, no radix prefix, no exponent.
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_value(field: Field, text: &str) -> Result<u32, CronError> {
    let (min, max) = field.range();
    if let Some(v) = parse_number(text) {
        if v < min || v > max {
            return Err(err(field, format!("{v} is out of range {min}-{max}")));
        }
        return Ok(v);
    }
    let names: &[&str] = match field {
        Field::Month => &MONTHS,
        Field::DayOfWeek => &WEEKDAYS,
        _ => &[],
    };
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(if field == Field::Month { i as u32 + 1 } else { i as u32 });
    }
    if text.is_empty() {
        return Err(err(field, "a range is missing a value"));
    }
    if names.is_empty() && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(err(field, format!("{text:?}: names are not allowed in this field")));
    }
    Err(err(field, format!("{text:?} is not a valid value")))
}

fn parse_day_of_month(cron: &mut Cron, text: &str) -> Result<(), CronError> {
    let field = Field::DayOfMonth;
    for element in elements(field, text)? {
        match element {
            "L" | "l" => cron.last_day = true,
            "LW" | "lw" => cron.last_weekday = true,
            _ => match element.strip_suffix(['W', 'w']) {
                Some(day) => {
                    let day = parse_number(day)
                        .ok_or_else(|| err(field, format!("{element:?}: W needs a day number, like 15W")))?;
                    if !(1..=31).contains(&day) {
                        return Err(err(field, format!("{day} is out of range 1-31")));
                    }
                    cron.nearest_weekday |= 1 << day;
                }
                None => cron.days |= parse_element(field, element)? as u32,
            },
        }
    }
    Ok(())
}

fn parse_day_of_week(cron: &mut Cron, text: &str) -> Result<(), CronError> {
    let field = Field::DayOfWeek;
    for element in elements(field, text)? {
        if let Some((day, nth)) = element.split_once('#') {
            let day = parse_value(field, day)? % 7;
            let nth = parse_number(nth)
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| err(field, format!("{element:?}: #N needs N in 1-5")))?;
            cron.nth_weekday[day as usize] |= 1 << nth;
        } else if let Some(day) = element.strip_suffix(['L', 'l']).filter(|d| !d.is_empty()) {
            let day = parse_value(field, day)? % 7;
            cron.last_of_weekday |= 1 << day;
        } else {
            cron.weekdays |= parse_element(field, element)? as u8;
        }
    }
    Ok(())
}
