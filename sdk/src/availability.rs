//! Availability from stock, the same way in every adapter.

use crate::{AdapterError, Availability, settings};

/// The setting that marks stock at or below it as `low-stock`.
pub const LOW_STOCK_SETTING: &str = "low_stock_threshold";

/// `quantity` `None` (untracked) is in stock; zero or less is out of stock;
/// at or below `low_stock_threshold` is low stock.
pub fn from_quantity(quantity: Option<i64>, low_stock_threshold: Option<i64>) -> Availability {
    match quantity {
        None => Availability::InStock,
        Some(q) if q <= 0 => Availability::OutOfStock,
        Some(q) if low_stock_threshold.is_some_and(|t| q <= t) => Availability::LowStock,
        Some(_) => Availability::InStock,
    }
}

/// The shop's `low_stock_threshold` setting: absent is `None`; a value that
/// is not a whole number is `not-configured` naming the setting.
pub fn low_stock_threshold() -> Result<Option<i64>, AdapterError> {
    match settings::get(LOW_STOCK_SETTING) {
        None => Ok(None),
        Some(raw) => raw.trim().parse::<i64>().map(Some).map_err(|_| {
            crate::not_configured(format!(
                "setting `{LOW_STOCK_SETTING}` must be a whole number, got {raw:?}"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(from_quantity(None, Some(5)), Availability::InStock);
        assert_eq!(from_quantity(Some(0), Some(5)), Availability::OutOfStock);
        assert_eq!(from_quantity(Some(-2), None), Availability::OutOfStock);
        assert_eq!(from_quantity(Some(5), Some(5)), Availability::LowStock);
        assert_eq!(from_quantity(Some(6), Some(5)), Availability::InStock);
        assert_eq!(from_quantity(Some(1), None), Availability::InStock);
    }
}
