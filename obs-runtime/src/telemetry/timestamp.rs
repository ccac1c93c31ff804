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
    use std::time::{Duration, UNIX_EPOCH};

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
