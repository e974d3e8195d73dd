//! Shopify timestamps to one comparable form.
//!
//! Shopify writes `updated_at` in the shop's time zone
//! (`2025-07-02T11:29:59-05:00`), and the offset changes with daylight
//! saving time, so two such strings do not compare in time order. The host
//! compares `source-version` strings, so every timestamp the adapter emits
//! is normalised to UTC with whole seconds: `2025-07-02T16:29:59Z`.

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 / ISO 8601 timestamp
/// with an offset (`Z` or `±HH:MM`); fractional seconds are dropped.
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(range)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut v = 0i64;
        for d in s {
            v = v * 10 + i64::from(d - b'0');
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    if let Some((b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0');
            let m = i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0');
            if h > 23 || m > 59 {
                return None;
            }
            let magnitude = h * 3600 + m * 60;
            if *sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The same instant as `YYYY-MM-DDTHH:MM:SSZ`, or `None` when `text` is
/// not a timestamp with an offset.
pub fn normalize(text: &str) -> Option<String> {
    epoch_seconds(text).map(format_utc)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_offsets_to_utc() {
        assert_eq!(
            normalize("2025-07-02T11:29:59-05:00").as_deref(),
            Some("2025-07-02T16:29:59Z")
        );
        assert_eq!(
            normalize("2021-12-31T19:00:00-05:00").as_deref(),
            Some("2022-01-01T00:00:00Z")
        );
        assert_eq!(
            normalize("2022-01-01T00:00:00.000Z").as_deref(),
            Some("2022-01-01T00:00:00Z")
        );
        assert_eq!(
            normalize("2024-02-29T00:30:00+01:00").as_deref(),
            Some("2024-02-28T23:30:00Z")
        );
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn daylight_saving_offsets_compare_in_time_order() {
        // 01:30 EDT is before 01:10 EST the same night (clocks went back).
        let edt = epoch_seconds("2025-11-02T01:30:00-04:00").expect("edt");
        let est = epoch_seconds("2025-11-02T01:10:00-05:00").expect("est");
        assert!(edt < est);
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "2025-07-02",
            "2025-07-02T11:29:59",
            "2025-13-02T11:29:59Z",
            "2025-02-30T11:29:59Z",
            "2025-07-02T11:29:59+5:00",
            "2025-07-02T11:29:59.Z",
            "yesterday at noon, more or less",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
