//! Simulated buyers: `POST /sandbox/orders` turns items the tenant
//! delivered into a paid order and sends it to the tenant's webhook URL as
//! a signed `order.paid` event ([`crate::snapact::signing`], the same code
//! the host verifies with); `POST /sandbox/orders/{id}/status` sends
//! `order.status.updated`. Like SnapAct, the sandbox redelivers an event
//! with backoff until the host answers 2xx, and
//! `POST /sandbox/events/{id}/redeliver` sends a delivered event again
//! (what SnapAct does when it never saw the 2xx).
//!
//! Request bodies:
//! - orders: `{"tenant", "lines": [{"external_ref", "quantity"}],
//!   "fulfillment": "pickup"|"delivery", "note"?}` (prices, names and the
//!   currency come from the tenant's stored items);
//! - status: `{"status": "accepted"|"preparing"|"ready"|"completed"|"cancelled"|"refunded"}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::SeedableRng as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::Inner;
use super::state::lock;
use crate::outbox::Backoff;
use crate::runtime::{Fulfillment, OrderStatus};
use crate::snapact::events::{self, WireOrder, WireOrderLine};
use crate::snapact::signing;
use crate::snapact::wire::rfc3339;

/// Where a tenant's events go.
#[derive(Clone)]
pub struct SandboxWebhook {
    /// The tenant.
    pub tenant: String,
    /// The host's `POST /webhooks/snapact/{shop}` URL.
    pub url: String,
    /// The secret events are signed with (the shop's `webhook_secret`).
    pub secret: SecretString,
}

impl std::fmt::Debug for SandboxWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxWebhook")
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SandboxWebhook {
    fn eq(&self, other: &Self) -> bool {
        self.tenant == other.tenant && self.url == other.url
    }
}

/// How redelivery backs off.
pub(crate) const RETRY: Backoff = Backoff {
    base: Duration::from_millis(200),
    cap: Duration::from_secs(30),
};
/// Attempts before an event is given up on (about an hour at the cap).
const MAX_ATTEMPTS: u32 = 150;

/// Delivery bookkeeping of one event, as `GET /sandbox/orders` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventDelivery {
    /// Event id.
    pub id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Answered 2xx at least once.
    pub delivered: bool,
    /// How many deliveries were answered 2xx (redeliveries count again).
    pub acknowledged: u32,
    /// Last HTTP status, or the connection error.
    pub last_result: Option<String>,
    #[serde(skip)]
    body: Vec<u8>,
    #[serde(skip)]
    tenant: String,
}

/// An order the sandbox created.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxOrder {
    /// The tenant.
    pub tenant: String,
    /// The order as SnapAct sends it.
    pub order: WireOrder,
    /// Its latest status.
    pub status: Option<OrderStatus>,
    /// Its events, oldest first.
    pub events: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Orders {
    orders: Mutex<BTreeMap<String, SandboxOrder>>,
    events: Mutex<BTreeMap<String, EventDelivery>>,
    next: Mutex<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrder {
    tenant: String,
    lines: Vec<NewLine>,
    #[serde(default = "pickup")]
    fulfillment: Fulfillment,
    #[serde(default)]
    note: Option<String>,
}

fn pickup() -> Fulfillment {
    Fulfillment::Pickup
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLine {
    external_ref: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStatus {
    status: OrderStatus,
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

impl Inner {
    fn webhook(&self, tenant: &str) -> Option<&SandboxWebhook> {
        self.config.webhooks.iter().find(|w| w.tenant == tenant)
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut n = lock(&self.orders.next);
        *n += 1;
        format!("{prefix}_sbx_{:06}", *n)
    }

    /// Stores `event` and starts delivering it.
    fn emit(self: &Arc<Self>, tenant: &str, event_type: &str, data: Value) -> String {
        let id = self.next_id("evt");
        let body = json!({
            "id": id,
            "type": event_type,
            "created_at": rfc3339(SystemTime::now()),
            "data": data,
        });
        let delivery = EventDelivery {
            id: id.clone(),
            event_type: event_type.to_string(),
            attempts: 0,
            delivered: false,
            acknowledged: 0,
            last_result: None,
            body: body.to_string().into_bytes(),
            tenant: tenant.to_string(),
        };
        lock(&self.orders.events).insert(id.clone(), delivery);
        deliver(Arc::clone(self), id.clone());
        id
    }
}

/// Delivers event `id` until the host answers 2xx (or attempts run out).
fn deliver(inner: Arc<Inner>, id: String) {
    tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                warn!("sandbox: cannot build an HTTP client for webhooks: {e}");
                return;
            }
        };
        for attempt in 0..MAX_ATTEMPTS {
            let Some((tenant, event_type, body)) = lock(&inner.orders.events)
                .get(&id)
                .map(|e| (e.tenant.clone(), e.event_type.clone(), e.body.clone()))
            else {
                return;
            };
            let Some(hook) = inner.webhook(&tenant).cloned() else {
                return;
            };
            let timestamp = signing::unix_seconds(SystemTime::now());
            let result = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header(signing::EVENT_ID_HEADER, &id)
                .header(signing::EVENT_TYPE_HEADER, &event_type)
                .header(signing::TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    signing::SIGNATURE_HEADER,
                    signing::sign(&hook.secret, timestamp, &body),
                )
                .body(body)
                .send()
                .await;
            let (ok, outcome) = match result {
                Ok(r) => (r.status().is_success(), r.status().as_u16().to_string()),
                Err(e) => (false, format!("connection failed: {e}")),
            };
            if let Some(e) = lock(&inner.orders.events).get_mut(&id) {
                e.attempts += 1;
                e.delivered |= ok;
                e.acknowledged += u32::from(ok);
                e.last_result = Some(outcome.clone());
            }
            if ok {
                info!(event = %id, kind = %event_type, tenant = %tenant, "sandbox: webhook delivered");
                return;
            }
            let delay = RETRY.delay(attempt, &mut rng);
            debug!(event = %id, "sandbox: webhook answered {outcome}; again in {} ms", delay.as_millis());
            tokio::time::sleep(delay).await;
        }
        warn!(event = %id, "sandbox: webhook never delivered; giving up after {MAX_ATTEMPTS} attempts");
    });
}

