//! The sandbox's HTTP surface: SnapAct Connect's catalog endpoints as DESIGN
//! §7 describes them, the read side, and the `/sandbox/*` inspection routes.

use std::sync::Arc;

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::Inner;
use super::state::{Admission, Stored, lock};
use super::validate;
use crate::snapact::wire;

/// Lets a handler close its own connection without answering
/// (`--drop-after-apply-rate`). Inserted per connection by the accept loop.
#[derive(Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// Largest request body accepted (a full batch is far below this).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(wire::UPSERT_PATH, post(upsert))
        .route(
            &format!("{}{{external_ref}}", wire::DELETE_PATH_PREFIX),
            delete(remove),
        )
        .route("/inventory/nearby", get(nearby))
        .route("/sandbox/items", get(items))
        .route("/sandbox/stats", get(stats))
        .route(
            "/sandbox/orders",
            post(super::orders::create).get(super::orders::list),
        )
        .route(
            "/sandbox/orders/{order_id}/status",
            post(super::orders::set_status),
        )
        .route(
            "/sandbox/events/{event_id}/redeliver",
            post(super::orders::redeliver),
        )
        .with_state(inner)
}

fn answer(inner: &Inner, status: StatusCode, body: Value) -> Response {
    inner.state.count(status.as_str());
    (status, axum::Json(body)).into_response()
}

