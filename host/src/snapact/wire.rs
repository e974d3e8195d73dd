//! SnapAct Connect's JSON, as this host assumes it (DESIGN §7).
//!
//! SnapAct documents endpoints, headers and semantics but not every field.
//! Every assumption the host makes about the wire lives in this file, named,
//! so that a correction from SnapAct is a change here and nowhere else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::catalog::{Availability, Item};

/// Path of the batch upsert endpoint.
pub const UPSERT_PATH: &str = "/connect/v1/catalog/items";

/// Path prefix of the delete endpoint; the item's `external_ref` follows,
/// percent-encoded as one path segment.
pub const DELETE_PATH_PREFIX: &str = "/connect/v1/catalog/items/";

/// Assumption: SnapAct accepts at most this many items per upsert request.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Assumption: how long to wait after a 429 that carries no usable
/// `Retry-After` header.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Assumption: the longest `external_ref` SnapAct stores.
pub const MAX_EXTERNAL_REF_LEN: usize = 255;

/// One item as SnapAct's upsert endpoint takes it.
///
/// Assumptions: money is `price_minor` + `currency` (both null for variable
/// pricing), `quantity` null means "not tracked", `verified_at` is when the
/// host last saw the POS state. `stock_key` is not sent: it is the host's own
/// lookup key for stock updates and means nothing to SnapAct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireItem {
    /// The shop's id for the item; SnapAct's upsert key.
    pub external_ref: String,
    /// Name buyers see.
    pub name: String,
    /// Final buyer price in minor units; null for variable pricing.
    pub price_minor: Option<i64>,
    /// ISO 4217 code; null when `price_minor` is null.
    pub currency: Option<String>,
    /// Verified quantity; null when not tracked.
    pub quantity: Option<i64>,
    /// Availability as SnapAct spells it (`"in-stock"`, ...).
    pub availability: Availability,
    /// When the host verified this state (RFC 3339, UTC).
    pub verified_at: String,
    /// SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Barcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Category name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The POS product this variant belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<String>,
    /// The POS's version of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
}

impl WireItem {
    /// The wire form of `item`, verified at `verified_at`.
    pub fn new(item: &Item, verified_at: SystemTime) -> Self {
        let (price_minor, currency) = match &item.price {
            Some(m) => (Some(m.amount_minor), Some(m.currency.clone())),
            None => (None, None),
        };
        WireItem {
            external_ref: item.external_ref.clone(),
            name: item.name.clone(),
            price_minor,
            currency,
            quantity: item.quantity,
            availability: item.availability,
            verified_at: rfc3339(verified_at),
            sku: item.sku.clone(),
            barcode: item.barcode.clone(),
            category: item.category.clone(),
            description: item.description.clone(),
            image_url: item.image_url.clone(),
            parent_ref: item.parent_ref.clone(),
            source_version: item.source_version.clone(),
        }
    }
}

/// Body of `POST /connect/v1/catalog/items`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpsertRequest {
    /// At most the batch size.
    pub items: Vec<WireItem>,
}

/// Body of a 200 answer to an upsert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertResponse {
    /// One entry per item sent.
    pub results: Vec<ItemResult>,
}

/// SnapAct's verdict on one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's `external_ref` as sent.
    pub external_ref: String,
    /// Stored or not.
    pub status: ItemStatus,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Assumption: SnapAct spells the per-item status `"upserted"` or `"rejected"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored.
    Upserted,
    /// Not stored; `error` says why.
    Rejected,
}

/// Body of an error answer (4xx/5xx), when SnapAct sends one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date (RFC 9110
/// §10.2.3). A date in the past means "now"; anything unreadable is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Formats `t` as RFC 3339 in UTC with millisecond precision
/// (`2026-11-27T05:31:48.123Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`), so the host needs no calendar crate for one format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, day_or_month(month), day_or_month(day))
}

fn day_or_month(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Money;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_757_508_123);
        assert_eq!(rfc3339(t), "2026-11-27T05:31:48.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
        // Agrees with httpdate's calendar for an arbitrary instant.
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(httpdate::fmt_http_date(t), "Thu, 31 Dec 2099 23:59:59 GMT");
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn wire_item_has_the_contract_field_names() {
        let item = Item {
            external_ref: "V1".into(),
            name: "Jollof".into(),
            price: Some(Money {
                amount_minor: 250_000,
                currency: "NGN".into(),
            }),
            quantity: None,
            availability: Availability::OnRequest,
            sku: None,
            barcode: Some("123".into()),
            category: None,
            description: None,
            image_url: None,
            parent_ref: None,
            stock_key: Some("IK1".into()),
            source_version: Some("9".into()),
        };
        let json = serde_json::to_value(WireItem::new(&item, UNIX_EPOCH)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"external_ref":"V1","name":"Jollof","price_minor":250000,
                "currency":"NGN","quantity":null,"availability":"on-request",
                "verified_at":"1970-01-01T00:00:00.000Z","barcode":"123","source_version":"9"})
        );
    }
}