pub(crate) async fn create(State(inner): State<Arc<Inner>>, body: axum::body::Bytes) -> Response {
    let req: NewOrder = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "order body: {e} (expected {{\"tenant\", \"lines\": [{{\"external_ref\", \"quantity\"}}]}})"
                ),
            );
        }
    };
    if inner.webhook(&req.tenant).is_none() {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "tenant {:?} has no webhook URL: start the sandbox with --webhook {}=URL --webhook-secret {}=SECRET",
                req.tenant, req.tenant, req.tenant
            ),
        );
    }
    if req.lines.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "an order needs at least one line".into(),
        );
    }
    let mut lines = Vec::new();
    let mut currency: Option<String> = None;
    {
        let items = lock(&inner.state.items);
        let Some(stored) = items.get(&req.tenant) else {
            return refuse(
                StatusCode::NOT_FOUND,
                format!("tenant {:?} has no items yet", req.tenant),
            );
        };
        for (i, line) in req.lines.iter().enumerate() {
            if line.quantity <= 0 {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    format!("lines[{i}].quantity must be positive"),
                );
            }
            let Some(item) = stored.get(&line.external_ref) else {
                return refuse(
                    StatusCode::NOT_FOUND,
                    format!(
                        "lines[{i}]: item {:?} is not in the catalog",
                        line.external_ref
                    ),
                );
            };
            let fields = &item.fields;
            let (Some(price), Some(cur)) = (
                fields.get("price_minor").and_then(Value::as_i64),
                fields.get("currency").and_then(Value::as_str),
            ) else {
                return refuse(
                    StatusCode::CONFLICT,
                    format!(
                        "lines[{i}]: item {:?} has no price (price on request)",
                        line.external_ref
                    ),
                );
            };
            if currency.get_or_insert_with(|| cur.to_string()) != cur {
                return refuse(
                    StatusCode::CONFLICT,
                    "all lines of an order must share one currency".into(),
                );
            }
            lines.push(WireOrderLine {
                external_ref: line.external_ref.clone(),
                name: fields
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                quantity: line.quantity,
                unit_price_minor: price,
            });
        }
    }
    let Some(subtotal) = lines.iter().try_fold(0i64, |acc, l| {
        acc.checked_add(l.unit_price_minor.checked_mul(l.quantity)?)
    }) else {
        return refuse(StatusCode::BAD_REQUEST, "the order total overflows".into());
    };
    let order = WireOrder {
        id: inner.next_id("ord"),
        created_at: rfc3339(SystemTime::now()),
        currency: currency.unwrap_or_default(),
        lines,
        subtotal_minor: subtotal,
        total_minor: subtotal,
        fulfillment: req.fulfillment,
        note: req.note,
    };
    let event = inner.emit(&req.tenant, events::ORDER_PAID, json!({ "order": order }));
    let order_id = order.id.clone();
    lock(&inner.orders.orders).insert(
        order_id.clone(),
        SandboxOrder {
            tenant: req.tenant,
            order,
            status: None,
            events: vec![event.clone()],
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({ "order_id": order_id, "event_id": event })),
    )
        .into_response()
}

pub(crate) async fn set_status(
    State(inner): State<Arc<Inner>>,
    Path(order_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let req: NewStatus = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("status body: {e} (expected {{\"status\": \"ready\"}})"),
            );
        }
    };
    let Some(tenant) = lock(&inner.orders.orders)
        .get(&order_id)
        .map(|o| o.tenant.clone())
    else {
        return refuse(StatusCode::NOT_FOUND, format!("no order {order_id:?}"));
    };
    let event = inner.emit(
        &tenant,
        events::ORDER_STATUS_UPDATED,
        json!({ "order_id": order_id, "status": req.status }),
    );
    if let Some(o) = lock(&inner.orders.orders).get_mut(&order_id) {
        o.status = Some(req.status);
        o.events.push(event.clone());
    }
    (StatusCode::ACCEPTED, Json(json!({ "event_id": event }))).into_response()
}

pub(crate) async fn redeliver(
    State(inner): State<Arc<Inner>>,
    Path(event_id): Path<String>,
) -> Response {
    if !lock(&inner.orders.events).contains_key(&event_id) {
        return refuse(StatusCode::NOT_FOUND, format!("no event {event_id:?}"));
    }
    deliver(Arc::clone(&inner), event_id.clone());
    (StatusCode::ACCEPTED, Json(json!({ "event_id": event_id }))).into_response()
}

pub(crate) async fn list(State(inner): State<Arc<Inner>>) -> Response {
    let orders: Vec<SandboxOrder> = lock(&inner.orders.orders).values().cloned().collect();
    let events: Vec<EventDelivery> = lock(&inner.orders.events).values().cloned().collect();
    Json(json!({ "orders": orders, "events": events })).into_response()
}

impl Orders {
    pub(crate) fn deliveries(&self) -> Vec<EventDelivery> {
        lock(&self.events).values().cloned().collect()
    }
}
