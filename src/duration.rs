//! Human durations as clock.toml writes them: `30s`, `5m`, `1h30m`, `2d`.

use std::fmt;
use std::time::Duration;

/// A whole number of seconds, parsed from units `d`, `h`, `m`, `s` written
/// largest first, each at most once (`1h30m`, `90s`, `2d12h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_secs(secs: u64) -> Span {
        Span(secs)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    pub const fn as_duration(self) -> Duration {
        Duration::from_secs(self.0)
    }

    pub fn parse(text: &str) -> Result<Span, SpanError> {
        const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
        let expected = || SpanError::NotADuration(text.to_owned());
        if text.is_empty() {
            return Err(expected());
        }
        let mut total: u64 = 0;
        let mut rest = text;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit = rest[digits..].chars().next().ok_or_else(expected)?;
            let Some(pos) = UNITS[next_unit..].iter().position(|(u, _)| *u == unit) else {
                return Err(expected());
            };
            if digits == 0 {
                return Err(expected());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| expected())?;
            let (_, secs) = UNITS[next_unit + pos];
            total = n
                .checked_mul(secs)
                .and_then(|s| total.checked_add(s))
                .filter(|t| *t <= 100 * 365 * 86_400)
                .ok_or_else(|| SpanError::TooLarge(text.to_owned()))?;
            next_unit += pos + 1;
            rest = &rest[digits + 1..];
        }
        Ok(Span(total))
    }
}

/// Why a text is not a [`Span`]; the message quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("{0:?} is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)")]
    NotADuration(String),
    #[error("{0:?} is too large (max 100 years)")]
    TooLarge(String),
}

impl fmt::Display for Span {
    /// The canonical form: `1h30m`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Span {
    type Err = SpanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Span::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_largest_first() {
        assert_eq!(Span::parse("30s"), Ok(Span(30)));
        assert_eq!(Span::parse("5m"), Ok(Span(300)));
        assert_eq!(Span::parse("1h30m"), Ok(Span(5400)));
        assert_eq!(Span::parse("2d12h"), Ok(Span(216_000)));
        assert_eq!(Span::parse("90s"), Ok(Span(90)));
        assert_eq!(Span::parse("0s"), Ok(Span(0)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "5", "m", "5x", "30m1h", "1h1h", "-5m", "1.5h", "5 m", " 5m", "5mm", "1h30"] {
            assert!(Span::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(Span(5400).to_string(), "1h30m");
        assert_eq!(Span(86_461).to_string(), "1d1m1s");
        assert_eq!(Span(0).to_string(), "0s");
    }
}
