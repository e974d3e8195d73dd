//! Exact money: decimal strings to integer minor units, by each currency's
//! ISO 4217 exponent. No floating point anywhere.
//!
//! ```
//! use snapact_adapter_sdk::money::{to_minor, Rounding};
//! assert_eq!(to_minor("199.00", "USD", Rounding::Exact), Ok(19900));
//! assert_eq!(to_minor("1500", "NGN", Rounding::Exact), Ok(150000));
//! assert_eq!(to_minor("0.5", "KWD", Rounding::Exact), Ok(500));
//! assert!(to_minor("1.5", "JPY", Rounding::Exact).is_err());
//! assert_eq!(to_minor("1.5", "JPY", Rounding::HalfEven), Ok(2));
//! ```

use std::fmt;

/// What to do with more decimals than the currency has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Too many decimals is an error (the default: a price is never changed silently).
    Exact,
    /// Round half to even (banker's rounding), for computed amounts such as tax.
    HalfEven,
    /// Round half away from zero.
    HalfUp,
    /// Drop the extra digits (towards zero).
    Down,
}

/// Why an amount could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// Not an ISO 4217 code this SDK knows.
    UnknownCurrency(String),
    /// Not a plain decimal number (`"12.50"`, `"-3"`, `"7."` are fine).
    NotADecimal(String),
    /// More decimals than the currency's minor unit, with `Rounding::Exact`.
    TooManyDecimals {
        /// The amount as given.
        amount: String,
        /// The currency.
        currency: String,
        /// Its ISO 4217 exponent.
        exponent: u32,
    },
    /// The amount does not fit in 64-bit minor units.
    Overflow(String),
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoneyError::UnknownCurrency(c) => {
                write!(
                    f,
                    "unknown currency {c:?}: expected an ISO 4217 code such as \"NGN\""
                )
            }
            MoneyError::NotADecimal(a) => write!(f, "{a:?} is not a decimal amount"),
            MoneyError::TooManyDecimals {
                amount,
                currency,
                exponent,
            } => write!(
                f,
                "{amount:?} has more than {exponent} decimal places, the minor unit of {currency}"
            ),
            MoneyError::Overflow(a) => write!(f, "{a:?} is too large an amount"),
        }
    }
}

impl std::error::Error for MoneyError {}

/// The ISO 4217 exponent (digits after the decimal point) of `currency`,
/// or `None` for a code that is not an active ISO 4217 currency.
pub fn exponent(currency: &str) -> Option<u32> {
    let code = currency.as_bytes();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    // Sorted tables: a handful of comparisons instead of a scan of ~180
    // codes (string comparisons are calls to `memcmp` in a Wasm guest).
    let listed = |table: &[&str]| table.binary_search(&currency).is_ok();
    if listed(EXPONENT_2) {
        Some(2)
    } else if listed(EXPONENT_0) {
        Some(0)
    } else if listed(EXPONENT_3) {
        Some(3)
    } else if listed(EXPONENT_4) {
        Some(4)
    } else {
        None
    }
}

/// Convert a decimal string (`"199.00"`, `"-0.5"`, `"1500"`) in `currency`
/// to integer minor units.
pub fn to_minor(amount: &str, currency: &str, rounding: Rounding) -> Result<i64, MoneyError> {
    let exp = exponent(currency).ok_or_else(|| MoneyError::UnknownCurrency(currency.into()))?;
    let not_decimal = || MoneyError::NotADecimal(amount.into());
    let trimmed = amount.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(not_decimal());
    }
    let overflow = || MoneyError::Overflow(amount.into());
    let exp_usize = exp as usize;
    let (kept, dropped) = if frac_part.len() > exp_usize {
        frac_part.split_at(exp_usize)
    } else {
        (frac_part, "")
    };
    let mut minor: i64 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in kept.len()..exp_usize {
        minor = minor.checked_mul(10).ok_or_else(overflow)?;
    }
    let dropped_nonzero = dropped.bytes().any(|b| b != b'0');
    if dropped_nonzero {
        let first = dropped.as_bytes()[0] - b'0';
        let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');
        let round_up = match rounding {
            Rounding::Exact => {
                return Err(MoneyError::TooManyDecimals {
                    amount: amount.into(),
                    currency: currency.into(),
                    exponent: exp,
                });
            }
            Rounding::Down => false,
            Rounding::HalfUp => first >= 5,
            Rounding::HalfEven => first > 5 || (first == 5 && (rest_nonzero || minor % 2 == 1)),
        };
        if round_up {
            minor = minor.checked_add(1).ok_or_else(overflow)?;
        }
    }
    Ok(if negative { -minor } else { minor })
}

