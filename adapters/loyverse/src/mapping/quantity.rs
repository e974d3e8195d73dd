//! Stock quantities: Loyverse `in_stock` is a decimal (items sold by weight,
//! fractional adjustments); SnapAct's verified quantity is whole units.

/// Round a plain decimal (`"12"`, `"3.75"`, `"-0.5"`) down to a whole number
/// (towards negative infinity): a shelf with 3.75 kg offers 3 whole units,
/// never 4. `None` for anything else (exponents, empty, out of range).
pub fn floor_quantity(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return None;
    }
    let mut whole: i64 = 0;
    for b in int_part.bytes() {
        whole = whole.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let fractional = frac_part.bytes().any(|b| b != b'0');
    if negative {
        let down = if fractional {
            whole.checked_add(1)?
        } else {
            whole
        };
        Some(-down)
    } else {
        Some(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_down_never_up() {
        assert_eq!(floor_quantity("12"), Some(12));
        assert_eq!(floor_quantity("12.000"), Some(12));
        assert_eq!(floor_quantity("3.75"), Some(3));
        assert_eq!(floor_quantity("0.999"), Some(0));
        assert_eq!(floor_quantity("-0.5"), Some(-1));
        assert_eq!(floor_quantity("-2"), Some(-2));
        assert_eq!(floor_quantity(".5"), Some(0));
        assert_eq!(floor_quantity("7."), Some(7));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in ["", "-", ".", "1e3", "abc", "1.2.3", "9223372036854775808"] {
            assert_eq!(floor_quantity(bad), None, "{bad:?}");
        }
    }
}
