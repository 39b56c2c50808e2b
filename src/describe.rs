//! Cron expressions in words, for the common shapes. Anything unusual is
//! shown as the expression alone: a wrong description is worse than none.

const WEEKDAY_NAMES: [&str; 8] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `daily at 03:00`, `every 15 minutes`, … or `None` when the expression has
/// no short reading.
pub fn cron(expr: &str) -> Option<String> {
    let expanded = match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return None;
    };
    let num = |s: &str| s.parse::<u32>().ok();
    let step = |s: &str| s.strip_prefix("*/").and_then(num);
    match (num(minute), num(hour), dom, month, dow) {
        (None, None, "*", "*", "*") if minute == "*" && hour == "*" => Some("every minute".into()),
        (None, None, "*", "*", "*") if hour == "*" => step(minute).map(|n| format!("every {n} minutes")),
        (Some(m), None, "*", "*", "*") if hour == "*" => Some(format!("hourly at :{m:02}")),
        (Some(m), None, "*", "*", "*") => step(hour).map(|n| format!("every {n} hours at :{m:02}")),
        (Some(m), Some(h), "*", "*", "*") => Some(format!("daily at {h:02}:{m:02}")),
        (Some(m), Some(h), "*", "*", "1-5") => Some(format!("weekdays at {h:02}:{m:02}")),
        (Some(m), Some(h), "*", "*", d) => {
            let day = num(d).and_then(|d| WEEKDAY_NAMES.get(d as usize))?;
            Some(format!("every {day} at {h:02}:{m:02}"))
        }
        (Some(m), Some(h), d, "*", "*") => num(d).map(|d| format!("monthly on day {d} at {h:02}:{m:02}")),
        (Some(m), Some(h), d, mo, "*") => {
            let (d, mo) = (num(d)?, num(mo)?);
            let name = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .get(mo.checked_sub(1)? as usize)?;
            Some(format!("yearly on {name} {d} at {h:02}:{m:02}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::cron;

    #[test]
    fn common_shapes() {
        let cases = [
            ("* * * * *", Some("every minute")),
            ("*/15 * * * *", Some("every 15 minutes")),
            ("5 * * * *", Some("hourly at :05")),
            ("@hourly", Some("hourly at :00")),
            ("0 */2 * * *", Some("every 2 hours at :00")),
            ("0 3 * * *", Some("daily at 03:00")),
            ("@daily", Some("daily at 00:00")),
            ("30 9 * * 1-5", Some("weekdays at 09:30")),
            ("0 8 * * 1", Some("every Monday at 08:00")),
            ("0 0 1 * *", Some("monthly on day 1 at 00:00")),
            ("@yearly", Some("yearly on Jan 1 at 00:00")),
            ("0 0 1,15 * *", None),
            ("0 0 * * MON", None),
            ("0 30 2 * * *", None),
        ];
        for (expr, want) in cases {
            assert_eq!(cron(expr).as_deref(), want, "{expr}");
        }
    }
}
