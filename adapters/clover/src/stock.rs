//! Clover stock quantities to SnapAct's whole verified quantity.
//!
//! Clover's `itemStock.quantity` is a decimal that may be fractional (items
//! sold by weight) or negative (oversold). SnapAct gets whole units, rounded
//! down, never below zero: a buyer is never promised what is not on the shelf.
//! The deprecated `stockCount` rounds to the nearest unit (160.5 -> 161) and
//! is never read.

/// The largest quantity SnapAct is told; more is a data error upstream.
const MAX_QUANTITY: i64 = 1_000_000_000_000;

/// The whole units on the shelf for a Clover quantity given as the decimal's
/// exact text (`"160.5"` -> 160, `"-2"` -> 0, `"1.0E7"` -> 10000000).
pub fn shelf_units(text: &str) -> Result<i64, String> {
    let not_number = || format!("{text:?} is not a number");
    let t = text.trim();
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => {
            let exp: i32 = t[i + 1..]
                .strip_prefix('+')
                .unwrap_or(&t[i + 1..])
                .parse()
                .map_err(|_| not_number())?;
            (&t[..i], exp)
        }
        None => (t, 0),
    };
    let (negative, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !digits(int_part) || !digits(frac_part) {
        return Err(not_number());
    }
    if negative {
        // Anything below zero is nothing on the shelf.
        return Ok(0);
    }
    // All digits with the decimal point moved by the exponent.
    let all: String = format!("{int_part}{frac_part}");
    let point = i64::try_from(int_part.len()).map_err(|_| not_number())? + i64::from(exponent);
    let too_large = || format!("{text} is more stock than SnapAct accepts ({MAX_QUANTITY})");
    let mut units: i64 = 0;
    let mut seen_digits: i64 = 0;
    for b in all.bytes() {
        if seen_digits >= point {
            break;
        }
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(b - b'0')))
            .filter(|u| *u <= MAX_QUANTITY)
            .ok_or_else(too_large)?;
        seen_digits += 1;
    }
    // Zero stays zero however far the point moves (`0e999999999`).
    while seen_digits < point && units != 0 {
        units = units
            .checked_mul(10)
            .filter(|u| *u <= MAX_QUANTITY)
            .ok_or_else(too_large)?;
        seen_digits += 1;
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_fractional_stock_down() {
        assert_eq!(shelf_units("160.5"), Ok(160));
        assert_eq!(shelf_units("127"), Ok(127));
        assert_eq!(shelf_units("0.999"), Ok(0));
        assert_eq!(shelf_units("2.0"), Ok(2));
        assert_eq!(shelf_units("12.75"), Ok(12));
    }

    #[test]
    fn negative_stock_is_nothing_on_the_shelf() {
        assert_eq!(shelf_units("-3"), Ok(0));
        assert_eq!(shelf_units("-0.5"), Ok(0));
    }

    #[test]
    fn reads_exponent_notation() {
        assert_eq!(shelf_units("1.0E7"), Ok(10_000_000));
        assert_eq!(shelf_units("1.605e2"), Ok(160));
        assert_eq!(shelf_units("5E-1"), Ok(0));
        assert_eq!(shelf_units("25e-1"), Ok(2));
        assert_eq!(shelf_units("3e+0"), Ok(3));
        assert_eq!(shelf_units("0e999999999"), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_quantity() {
        for bad in ["", "-", "abc", "1.2.3", ".5", "1e", "1,5", "--1", "1ee2"] {
            assert!(shelf_units(bad).is_err(), "{bad:?}");
        }
        assert!(
            shelf_units("1e13")
                .expect_err("too large")
                .contains("more stock")
        );
        assert!(shelf_units("99999999999999999999999").is_err());
        assert_eq!(shelf_units("1e12"), Ok(1_000_000_000_000));
    }
}