/// Render minor units back as a decimal string (`19900`, `"USD"` -> `"199.00"`).
pub fn to_decimal(amount_minor: i64, currency: &str) -> Result<String, MoneyError> {
    let exp = exponent(currency).ok_or_else(|| MoneyError::UnknownCurrency(currency.into()))?;
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if exp == 0 {
        return Ok(format!("{sign}{abs}"));
    }
    let scale = 10u64.pow(exp);
    Ok(format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    ))
}

// ISO 4217 active codes (List One), grouped by minor-unit exponent.
// Each table is sorted (binary search) and they are disjoint; a test checks both.
const EXPONENT_0: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const EXPONENT_3: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const EXPONENT_4: &[&str] = &["CLF", "UYW"];
const EXPONENT_2: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BMD",
    "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD",
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED",
    "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_by_each_currencys_exponent() {
        assert_eq!(to_minor("199.00", "USD", Rounding::Exact), Ok(19900));
        assert_eq!(to_minor("1500", "NGN", Rounding::Exact), Ok(150000));
        assert_eq!(to_minor("0.5", "KWD", Rounding::Exact), Ok(500));
        assert_eq!(to_minor("1200", "JPY", Rounding::Exact), Ok(1200));
        assert_eq!(to_minor("7.", "EUR", Rounding::Exact), Ok(700));
        assert_eq!(to_minor(".25", "EUR", Rounding::Exact), Ok(25));
        assert_eq!(to_minor("-3.10", "GBP", Rounding::Exact), Ok(-310));
        assert_eq!(
            to_minor("1.2340", "USD", Rounding::Exact),
            Err(MoneyError::TooManyDecimals {
                amount: "1.2340".into(),
                currency: "USD".into(),
                exponent: 2
            })
        );
        assert_eq!(to_minor("1.2300", "USD", Rounding::Exact), Ok(123));
    }

    #[test]
    fn rejects_what_is_not_money() {
        for bad in ["", "-", ".", "1,00", "1e3", "abc", "1.2.3", "--1", " "] {
            assert_eq!(
                to_minor(bad, "USD", Rounding::Exact),
                Err(MoneyError::NotADecimal(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            to_minor("1", "usd", Rounding::Exact),
            Err(MoneyError::UnknownCurrency("usd".into()))
        );
        assert_eq!(
            to_minor("1", "XYZ", Rounding::Exact),
            Err(MoneyError::UnknownCurrency("XYZ".into()))
        );
        assert_eq!(
            to_minor("92233720368547758.08", "USD", Rounding::Exact),
            Err(MoneyError::Overflow("92233720368547758.08".into()))
        );
        assert_eq!(
            to_minor("92233720368547758.07", "USD", Rounding::Exact),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn rounds_only_when_asked() {
        assert_eq!(to_minor("0.125", "USD", Rounding::HalfEven), Ok(12));
        assert_eq!(to_minor("0.135", "USD", Rounding::HalfEven), Ok(14));
        assert_eq!(to_minor("0.1251", "USD", Rounding::HalfEven), Ok(13));
        assert_eq!(to_minor("0.125", "USD", Rounding::HalfUp), Ok(13));
        assert_eq!(to_minor("0.129", "USD", Rounding::Down), Ok(12));
        assert_eq!(to_minor("-0.125", "USD", Rounding::HalfUp), Ok(-13));
    }

    #[test]
    fn renders_back() {
        assert_eq!(to_decimal(19900, "USD").as_deref(), Ok("199.00"));
        assert_eq!(to_decimal(-5, "KWD").as_deref(), Ok("-0.005"));
        assert_eq!(to_decimal(1200, "JPY").as_deref(), Ok("1200"));
    }

    #[test]
    fn every_code_is_listed_once_in_sorted_tables() {
        let tables = [EXPONENT_0, EXPONENT_2, EXPONENT_3, EXPONENT_4];
        // `exponent` binary-searches each table.
        for table in tables {
            assert!(table.windows(2).all(|w| w[0] < w[1]), "unsorted: {table:?}");
        }
        let mut all: Vec<&str> = tables.concat();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        for (table, exp) in tables.iter().zip([0, 2, 3, 4]) {
            for code in *table {
                assert_eq!(exponent(code), Some(exp), "{code}");
            }
        }
    }
}
