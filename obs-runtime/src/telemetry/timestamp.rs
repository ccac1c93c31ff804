//! RFC 3339 UTC timestamps with microseconds, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `2026-11-25T08:40:00.123456Z` for `time` to `out`.
pub fn write_rfc3339(out: &mut String, time: SystemTime) {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let of_day = seconds % 86_400;
    // Filled in place and appended once: `write!` with widths, or a `push` per digit, costs more
    // than the whole date arithmetic.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    fill_digits(&mut text[0..4], year);
    fill_digits(&mut text[5..7], month);
    fill_digits(&mut text[8..10], day);
    fill_digits(&mut text[11..13], of_day / 3600);
    fill_digits(&mut text[14..16], of_day / 60 % 60);
    fill_digits(&mut text[17..19], of_day % 60);
    fill_digits(&mut text[20..26], u64::from(since_epoch.subsec_micros()));
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// `time` in nanoseconds since the Unix epoch, as OTLP carries times; 0 before it.
#[cfg(feature = "_otlp")]
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
pub(crate) fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut text = [b'0'; 20];
    let width = width.min(text.len());
    fill_digits(&mut text[..width], value);
    out.push_str(std::str::from_utf8(&text[..width]).unwrap_or_default());
}

/// Writes the last `slot.len()` decimal digits of `value` into `slot`, zero-padded.
fn fill_digits(slot: &mut [u8], mut value: u64) {
    for byte in slot.iter_mut().rev() {
        *byte = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// The instant of an HTTP date in its one current form, IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), as a collector's `Retry-After` may give it; `None` for anything else or a date before
/// 1970.
#[cfg(feature = "otlp-http")]
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = value.split_ascii_whitespace();
    parts.next()?.strip_suffix(',')?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = parts.next().and_then(|name| MONTHS.iter().position(|month| *month == name))?;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(str::parse::<u64>);
    let (hours, minutes, seconds) = (clock.next()?.ok()?, clock.next()?.ok()?, clock.next()?.ok()?);
    if parts.next()? != "GMT" || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, i64::try_from(month).ok()? + 1, day)).ok()?;
    Some(UNIX_EPOCH + std::time::Duration::from_secs(days * 86_400 + hours * 3600 + minutes * 60 + seconds))
}

/// (year, month, day) in the proleptic Gregorian calendar to days since 1970-01-01 (Howard
/// Hinnant's `days_from_civil`), negative before the epoch.
#[cfg(feature = "otlp-http")]
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::write_rfc3339;
    #[cfg(feature = "otlp-http")]
    use super::{civil_from_days, days_from_civil, parse_http_date};
    use std::time::{Duration, UNIX_EPOCH};

    #[cfg(feature = "otlp-http")]
    #[test]
    fn http_dates_parse_to_their_instant() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(
            parse_http_date("Thu, 26 Nov 2026 16:30:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_710_600))
        );
        for bad in [
            "",
            "120",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn days_and_dates_convert_both_ways() {
        for days in [0_u64, 59, 60, 365, 11_016, 20_418, 47_541] {
            let (year, month, day) = civil_from_days(days);
            let signed = |value: u64| i64::try_from(value).expect("small");
            assert_eq!(days_from_civil(signed(year), signed(month), signed(day)), signed(days));
        }
    }

    #[test]
    fn formats_known_instants() {
        for (seconds, micros, expected) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.000005Z"),
            (1_795_595_400, 123_456, "2026-11-25T08:30:00.123456Z"),
            (4_107_542_399, 999_999, "2100-02-28T23:59:59.999999Z"),
        ] {
            let mut out = String::new();
            write_rfc3339(&mut out, UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros));
            assert_eq!(out, expected);
        }
    }
}
