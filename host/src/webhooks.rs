//! The webhook endpoints (axum):
//!
//! - `POST /webhooks/snapact/{shop}`: SnapAct's signed events. Verified
//!   ([`crate::snapact::signing`]) with the shop's webhook secrets, written
//!   durably to the inbox keyed by event id, then answered 200; a duplicate
//!   is answered 200 and not processed again. Refusals are a bare 400/401
//!   (the log says why, the caller learns nothing).
//! - `POST /webhooks/pos/{shop}`: the POS's webhooks, handed raw (body,
//!   headers, content type, the public URL they were sent to) to the
//!   adapter's `handle-webhook`, which verifies the vendor's signature with
//!   a secret it names but never sees; its changes go to the outbox.
//!
//! Bodies over `server.max_body_bytes` are refused with 413 before any of
//! this runs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use tokio::sync::Notify;
use tracing::{Instrument, debug, info, warn};

use crate::metrics::{HostMetrics, WebhookSource};
use crate::outbox::inbox::{Disposition, InboxStore, NewEvent};
use crate::outbox::{GroupCommit, SharedClock, SqliteStore};
use crate::runtime::{AdapterError, CallError, Function, Webhook};
use crate::snapact::events::{Envelope, Event};
use crate::snapact::signing::{self, VerifyError};
use crate::telemetry::shop_span;

/// What the webhook routes need of one shop.
pub struct ShopHooks {
    /// The shop (config, adapter, context).
    pub shop: Arc<crate::daemon::Shop>,
    /// Wakes the shop's relay after changes were enqueued.
    pub relay: Arc<Notify>,
    /// Wakes the shop's order worker after an event was stored.
    pub orders: Arc<Notify>,
    /// Triggers the shop's poller, when it polls.
    pub poll: Option<Arc<Notify>>,
}

/// Shared state of the webhook routes.
pub struct Webhooks {
    shops: HashMap<String, ShopHooks>,
    store: Arc<SqliteStore>,
    writes: GroupCommit,
    clock: SharedClock,
    public_url: Option<String>,
    metrics: Option<Arc<HostMetrics>>,
}

impl Webhooks {
    /// The routes' state: `clock` checks SnapAct's timestamps; `public_url`
    /// (the `server.public_url` config) is the base URL POS vendors post to.
    pub fn new(
        shops: Vec<ShopHooks>,
        store: Arc<SqliteStore>,
        clock: SharedClock,
        public_url: Option<String>,
    ) -> Self {
        Webhooks {
            writes: GroupCommit::spawn(Arc::clone(&store)),
            shops: shops
                .into_iter()
                .map(|h| (h.shop.config.id.clone(), h))
                .collect(),
            store,
            clock,
            public_url,
            metrics: None,
        }
    }