fn error(inner: &Inner, status: StatusCode, message: &str) -> Response {
    answer(inner, status, json!({ "error": message }))
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    headers
        .get("x-snapact-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The checks every Connect write goes through, in the order SnapAct would
/// plausibly make them: key, (latency), rate limit, injected 5xx.
async fn gate(inner: &Inner, headers: &HeaderMap) -> Result<String, Response> {
    let Some(tenant) = presented_key(headers).and_then(|k| inner.tenants.get(k)) else {
        return Err(error(
            inner,
            StatusCode::UNAUTHORIZED,
            "missing, invalid or revoked Connect API key",
        ));
    };
    if !inner.config.latency.is_zero() {
        tokio::time::sleep(inner.config.latency).await;
    }
    if let Admission::RetryAfter(secs) = inner.state.admit(tenant) {
        inner.state.count("429");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({ "error": "rate limit exceeded" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Err(response);
    }
    if inner.state.roll(inner.config.fail_rate) {
        return Err(error(
            inner,
            StatusCode::SERVICE_UNAVAILABLE,
            "injected failure (--fail-rate)",
        ));
    }
    Ok(tenant.clone())
}

/// After a batch was applied: maybe close the connection without an answer.
async fn maybe_drop(inner: &Inner, kill: Option<ConnKill>) {
    if let Some(kill) = kill
        && inner.state.roll(inner.config.drop_after_apply_rate)
    {
        inner.state.count("dropped");
        kill.0.notify_one();
        // The connection task drops this future with the connection.
        std::future::pending::<()>().await;
    }
}

async fn upsert(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let kill = request.extensions().get::<ConnKill>().cloned();
    let (parts, body) = request.into_parts();
    let tenant = match gate(&inner, &parts.headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body: Bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return error(&inner, StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                &inner,
                StatusCode::BAD_REQUEST,
                &format!("body is not JSON: {e}"),
            );
        }
    };
    let Some(batch) = parsed.get("items").and_then(Value::as_array) else {
        return error(
            &inner,
            StatusCode::BAD_REQUEST,
            "body must be {\"items\": [...]}",
        );
    };
    if batch.len() > inner.config.max_batch {
        return error(
            &inner,
            StatusCode::BAD_REQUEST,
            &format!(
                "items: {} items exceed the limit of {} per request",
                batch.len(),
                inner.config.max_batch
            ),
        );
    }
    let mut results = Vec::with_capacity(batch.len());
    let (mut upserted, mut rejected, mut duplicates) = (0, 0, 0);
    {
        let mut all = lock(&inner.state.items);
        let items = all.entry(tenant).or_default();
        for value in batch {
            let external_ref = value
                .get("external_ref")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match validate::item(value) {
                Ok(obj) => {
                    let mut fields = obj.clone();
                    let verified_at = fields.remove("verified_at").unwrap_or(Value::Null);
                    if items.get(&external_ref).is_some_and(|s| s.fields == fields) {
                        duplicates += 1;
                    }
                    items.insert(
                        external_ref.clone(),
                        Stored {
                            fields,
                            verified_at,
                        },
                    );
                    upserted += 1;
                    results.push(json!({"external_ref": external_ref, "status": "upserted"}));
                }
                Err(reason) => {
                    rejected += 1;
                    results.push(json!({"external_ref": external_ref, "status": "rejected",
                                        "error": reason}));
                }
            }
        }
    }
    {
        let mut stats = lock(&inner.state.stats);
        stats.items_upserted += upserted;
        stats.items_rejected += rejected;
        stats.duplicates += duplicates;
    }
    maybe_drop(&inner, kill).await;
    answer(&inner, StatusCode::OK, json!({ "results": results }))
}

async fn remove(
    State(inner): State<Arc<Inner>>,
    Path(external_ref): Path<String>,
    request: Request,
) -> Response {
    let kill = request.extensions().get::<ConnKill>().cloned();
    let tenant = match gate(&inner, request.headers()).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let existed = lock(&inner.state.items)
        .get_mut(&tenant)
        .and_then(|items| items.remove(&external_ref))
        .is_some();
    if existed {
        lock(&inner.state.stats).items_deleted += 1;
    }
    maybe_drop(&inner, kill).await;
    if existed {
        inner.state.count("204");
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(&inner, StatusCode::NOT_FOUND, "no such item")
    }
}

#[derive(Deserialize)]
struct ItemsQuery {
    tenant: Option<String>,
}

async fn items(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<ItemsQuery>,
    headers: HeaderMap,
) -> Response {
    let from_key = presented_key(&headers).and_then(|k| inner.tenants.get(k).cloned());
    let tenant = q.tenant.or(from_key);
    axum::Json(Value::Array(inner.items_of(tenant.as_deref()))).into_response()
}

async fn stats(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(inner.stats()).into_response()
}

#[derive(Deserialize)]
struct NearbyQuery {
    lat: Option<String>,
    lng: Option<String>,
    product: Option<String>,
}

async fn nearby(State(inner): State<Arc<Inner>>, Query(q): Query<NearbyQuery>) -> Response {
    let coordinate = |raw: &Option<String>, name: &str, limit: f64| {
        raw.as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && v.abs() <= limit)
            .ok_or_else(|| format!("{name}: required, a number between -{limit} and {limit}"))
    };
    let checked = coordinate(&q.lat, "lat", 90.0).and_then(|_| coordinate(&q.lng, "lng", 180.0));
    if let Err(message) = checked {
        return error(&inner, StatusCode::BAD_REQUEST, &message);
    }
    let Some(product) = q
        .product
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
    else {
        return error(
            &inner,
            StatusCode::BAD_REQUEST,
            "product: required, part of an item name",
        );
    };
    // The sandbox has no geography: every shop counts as nearby.
    let mut results = Vec::new();
    for (tenant, items) in lock(&inner.state.items).iter() {
        for stored in items.values() {
            let name = stored
                .fields
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let quantity = stored.fields.get("quantity").and_then(Value::as_i64);
            if name.to_lowercase().contains(&product) && quantity.is_some_and(|q| q > 0) {
                let mut item = stored.to_value();
                if let Some(m) = item.as_object_mut() {
                    m.insert("shop".to_owned(), Value::String(tenant.clone()));
                }
                results.push(item);
            }
        }
    }
    results.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                v["shop"].as_str().unwrap_or("").to_owned(),
                v["external_ref"].as_str().unwrap_or("").to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
    answer(&inner, StatusCode::OK, json!({ "results": results }))
}
