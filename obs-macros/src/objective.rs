//! The text of service-level objectives: `"99.9%"` and `"250ms @ 99%"`.
//!
//! Numbers are shifted as decimal text, not multiplied as floats, so `"99.9%"` becomes exactly the
//! literal `0.999` and `"75ms"` exactly `0.075`: the same doubles a user writes in `buckets`, so a
//! threshold can be compared with a bucket bound for equality.

/// A latency objective: `threshold_seconds` for `target` of the calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub threshold_seconds: f64,
    pub target: f64,
}

/// Parses a percentage strictly between 0% and 100% (`"99.9%"`) into a ratio (`0.999`).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some(number) = trimmed.strip_suffix('%') else {
        return Err(format!("`{trimmed}` is not a percentage: write it with `%`, e.g. \"99.9%\""));
    };
    let number = number.trim_end();
    let ratio = shift_decimal(number, 2)
        .ok_or_else(|| format!("`{trimmed}` is not a percentage: write a decimal number and `%`, e.g. \"99.9%\""))?;
    if ratio >= 1.0 {
        return Err(format!(
            "`{trimmed}` leaves no error budget, so every single failure would break the objective: use less than 100%, e.g. \"99.9%\""
        ));
    }
    if ratio < 0.5 {
        return Err(format!(
            "`{trimmed}` is below 50%: an objective states the share of calls that must go well, e.g. \"99.9%\""
        ));
    }
    Ok(ratio)
}

/// Parses a duration with a unit (`"250ms"`, `"1.5s"`, `"500us"`) into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| c.is_ascii_alphabetic() || c == 'µ').unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.trim().is_empty() {
        return Err(format!("`{trimmed}` is not a duration: write a decimal number and a unit, e.g. \"250ms\""));
    }
    let shift = match unit {
        "s" => 0,
        "ms" => 3,
        "us" | "µs" => 6,
        "" => {
            return Err(format!("`{trimmed}` has no unit: write e.g. \"250ms\" or \"1.5s\""));
        }
        other => return Err(format!("unknown duration unit `{other}` in `{trimmed}`: use `s`, `ms` or `us`")),
    };
    let seconds = shift_decimal(number.trim_end(), shift)
        .ok_or_else(|| format!("`{trimmed}` is not a duration: write a decimal number and a unit, e.g. \"250ms\""))?;
    if seconds <= 0.0 {
        return Err(format!("`{trimmed}` is not a positive duration: write e.g. \"250ms\""));
    }
    Ok(seconds)
}

/// Parses `"250ms @ 99%"`: a duration, `@`, and the share of calls that must be that fast.
pub fn parse_latency(text: &str) -> Result<Latency, String> {
    let Some((duration, percent)) = text.split_once('@') else {
        return Err(format!(
            "`{}` lacks the share of calls: write the threshold, `@` and a percentage, e.g. \"250ms @ 99%\"",
            text.trim()
        ));
    };
    Ok(Latency { threshold_seconds: parse_duration(duration)?, target: parse_percent(percent)? })
}

/// `digits` divided by `10^places`, shifting the decimal point in the text; `None` unless
/// `digits` is a plain non-negative decimal (`12`, `12.5`, `.5` is refused).
fn shift_decimal(digits: &str, places: usize) -> Option<f64> {
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !plain(whole) || !plain(fraction) || (digits.contains('.') && fraction.is_empty()) {
        return None;
    }
    let all_digits = format!("{whole}{fraction}");
    let point = whole.len();
    let text = if point > places {
        format!("{}.{}", &all_digits[..point - places], &all_digits[point - places..])
    } else {
        format!("0.{}{all_digits}", "0".repeat(places - point))
    };
    let value = text.trim_end_matches('.').parse::<f64>().ok()?;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_shift_exactly() {
        assert_eq!(parse_percent("99.9%"), Ok(0.999));
        assert_eq!(parse_percent("99%"), Ok(0.99));
        assert_eq!(parse_percent(" 99.95 % "), Ok(0.9995));
        assert_eq!(parse_percent("50%"), Ok(0.5));
    }

    #[test]
    fn bad_percentages_say_what_to_write() {
        assert!(parse_percent("99.9").unwrap_err().contains("with `%`"));
        assert!(parse_percent("100%").unwrap_err().contains("no error budget"));
        assert!(parse_percent("120%").unwrap_err().contains("no error budget"));
        assert!(parse_percent("10%").unwrap_err().contains("below 50%"));
        assert!(parse_percent("abc%").unwrap_err().contains("decimal number"));
        assert!(parse_percent("-5%").unwrap_err().contains("decimal number"));
        assert!(parse_percent("9.%").unwrap_err().contains("decimal number"));
    }

    #[test]
    fn durations_shift_exactly() {
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("75ms"), Ok(0.075));
        assert_eq!(parse_duration("1.5s"), Ok(1.5));
        assert_eq!(parse_duration("10s"), Ok(10.0));
        assert_eq!(parse_duration("500us"), Ok(0.0005));
        assert_eq!(parse_duration("2500ms"), Ok(2.5));
    }

    #[test]
    fn bad_durations_say_what_to_write() {
        assert!(parse_duration("250").unwrap_err().contains("no unit"));
        assert!(parse_duration("250min").unwrap_err().contains("unknown duration unit `min`"));
        assert!(parse_duration("0ms").unwrap_err().contains("positive"));
        assert!(parse_duration("fast").unwrap_err().contains("not a duration"));
        assert!(parse_duration("1,5s").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn latency_needs_both_parts() {
        assert_eq!(parse_latency("250ms @ 99%"), Ok(Latency { threshold_seconds: 0.25, target: 0.99 }));
        assert_eq!(parse_latency("1s@95%"), Ok(Latency { threshold_seconds: 1.0, target: 0.95 }));
        assert!(parse_latency("250ms").unwrap_err().contains("`@`"));
        assert!(parse_latency("250ms @ 99").unwrap_err().contains("with `%`"));
    }
}