    /// Count webhooks for shops this host does not serve into `metrics`
    /// (per-shop counts go to each shop's own [`ShopMetrics`](crate::metrics::ShopMetrics)).
    pub fn with_metrics(mut self, metrics: Arc<HostMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn unknown_shop(&self, source: WebhookSource) {
        if let Some(m) = &self.metrics {
            m.webhook_for_unknown_shop(source);
        }
    }

    /// The router, with bodies capped at `max_body_bytes` (413 above).
    pub fn router(self, max_body_bytes: usize) -> Router {
        Router::new()
            .route("/webhooks/snapact/{shop}", post(snapact_event))
            .route("/webhooks/pos/{shop}", post(pos_webhook))
            .layer(DefaultBodyLimit::max(max_body_bytes))
            .with_state(Arc::new(self))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn snapact_event(
    State(hooks): State<Arc<Webhooks>>,
    Path(shop_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(hooks_of) = hooks.shops.get(&shop_id) else {
        warn!(shop = %shop_id, "SnapAct webhook for a shop this host does not serve; refused (401)");
        hooks.unknown_shop(WebhookSource::Snapact);
        return StatusCode::UNAUTHORIZED;
    };
    let span = shop_span(&shop_id, hooks_of.shop.metrics.adapter());
    snapact_event_for(&hooks, hooks_of, &shop_id, &headers, &body)
        .instrument(span)
        .await
}

async fn snapact_event_for(
    hooks: &Webhooks,
    hooks_of: &ShopHooks,
    shop_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> StatusCode {
    let shop = &hooks_of.shop;
    let adapter = shop.metrics.adapter();
    let secrets = &shop.config.webhook_secrets;
    if secrets.is_empty() {
        warn!(shop = %shop_id, adapter, "SnapAct webhook refused (401): the shop has no webhook_secret in the config");
        shop.metrics
            .webhook_verification_failed(WebhookSource::Snapact);
        return StatusCode::UNAUTHORIZED;
    }
    if let Err(e) = signing::verify(
        secrets,
        header(headers, signing::SIGNATURE_HEADER),
        header(headers, signing::TIMESTAMP_HEADER),
        body,
        hooks.clock.now(),
    ) {
        let status = match e {
            VerifyError::Missing(_) | VerifyError::BadTimestamp => StatusCode::BAD_REQUEST,
            VerifyError::Stale { .. } | VerifyError::Mismatch => StatusCode::UNAUTHORIZED,
        };
        warn!(shop = %shop_id, adapter, "SnapAct webhook refused ({}): {e}", status.as_u16());
        shop.metrics
            .webhook_verification_failed(WebhookSource::Snapact);
        return status;
    }
    let envelope = match Envelope::parse(body) {
        Ok(env) => env,
        Err(e) => {
            warn!(shop = %shop_id, adapter, "SnapAct webhook refused (400): {e}");
            return StatusCode::BAD_REQUEST;
        }
    };
    if let Some(id) = header(headers, signing::EVENT_ID_HEADER)
        && id != envelope.id
    {
        warn!(shop = %shop_id, adapter, "SnapAct webhook refused (400): the event id header does not match the body's id");
        return StatusCode::BAD_REQUEST;
    }
    let (disposition, order_id) = match envelope.event() {
        Ok(Event::OrderPaid(order)) => (Disposition::Process, Some(order.id)),
        Ok(Event::StatusUpdated(update)) => (Disposition::Process, Some(update.order_id)),
        Ok(Event::CatalogItem { .. }) => (Disposition::Recorded, None),
        Ok(Event::Unknown) => {
            info!(shop = %shop_id, adapter, event = %envelope.id, kind = %envelope.event_type,
                "SnapAct event of a type this host does not know: stored, not processed");
            (Disposition::Ignored, None)
        }
        Err(e) => {
            warn!(shop = %shop_id, adapter, event = %envelope.id, "SnapAct webhook refused (400): {e}");
            return StatusCode::BAD_REQUEST;
        }
    };
    let event = NewEvent {
        event_id: envelope.id.clone(),
        event_type: envelope.event_type.clone(),
        order_id,
        body: body.to_vec(),
        disposition,
    };
    match hooks.store.record_event(shop_id, event).await {
        Ok(true) => {
            info!(shop = %shop_id, adapter, event = %envelope.id, kind = %envelope.event_type, "SnapAct event received");
            if disposition == Disposition::Process {
                hooks_of.orders.notify_one();
            }
            StatusCode::OK
        }
        Ok(false) => {
            debug!(shop = %shop_id, adapter, event = %envelope.id, "duplicate SnapAct event acknowledged, not processed again");
            StatusCode::OK
        }
        Err(e) => {
            warn!(shop = %shop_id, adapter, event = %envelope.id, "could not store a SnapAct event (503, SnapAct will redeliver): {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

async fn pos_webhook(
    State(hooks): State<Arc<Webhooks>>,
    Path(shop_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(hooks_of) = hooks.shops.get(&shop_id) else {
        warn!(shop = %shop_id, "POS webhook for a shop this host does not serve; refused (401)");
        hooks.unknown_shop(WebhookSource::Pos);
        return StatusCode::UNAUTHORIZED;
    };
    let span = shop_span(&shop_id, hooks_of.shop.metrics.adapter());
    pos_webhook_for(&hooks, hooks_of, &shop_id, &uri, &headers, body)
        .instrument(span)
        .await
}

async fn pos_webhook_for(
    hooks: &Webhooks,
    hooks_of: &ShopHooks,
    shop_id: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> StatusCode {
    let shop = &hooks_of.shop;
    let adapter = shop.metrics.adapter();
    let current = match shop.adapter.usable(Function::HandleWebhook) {
        Ok(a) => a,
        Err(e) => {
            warn!(shop = %shop_id, adapter, "POS webhook refused (503, the POS will redeliver): {e}");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = match (&hooks.public_url, header(headers, "host")) {
        (Some(base), _) => format!("{base}{path_and_query}"),
        (None, Some(host)) => format!("http://{host}{path_and_query}"),
        (None, None) => path_and_query.to_string(),
    };
    let request = Webhook {
        url,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        content_type: header(headers, "content-type")
            .unwrap_or_default()
            .to_string(),
        body: body.to_vec(),
    };
    let outcome = match current.handle_webhook(&shop.context(), request).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let status = webhook_error_status(&e);
            warn!(shop = %shop_id, adapter, "POS webhook refused ({}): {e}", status.as_u16());
            if matches!(e.adapter_error(), Some(AdapterError::Unauthenticated(_))) {
                shop.metrics.webhook_verification_failed(WebhookSource::Pos);
            }
            return status;
        }
    };
    for r in outcome.rejected.iter().take(5) {
        warn!(shop = %shop_id, adapter, "POS webhook: {r}");
    }
    let changes = outcome.changes.len();
    if changes > 0 {
        match hooks.writes.enqueue(shop_id, outcome.changes).await {
            Ok(report) => {
                info!(shop = %shop_id, adapter, changes, queued = report.queued, "POS webhook mapped");
                hooks_of.relay.notify_one();
            }
            Err(e) => {
                warn!(shop = %shop_id, adapter, "could not store a POS webhook's changes (503, the POS will redeliver): {e}");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
    }
    if outcome.request_poll {
        match &hooks_of.poll {
            Some(trigger) => {
                debug!(shop = %shop_id, adapter, "POS webhook asks for a poll");
                trigger.notify_one();
            }
            None => warn!(shop = %shop_id, adapter,
                "the POS webhook says the catalog changed, but the shop does not poll: add `poll = {{ every = \"5m\" }}` to it"),
        }
    }
    StatusCode::OK
}

/// What the POS is told when its webhook cannot be used.
fn webhook_error_status(e: &CallError) -> StatusCode {
    match e.adapter_error() {
        Some(AdapterError::Unauthenticated(_)) => StatusCode::UNAUTHORIZED,
        Some(AdapterError::InvalidInput { .. } | AdapterError::Unsupported(_)) => {
            StatusCode::BAD_REQUEST
        }
        // A configuration problem or a failing POS: the vendor redelivers
        // later, by when the operator may have fixed it.
        Some(AdapterError::NotConfigured(_) | AdapterError::Upstream { .. }) | None => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter_error(error: AdapterError) -> CallError {
        CallError::Adapter {
            adapter: "a".into(),
            version: semver::Version::new(1, 0, 0),
            function: crate::runtime::Function::HandleWebhook,
            error,
        }
    }

    #[test]
    fn a_bad_signature_is_401_and_bad_input_400() {
        assert_eq!(
            webhook_error_status(&adapter_error(AdapterError::Unauthenticated("x".into()))),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            webhook_error_status(&adapter_error(AdapterError::InvalidInput {
                message: "x".into(),
                path: None
            })),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            webhook_error_status(&adapter_error(AdapterError::NotConfigured("x".into()))),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
