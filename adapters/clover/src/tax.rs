//! Tax on tax-exclusive Clover prices, in exact integer arithmetic.
//!
//! Rates are held the way Clover's `TaxRate.rate` holds them: percent times
//! 100,000 (`8.875%` is `887500`, `10%` is `1000000`), so a rate read from the
//! `tax_rate_percent` setting and one read from an expanded item `taxRates`
//! list add up exactly.

/// A tax rate in Clover's unit (percent × 100,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaxRate(i64);

/// Clover's scale: a `rate` of 100,000 is one percent.
const UNITS_PER_PERCENT: i64 = 100_000;
/// Rates above 1000% are typos, not taxes.
const MAX_UNITS: i64 = 1000 * UNITS_PER_PERCENT;

impl TaxRate {
    /// No tax.
    pub const ZERO: TaxRate = TaxRate(0);

    /// A rate given in percent as decimal text (`"7.5"`, `"8.875"`), at most
    /// five decimals.
    pub fn from_percent(text: &str) -> Result<TaxRate, String> {
        let t = text.trim();
        let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !digits(int_part) || !digits(frac_part) {
            return Err("expected a percentage such as \"7.5\" (no sign, no % sign)".into());
        }
        if frac_part.len() > 5 {
            return Err("at most 5 decimal places are supported, as in Clover".into());
        }
        let mut units: i64 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(b - b'0')))
                .filter(|u| *u <= MAX_UNITS * 100_000)
                .ok_or("the rate is too large")?;
        }
        for _ in frac_part.len()..5 {
            units = units.checked_mul(10).ok_or("the rate is too large")?;
        }
        TaxRate::from_clover_units(units)
    }

    /// A rate as Clover's `TaxRate.rate` gives it.
    pub fn from_clover_units(units: i64) -> Result<TaxRate, String> {
        if (0..=MAX_UNITS).contains(&units) {
            Ok(TaxRate(units))
        } else {
            Err(format!(
                "{units} is not a tax rate (Clover rates are percent x 100000, from 0 to {MAX_UNITS})"
            ))
        }
    }

    /// The sum of two rates (Clover applies every rate of an item to its price).
    pub fn plus(self, other: TaxRate) -> Result<TaxRate, String> {
        TaxRate::from_clover_units(self.0 + other.0)
    }

    /// Whether this rate adds nothing.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `net` plus tax at this rate, the tax rounded half up to the minor unit.
    /// `None` when the result does not fit in 64 bits.
    pub fn gross(self, net: i64) -> Option<i64> {
        let denominator = i128::from(UNITS_PER_PERCENT) * 100;
        let scaled = i128::from(net) * i128::from(self.0);
        // Half up, for a non-negative price; negative prices never get here.
        let tax = (scaled * 2 + denominator) / (denominator * 2);
        i64::try_from(i128::from(net) + tax).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_percentages_exactly() {
        assert_eq!(TaxRate::from_percent("7.5"), Ok(TaxRate(750_000)));
        assert_eq!(TaxRate::from_percent("8.875"), Ok(TaxRate(887_500)));
        assert_eq!(TaxRate::from_percent("10"), Ok(TaxRate(1_000_000)));
        assert_eq!(TaxRate::from_percent("0"), Ok(TaxRate::ZERO));
        assert_eq!(TaxRate::from_percent("0.00001"), Ok(TaxRate(1)));
        for bad in [
            "", "-1", "7,5", "7.5%", ".5", "1.000001", "abc", "1e2", "1001",
        ] {
            assert!(TaxRate::from_percent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn adds_tax_rounding_half_up_per_item() {
        let vat = TaxRate::from_percent("7.5").expect("rate");
        // 1000.00 NGN + 7.5% = 1075.00
        assert_eq!(vat.gross(100_000), Some(107_500));
        // 0.10 * 7.5% = 0.0075 -> 0.01 (half up): 11
        assert_eq!(vat.gross(10), Some(11));
        // 0.06 * 7.5% = 0.0045 -> 0.00: 6
        assert_eq!(vat.gross(6), Some(6));
        let ny = TaxRate::from_percent("8.875").expect("rate");
        // 12.00 * 8.875% = 1.065 -> 1.07 (exactly half, rounds up)
        assert_eq!(ny.gross(1200), Some(1307));
        // 11.99 * 8.875% = 1.0641125 -> 1.06
        assert_eq!(ny.gross(1199), Some(1305));
        assert_eq!(TaxRate::ZERO.gross(1234), Some(1234));
        assert_eq!(ny.gross(i64::MAX), None);
    }

    #[test]
    fn sums_rates() {
        let a = TaxRate::from_clover_units(600_000).expect("6%");
        let b = TaxRate::from_clover_units(287_500).expect("2.875%");
        assert_eq!(a.plus(b), Ok(TaxRate(887_500)));
        assert!(TaxRate::from_clover_units(-1).is_err());
    }
}
