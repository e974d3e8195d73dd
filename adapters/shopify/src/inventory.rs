//! Stock at the shop's location, fetched from Shopify: InventoryLevel
//! requests for a product's inventory items, and the variant's
//! `inventory_policy` for a bare level. Request building and response
//! parsing are pure; `lib.rs` sends the requests.

use serde_json::json;
use snapact_adapter_sdk::http::{Method, Request};
use snapact_adapter_sdk::json::{self, Node};
use snapact_adapter_sdk::{AdapterError, UpstreamError};

use crate::catalog::{Level, LocationStock, read_level};

/// Shopify accepts at most 50 `inventory_item_ids` per InventoryLevel request.
pub const ITEMS_PER_REQUEST: usize = 50;

/// `GET /admin/api/<version>/inventory_levels.json` for up to
/// [`ITEMS_PER_REQUEST`] inventory items at one location.
pub fn levels_request(
    api_version: &str,
    location_id: &str,
    inventory_item_ids: &[String],
) -> Request {
    Request {
        method: Method::Get,
        path: format!("/admin/api/{api_version}/inventory_levels.json"),
        query: vec![
            ("inventory_item_ids".into(), inventory_item_ids.join(",")),
            ("location_ids".into(), location_id.into()),
            ("limit".into(), "250".into()),
        ],
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    }
}

/// Add the levels of an InventoryLevel list response to `stock`.
pub fn read_levels_response(
    body: &[u8],
    location_id: &str,
    stock: &mut LocationStock,
) -> Result<(), AdapterError> {
    let doc = json::parse(body)
        .map_err(|e| upstream(format!("inventory_levels.json: {}", detail(&e))))?;
    let root = Node::root(&doc);
    let levels = root
        .req("inventory_levels")
        .and_then(|n| n.array())
        .map_err(|e| {
            upstream(format!(
                "inventory_levels.json: {} at {}",
                e.message,
                e.path.unwrap_or_default()
            ))
        })?;
    for node in levels {
        let level = read_level(&node).map_err(|e| {
            upstream(format!(
                "inventory_levels.json: {} at {}",
                e.message,
                e.path.unwrap_or_default()
            ))
        })?;
        stock.insert(location_id, level);
    }
    Ok(())
}

/// The GraphQL query for the `inventoryPolicy` of the variant that owns an
/// inventory item. REST has no lookup from inventory item to variant.
pub fn policy_request(api_version: &str, inventory_item_id: &str) -> Request {
    let body = json!({
        "query": "query SnapActInventoryPolicy($id: ID!) { inventoryItem(id: $id) { variant { inventoryPolicy } } }",
        "variables": { "id": format!("gid://shopify/InventoryItem/{inventory_item_id}") },
    });
    Request {
        method: Method::Post,
        path: format!("/admin/api/{api_version}/graphql.json"),
        query: Vec::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Whether the policy answer says `CONTINUE`. An item Shopify no longer
/// knows counts as `DENY`; GraphQL errors are upstream errors.
pub fn read_policy_response(body: &[u8]) -> Result<bool, AdapterError> {
    let doc = json::parse(body).map_err(|e| upstream(format!("graphql.json: {}", detail(&e))))?;
    if let Some(errors) = doc.get("errors").filter(|e| !e.is_null()) {
        let text: String = errors.to_string().chars().take(300).collect();
        // Shopify answers a GraphQL rate limit with 200 and a THROTTLED error.
        return Err(AdapterError::Upstream(UpstreamError {
            retryable: text.contains("THROTTLED"),
            message: format!("Shopify GraphQL answered errors: {text}"),
            status: None,
        }));
    }
    let policy = doc
        .pointer("/data/inventoryItem/variant/inventoryPolicy")
        .and_then(|p| p.as_str());
    Ok(policy == Some("CONTINUE"))
}

/// Whether a level needs the policy lookup: only zero or negative stock
/// reads differently under `continue`.
pub fn needs_policy(level: &Level) -> bool {
    level.available.is_some_and(|q| q <= 0)
}

fn detail(e: &AdapterError) -> String {
    match e {
        AdapterError::InvalidInput(d) => d.message.clone(),
        other => format!("{other:?}"),
    }
}

/// Shopify answered 2xx with a body this adapter cannot read: a retry
/// will not help, so not retryable.
fn upstream(message: String) -> AdapterError {
    AdapterError::Upstream(UpstreamError {
        message: format!("unexpected Shopify response: {message}"),
        status: None,
        retryable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_request_names_items_and_location() {
        let ids = vec!["808950810".to_string(), "39072856".to_string()];
        let req = levels_request("2026-07", "655441491", &ids);
        assert_eq!(req.path, "/admin/api/2026-07/inventory_levels.json");
        assert_eq!(
            req.query,
            vec![
                (
                    "inventory_item_ids".to_string(),
                    "808950810,39072856".to_string()
                ),
                ("location_ids".to_string(), "655441491".to_string()),
                ("limit".to_string(), "250".to_string()),
            ]
        );
        assert!(matches!(req.method, Method::Get));
    }

    #[test]
    fn reads_only_the_shops_location() {
        // shopify-api-ruby test/rest/2026_07/inventory_level_test.rb, test_2.
        let body = br#"{"inventory_levels":[{"inventory_item_id":808950810,"location_id":487838322,"available":9,"updated_at":"2025-07-02T11:29:59-05:00"},{"inventory_item_id":808950810,"location_id":655441491,"available":1,"updated_at":"2025-07-02T11:29:59-05:00"}]}"#;
        let mut stock = LocationStock::default();
        read_levels_response(body, "655441491", &mut stock).expect("read");
        assert_eq!(stock.get("808950810").and_then(|l| l.available), Some(1));
        let mut stock = LocationStock::default();
        read_levels_response(body, "1", &mut stock).expect("read");
        assert!(stock.is_empty());
        match read_levels_response(b"{\"levels\":[]}", "1", &mut stock) {
            Err(AdapterError::Upstream(e)) => {
                assert!(e.message.contains("inventory_levels"), "{}", e.message);
                assert!(!e.retryable);
            }
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn policy_lookup_asks_for_the_variant_of_the_item() {
        let req = policy_request("2026-07", "271878346596884015");
        assert_eq!(req.path, "/admin/api/2026-07/graphql.json");
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json");
        assert_eq!(
            body["variables"]["id"],
            "gid://shopify/InventoryItem/271878346596884015"
        );
        assert!(
            read_policy_response(
                br#"{"data":{"inventoryItem":{"variant":{"inventoryPolicy":"CONTINUE"}}}}"#
            )
            .expect("ok")
        );
        assert!(
            !read_policy_response(
                br#"{"data":{"inventoryItem":{"variant":{"inventoryPolicy":"DENY"}}}}"#
            )
            .expect("ok")
        );
        assert!(!read_policy_response(br#"{"data":{"inventoryItem":null}}"#).expect("ok"));
        match read_policy_response(
            br#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]}"#,
        ) {
            Err(AdapterError::Upstream(e)) => assert!(e.retryable, "{}", e.message),
            other => panic!("expected upstream, got {other:?}"),
        }
    }
}
