//! The operator's HTTP routes on the host's server:
//!
//! - `GET /healthz`: liveness; 200 `ok` while the process serves HTTP.
//! - `GET /readyz`: 200 `ready` when at least one shop's adapter is loaded
//!   and not withdrawn (revoked), and the store takes writes; else 503 with
//!   the reason as text.
//! - `GET /metrics`: Prometheus text format 0.0.4 ([`crate::metrics`]),
//!   store gauges read at scrape time.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::daemon::Shop;
use crate::metrics::{self, HostMetrics};
use crate::outbox::SqliteStore;

/// How long the readiness probe waits for the store's write lock.
pub const STORE_PROBE_WAIT: Duration = Duration::from_secs(1);

/// How long a scrape waits for the store before showing `snapact_store_up 0`.
const SCRAPE_STORE_WAIT: Duration = Duration::from_secs(5);

/// What the routes read.
pub struct Operations {
    /// The store the gauges and the readiness probe read.
    pub store: Arc<SqliteStore>,
    /// The shops served, with their adapters.
    pub shops: Vec<Arc<Shop>>,
    /// The counters and histograms.
    pub metrics: Arc<HostMetrics>,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router(ops: Operations) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .with_state(Arc::new(ops))
}

/// Why the host is not ready, if it is not.
pub async fn readiness(ops: &Operations) -> Result<(), String> {
    if ops.shops.is_empty() {
        return Err("no adapter loaded: the config has no [[shop]]".to_owned());
    }
    // A withdrawn (revoked) adapter is loaded but never called: a host
    // whose every shop is withdrawn does no work, and says why.
    let withdrawn: Vec<String> = ops
        .shops
        .iter()
        .filter_map(|s| {
            s.adapter
                .withdrawn()
                .map(|why| format!("shop {}: {why}", s.config.id))
        })
        .collect();
    if withdrawn.len() == ops.shops.len() {
        return Err(format!(
            "no adapter may run (each shop's was revoked): {}",
            withdrawn.join("; ")
        ));
    }
    match tokio::time::timeout(STORE_PROBE_WAIT * 3, ops.store.ping(STORE_PROBE_WAIT)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the store is unavailable: {e}")),
        Err(_) => Err(format!(
            "the store is unavailable: it did not answer within {} s",
            (STORE_PROBE_WAIT * 3).as_secs()
        )),
    }
}

async fn readyz(State(ops): State<Arc<Operations>>) -> (StatusCode, String) {
    match readiness(&ops).await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(reason) => {
            tracing::warn!("not ready: {reason}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}"),
            )
        }
    }
}

async fn scrape(State(ops): State<Arc<Operations>>) -> Response {
    let shops: Vec<(String, String, String)> = ops
        .shops
        .iter()
        .map(|s| {
            (
                s.config.id.clone(),
                s.metrics.adapter().to_owned(),
                s.adapter.current().version().to_string(),
            )
        })
        .collect();
    let ids = shops.iter().map(|(id, _, _)| id.clone()).collect();
    let gauges = match tokio::time::timeout(SCRAPE_STORE_WAIT, ops.store.gauges(ids)).await {
        Ok(Ok(g)) => Some(g),
        Ok(Err(e)) => {
            tracing::warn!("metrics: the store gauges could not be read: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(
                "metrics: the store did not answer within {} s; store gauges left out",
                SCRAPE_STORE_WAIT.as_secs()
            );
            None
        }
    };
    let body = ops.metrics.render(&shops, gauges.as_deref());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}
