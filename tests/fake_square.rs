//! A fake Square on 127.0.0.1 for the end-to-end tests: it serves Square's
//! documented example payloads (`tests/fixtures/square/`, see SOURCES.md)
//! and records every request it receives, headers included.
//!
//! - `POST /v2/catalog/search`: the SearchCatalogObjects example response;
//! - `POST /v2/catalog/batch-retrieve`: the BatchRetrieveCatalogObjects example;
//! - `POST /v2/inventory/counts/batch-retrieve`: the BatchRetrieveInventoryCounts example;
//! - `POST /v2/orders`: CreateOrder, shaped like Square's example response,
//!   with the total computed from the request's lines, service charges and
//!   discounts; honours `idempotency_key` as Square documents (the same key
//!   returns the same order and creates nothing);
//! - `POST /v2/payments`: CreatePayment, idempotent the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::fixtures_dir;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path.
    pub path: String,
    /// Headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// JSON body.
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    orders: HashMap<String, Value>,
    payments: HashMap<String, Value>,
    fail_orders: u32,
}

/// The fake, served until dropped.
#[derive(Clone)]
pub struct FakeSquare {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join("square").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

impl FakeSquare {
    /// Serve on a free port.
    pub async fn start() -> FakeSquare {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v2/catalog/search", post(search))
            .route("/v2/catalog/batch-retrieve", post(batch_retrieve))
            .route("/v2/inventory/counts/batch-retrieve", post(counts))
            .route("/v2/orders", post(create_order))
            .route("/v2/payments", post(create_payment))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Square");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSquare { url, inner }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Requests to `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Orders created (distinct idempotency keys).
    pub fn orders_created(&self) -> usize {
        self.inner.lock().expect("lock").orders.len()
    }

    /// Answer the next `n` CreateOrder requests with 503.
    pub fn fail_next_orders(&self, n: u32) {
        self.inner.lock().expect("lock").fail_orders = n;
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

fn record(inner: &Mutex<Inner>, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    inner.lock().expect("lock").received.push(Received {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
    });
    body
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn search(State(inner): Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&inner, &uri, &headers, &body);
    ok(fixture("search_catalog_objects.input.json"))
}

async fn batch_retrieve(
    State(inner): Shared,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &uri, &headers, &body);
    ok(fixture("batch_retrieve_catalog_objects.input.json"))
}

async fn counts(State(inner): Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    record(&inner, &uri, &headers, &body);
    ok(fixture("batch_retrieve_inventory_counts.input.json"))
}

fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap_or(0)
}

async fn create_order(State(inner): Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let req = record(&inner, &uri, &headers, &body);
    let mut state = inner.lock().expect("lock");
    if state.fail_orders > 0 {
        state.fail_orders -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"errors": [{"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE", "detail": "try again"}]})),
        )
            .into_response();
    }
    let Some(key) = req["idempotency_key"].as_str().map(str::to_string) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "MISSING_REQUIRED_PARAMETER", "field": "idempotency_key"}]})),
        )
            .into_response();
    };
    if let Some(existing) = state.orders.get(&key) {
        return ok(existing.clone());
    }
    let order = &req["order"];
    let lines = order["line_items"].as_array().cloned().unwrap_or_default();
    let currency = lines
        .first()
        .and_then(|l| l["base_price_money"]["currency"].as_str())
        .unwrap_or("USD")
        .to_string();
    let mut total: i64 = lines
        .iter()
        .map(|l| {
            l["quantity"]
                .as_str()
                .and_then(|q| q.parse::<i64>().ok())
                .unwrap_or(0)
                * amount(&l["base_price_money"])
        })
        .sum();
    for c in order["service_charges"].as_array().into_iter().flatten() {
        total += amount(&c["amount_money"]);
    }
    for d in order["discounts"].as_array().into_iter().flatten() {
        total -= amount(&d["amount_money"]);
    }
    // Square's example response, with this order's id, lines and totals.
    let mut response = fixture("api/create_order_response.json");
    let id = format!("FAKESQ{:06}", state.orders.len() + 1);
    response["order"]["id"] = id.into();
    response["order"]["location_id"] = order["location_id"].clone();
    response["order"]["reference_id"] = order["reference_id"].clone();
    response["order"]["total_money"] = json!({"amount": total, "currency": currency});
    state.orders.insert(key, response.clone());
    ok(response)
}

async fn create_payment(
    State(inner): Shared,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = record(&inner, &uri, &headers, &body);
    let mut state = inner.lock().expect("lock");
    let key = req["idempotency_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(existing) = state.payments.get(&key) {
        return ok(existing.clone());
    }
    let mut response = fixture("api/create_payment_response.json");
    response["payment"]["order_id"] = req["order_id"].clone();
    response["payment"]["amount_money"] = req["amount_money"].clone();
    response["payment"]["status"] = "COMPLETED".into();
    response["payment"]["receipt_number"] = format!("R{:03}", state.payments.len() + 1).into();
    state.payments.insert(key, response.clone());
    ok(response)
}
