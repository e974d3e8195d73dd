//! Square's additive taxes, added to a price exactly (integer arithmetic,
//! no floats), the way Square's Orders API computes them: each tax is
//! rounded half to even ("Bankers' Rounding", Square's documented rule) and
//! `TAX_TOTAL_PHASE` taxes apply to the price plus the subtotal-phase taxes.

/// When a tax is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// On the item price (`TAX_SUBTOTAL_PHASE`, Square's default).
    Subtotal,
    /// On the price plus subtotal-phase taxes (`TAX_TOTAL_PHASE`).
    Total,
}

/// One additive tax rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// Percentage digits without the decimal point (`"7.5"` is 75).
    digits: i128,
    /// Decimal places in the percentage (`"7.5"` is 1).
    scale: u32,
    /// Its calculation phase.
    pub phase: Phase,
}

impl Rate {
    /// Parse Square's `percentage` (`"7.5"` means 7.5 %): digits and at most
    /// one `.`, not negative, at most 8 decimals.
    pub fn parse(percentage: &str, phase: Phase) -> Result<Rate, String> {
        let text = percentage.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
            return Err(format!(
                "tax percentage {percentage:?} is not a decimal number such as \"7.5\""
            ));
        }
        if frac.len() > 8 || int.len() > 6 {
            return Err(format!(
                "tax percentage {percentage:?} is out of range (at most 6 integer digits and 8 decimals)"
            ));
        }
        let mut digits: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            digits = digits * 10 + i128::from(b - b'0');
        }
        Ok(Rate {
            digits,
            scale: frac.len() as u32,
            phase,
        })
    }

    /// The tax on `base` minor units, rounded half to even.
    fn on(&self, base: i128) -> i128 {
        let denominator = 100 * 10i128.pow(self.scale);
        div_half_even(base * self.digits, denominator)
    }
}

/// `base` plus every tax in `rates`; `None` when the result does not fit in
/// 64-bit minor units.
pub fn add_taxes(base: i64, rates: &[Rate]) -> Option<i64> {
    let base = i128::from(base);
    let subtotal: i128 = rates
        .iter()
        .filter(|r| r.phase == Phase::Subtotal)
        .map(|r| r.on(base))
        .sum();
    let after_subtotal = base + subtotal;
    let total: i128 = rates
        .iter()
        .filter(|r| r.phase == Phase::Total)
        .map(|r| r.on(after_subtotal))
        .sum();
    i64::try_from(after_subtotal + total).ok()
}

/// `n / d` rounded half to even, for `d > 0` (negative `n` rounds symmetrically).
fn div_half_even(n: i128, d: i128) -> i128 {
    let (neg, n) = if n < 0 { (true, -n) } else { (false, n) };
    let q = n / d;
    let r = n % d;
    let q = match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
        std::cmp::Ordering::Less => q,
    };
    if neg { -q } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(p: &str) -> Rate {
        Rate::parse(p, Phase::Subtotal).expect("valid rate")
    }

    #[test]
    fn rounds_half_to_even_like_square() {
        // Square's forum answers: $6.00 at 9.75 % is 0.585 -> $0.58;
        // $6.00 at 11.75 % is 0.705 -> $0.70; $5.45 at 10 % -> $0.54.
        assert_eq!(add_taxes(600, &[rate("9.75")]), Some(658));
        assert_eq!(add_taxes(600, &[rate("11.75")]), Some(670));
        assert_eq!(add_taxes(545, &[rate("10")]), Some(599));
        // Square's RetrieveCatalogObject example: $1.50 with 5.0 % sales tax.
        assert_eq!(add_taxes(150, &[rate("5.0")]), Some(158));
        // Nigerian VAT 7.5 % on N2,500.00.
        assert_eq!(add_taxes(250_000, &[rate("7.5")]), Some(268_750));
        assert_eq!(add_taxes(999, &[]), Some(999));
    }

    #[test]
    fn total_phase_compounds_on_subtotal_taxes() {
        let total = Rate::parse("10", Phase::Total).expect("rate");
        // 1000 + 5 % = 1050, then 10 % of 1050 = 105.
        assert_eq!(add_taxes(1000, &[rate("5"), total]), Some(1155));
    }

    #[test]
    fn rejects_what_is_not_a_percentage() {
        for bad in ["", ".", "-5", "5%", "1e2", "7,5", "1.123456789"] {
            assert!(Rate::parse(bad, Phase::Subtotal).is_err(), "{bad:?}");
        }
        assert_eq!(add_taxes(i64::MAX, &[rate("100")]), None);
    }
}
