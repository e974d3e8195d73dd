//! What the host measures, labelled by `shop` and `adapter` (the adapter id
//! the shop's config names). [`HostMetrics`] owns the families;
//! [`ShopMetrics`] is one shop's handle with its label sets resolved once,
//! passed to that shop's relay, webhook routes and adapter calls.
//!
//! Gauges that live in the store (outbox depth, oldest pending change,
//! parked changes, paused shops, SnapAct events waiting) are not kept here:
//! [`HostMetrics::render`] takes them as read from the store at scrape time
//! ([`ShopGauges`]), so they are right even when another process (`import`,
//! `outbox retry`) changed the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use super::{
    Counter, DURATION_BUCKETS, Family, Histogram, Kind, Registry, format_value, write_header,
    write_sample,
};
use crate::catalog::Change;
use crate::outbox::ShopGauges;
use crate::runtime::{AdapterError, CallError, Function, TrapCause};

/// What happened to one change in a delivery round
/// (`snapact_deliveries_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// SnapAct stored the upsert.
    Upserted,
    /// SnapAct deleted the item.
    Deleted,
    /// SnapAct refused it; parked with the reason.
    Rejected,
    /// The request failed; the change is due again later.
    Retry,
    /// The request failed and the change was older than `max_age`: parked.
    Failed,
}

impl DeliveryResult {
    const ALL: [DeliveryResult; 5] = [
        DeliveryResult::Upserted,
        DeliveryResult::Deleted,
        DeliveryResult::Rejected,
        DeliveryResult::Retry,
        DeliveryResult::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Upserted => "upserted",
            DeliveryResult::Deleted => "deleted",
            DeliveryResult::Rejected => "rejected",
            DeliveryResult::Retry => "retry",
            DeliveryResult::Failed => "failed",
        }
    }
}

/// Why a delivery request to SnapAct failed as a whole
/// (`snapact_delivery_request_failures_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// 401/403: the key was refused; the shop is paused.
    Unauthorized,
    /// 429: SnapAct asked to wait.
    RateLimited,
    /// 5xx, timeouts, dropped connections.
    Transient,
}

impl FailureReason {
    const ALL: [FailureReason; 3] = [
        FailureReason::Unauthorized,
        FailureReason::RateLimited,
        FailureReason::Transient,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Unauthorized => "unauthorized",
            FailureReason::RateLimited => "rate_limited",
            FailureReason::Transient => "transient",
        }
    }
}

/// Who sent a webhook (`source` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSource {
    /// SnapAct's signed events.
    Snapact,
    /// The shop's POS, verified by its adapter.
    Pos,
}

impl WebhookSource {
    const ALL: [WebhookSource; 2] = [WebhookSource::Snapact, WebhookSource::Pos];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Snapact => "snapact",
            WebhookSource::Pos => "pos",
        }
    }
}

const FUNCTIONS: [Function; 5] = [
    Function::MapRecords,
    Function::HandleWebhook,
    Function::Poll,
    Function::PushOrder,
    Function::OrderStatusChanged,
];

fn function_index(f: Function) -> usize {
    match f {
        Function::MapRecords => 0,
        Function::HandleWebhook => 1,
        Function::Poll => 2,
        Function::PushOrder => 3,
        Function::OrderStatusChanged => 4,
    }
}

/// The `cause` label of a trap.
pub fn trap_cause_label(cause: &TrapCause) -> &'static str {
    match cause {
        TrapCause::Deadline { .. } => "deadline",
        TrapCause::Memory { .. } => "memory",
        TrapCause::OutputTooLarge { .. } => "output",
        TrapCause::Panic(_) => "panic",
        TrapCause::Other(_) => "other",
    }
}

/// The `kind` label of an adapter's error answer.
pub fn adapter_error_label(error: &AdapterError) -> &'static str {
    match error {
        AdapterError::InvalidInput { .. } => "invalid_input",
        AdapterError::Unsupported(_) => "unsupported",
        AdapterError::Upstream { .. } => "upstream",
        AdapterError::NotConfigured(_) => "not_configured",
        AdapterError::Unauthenticated(_) => "unauthenticated",
    }
}

/// Every metric of one host process.
pub struct HostMetrics {
    registry: Registry,
    changes_mapped: Arc<Family<Counter>>,
    records_rejected: Arc<Family<Counter>>,
    deliveries: Arc<Family<Counter>>,
    delivery_retries: Arc<Family<Counter>>,
    request_failures: Arc<Family<Counter>>,
    call_duration: Arc<Family<Histogram>>,
    traps: Arc<Family<Counter>>,
    adapter_errors: Arc<Family<Counter>>,
    verification_failures: Arc<Family<Counter>>,
    unknown_shop: Arc<Family<Counter>>,
    pos_requests: Arc<Family<Counter>>,
    shops: Mutex<BTreeMap<(String, String), Arc<ShopMetrics>>>,
}

impl std::fmt::Debug for HostMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostMetrics").finish_non_exhaustive()
    }
}

impl Default for HostMetrics {
    fn default() -> Self {
        Self::new()
    }
}

const SHOP_ADAPTER: &[&str] = &["shop", "adapter"];

impl HostMetrics {
    /// Every family registered, nothing counted yet.
    pub fn new() -> Self {
        let r = Registry::new();
        let build = r.gauge(
            "snapact_host_build_info",
            "The running snapact-host's version; always 1.",
            &["version"],
        );
        build.with(&[env!("CARGO_PKG_VERSION")]).set(1.0);
        HostMetrics {
            changes_mapped: r.counter(
                "snapact_changes_mapped_total",
                "Catalog changes adapters produced (webhooks, polls, imports in this process), by operation.",
                &["shop", "adapter", "op"],
            ),
            records_rejected: r.counter(
                "snapact_records_rejected_total",
                "POS records adapters rejected as unmappable (not sent to SnapAct).",
                SHOP_ADAPTER,
            ),
            deliveries: r.counter(
                "snapact_deliveries_total",
                "Changes whose delivery attempt to SnapAct ended, by result: upserted, deleted, rejected (parked), retry (due again), failed (parked after max_age).",
                &["shop", "adapter", "result"],
            ),
            delivery_retries: r.counter(
                "snapact_delivery_retries_total",
                "Changes sent to SnapAct again after an earlier attempt failed.",
                SHOP_ADAPTER,
            ),
            request_failures: r.counter(
                "snapact_delivery_request_failures_total",
                "Requests to SnapAct that failed as a whole, by reason: unauthorized (shop paused), rate_limited, transient.",
                &["shop", "adapter", "reason"],
            ),
            call_duration: r.histogram(
                "snapact_adapter_call_duration_seconds",
                "Adapter calls from instantiation to result, by exported function (failed calls included).",
                &["shop", "adapter", "function"],
                DURATION_BUCKETS,
            ),
            traps: r.counter(
                "snapact_adapter_traps_total",
                "Adapter calls the host stopped, by function and cause: deadline, memory, output (result too large), panic, other.",
                &["shop", "adapter", "function", "cause"],
            ),
            adapter_errors: r.counter(
                "snapact_adapter_errors_total",
                "Adapter calls that answered with an error, by function and kind.",
                &["shop", "adapter", "function", "kind"],
            ),
            verification_failures: r.counter(
                "snapact_webhook_verification_failures_total",
                "Webhooks refused because their signature or timestamp did not verify, by source (snapact, pos).",
                &["shop", "adapter", "source"],
            ),
            unknown_shop: r.counter(
                "snapact_webhook_unknown_shop_total",
                "Webhooks for a shop this host does not serve, by source (snapact, pos).",
                &["source"],
            ),
            pos_requests: r.counter(
                "snapact_pos_requests_total",
                "Adapters' pos-http requests by the POS's final HTTP status, `error` (no answer: timeout, connection, rate limit, too large) or `refused` (not allowed, never sent).",
                &["shop", "adapter", "status"],
            ),
            registry: r,
            shops: Mutex::new(BTreeMap::new()),
        }
    }

    /// The handle of `shop` using adapter `adapter` (created once; the same
    /// handle on every call).
    pub fn shop(&self, shop: &str, adapter: &str) -> Arc<ShopMetrics> {
        let mut shops = self.shops.lock().unwrap_or_else(|p| p.into_inner());
        let key = (shop.to_owned(), adapter.to_owned());
        Arc::clone(
            shops
                .entry(key)
                .or_insert_with(|| Arc::new(ShopMetrics::new(self, shop, adapter))),
        )
    }

    /// One shop's handle recording into metrics nobody renders: for
    /// commands that map or deliver outside a daemon (`import`).
    pub fn detached(shop: &str, adapter: &str) -> Arc<ShopMetrics> {
        HostMetrics::new().shop(shop, adapter)
    }

    /// `webhook_unknown_shop_total{source}` + 1. The shop id in the URL is
    /// the caller's text, so it is not a label.
    pub fn webhook_for_unknown_shop(&self, source: WebhookSource) {
        self.unknown_shop.with(&[source.as_str()]).inc();
    }

    /// The whole exposition: every registered family, then the adapters
    /// each shop runs (`shops`: shop, adapter id, version) and the gauges
    /// read from the store (`None`: the store did not answer, so
    /// `snapact_store_up` is 0 and the store gauges are left out rather
    /// than shown stale).
    pub fn render(
        &self,
        shops: &[(String, String, String)],
        gauges: Option<&[ShopGauges]>,
    ) -> String {
        let mut out = String::new();
        self.registry.render_into(&mut out);

        write_header(
            &mut out,
            "snapact_adapter_info",
            "The adapter version each shop runs; always 1.",
            Kind::Gauge,
        );
        for (shop, adapter, version) in shops {
            write_sample(
                &mut out,
                "snapact_adapter_info",
                &[("shop", shop), ("adapter", adapter), ("version", version)],
                None,
                "1",
            );
        }

        write_header(
            &mut out,
            "snapact_store_up",
            "1 when the store answered this scrape's queries, else 0.",
            Kind::Gauge,
        );
        write_sample(
            &mut out,
            "snapact_store_up",
            &[],
            None,
            if gauges.is_some() { "1" } else { "0" },
        );
        let Some(gauges) = gauges else {
            return out;
        };
        let adapter_of: BTreeMap<&str, &str> = shops
            .iter()
            .map(|(s, a, _)| (s.as_str(), a.as_str()))
            .collect();
        let rows: Vec<(&ShopGauges, &str)> = gauges
            .iter()
            .filter_map(|g| adapter_of.get(g.shop.as_str()).map(|a| (g, *a)))
            .collect();
        type Pick = fn(&ShopGauges) -> Option<f64>;
        let families: [(&str, &str, Pick); 7] = [
            (
                "snapact_outbox_pending",
                "Changes waiting in the outbox for delivery to SnapAct.",
                |g| Some(g.pending as f64),
            ),
            (
                "snapact_outbox_oldest_pending_age_seconds",
                "Age of the oldest change waiting for delivery; 0 when none waits.",
                |g| Some(g.oldest_pending_age.map_or(0.0, |d| d.as_secs_f64())),
            ),
            (
                "snapact_outbox_parked",
                "Changes parked (refused by SnapAct or older than max_age) until an operator retries them.",
                |g| Some(g.parked as f64),
            ),
            (
                "snapact_shop_paused",
                "1 while delivery is paused because SnapAct refused the shop's key (401/403).",
                |g| Some(if g.paused { 1.0 } else { 0.0 }),
            ),
            (
                "snapact_last_success_timestamp_seconds",
                "Unix time of the last delivery SnapAct acknowledged (absent: never).",
                |g| {
                    g.last_success_at
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_secs_f64())
                },
            ),
            (
                "snapact_inbox_pending",
                "SnapAct events (paid orders, status updates) waiting to reach the POS.",
                |g| Some(g.events_pending as f64),
            ),
            (
                "snapact_inbox_parked",
                "SnapAct events parked after failing, until an operator retries them.",
                |g| Some(g.events_parked as f64),
            ),
        ];
        for (name, help, pick) in families {
            write_header(&mut out, name, help, Kind::Gauge);
            for (g, adapter) in &rows {
                if let Some(v) = pick(g) {
                    write_sample(
                        &mut out,
                        name,
                        &[("shop", &g.shop), ("adapter", adapter)],
                        None,
                        &format_value(v),
                    );
                }
            }
        }
        out
    }
}

/// One shop's metrics, label sets resolved.
pub struct ShopMetrics {
    shop: String,
    adapter: String,
    mapped: [Arc<Counter>; 3],
    rejected_records: Arc<Counter>,
    deliveries: [Arc<Counter>; 5],
    retries: Arc<Counter>,
    request_failures: [Arc<Counter>; 3],
    verification_failures: [Arc<Counter>; 2],
    call_duration_family: Arc<Family<Histogram>>,
    call_duration: [OnceLock<Arc<Histogram>>; 5],
    traps: Arc<Family<Counter>>,
    adapter_errors: Arc<Family<Counter>>,
    pos_requests: Arc<Family<Counter>>,
}

impl std::fmt::Debug for ShopMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopMetrics")
            .field("shop", &self.shop)
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

impl ShopMetrics {
    fn new(m: &HostMetrics, shop: &str, adapter: &str) -> Self {
        let sa = |f: &Family<Counter>, extra: &str| f.with(&[shop, adapter, extra]);
        ShopMetrics {
            shop: shop.to_owned(),
            adapter: adapter.to_owned(),
            mapped: ["upsert", "stock", "delete"].map(|op| sa(&m.changes_mapped, op)),
            rejected_records: m.records_rejected.with(&[shop, adapter]),
            deliveries: DeliveryResult::ALL.map(|r| sa(&m.deliveries, r.as_str())),
            retries: m.delivery_retries.with(&[shop, adapter]),
            request_failures: FailureReason::ALL.map(|r| sa(&m.request_failures, r.as_str())),
            verification_failures: WebhookSource::ALL
                .map(|s| sa(&m.verification_failures, s.as_str())),
            call_duration_family: Arc::clone(&m.call_duration),
            call_duration: Default::default(),
            traps: Arc::clone(&m.traps),
            adapter_errors: Arc::clone(&m.adapter_errors),
            pos_requests: Arc::clone(&m.pos_requests),
        }
    }

    /// The shop id.
    pub fn shop(&self) -> &str {
        &self.shop
    }

    /// The adapter id (the `adapter` label).
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// An adapter produced `changes` and rejected `rejected` records.
    pub fn mapped(&self, changes: &[Change], rejected: usize) {
        let (mut upserts, mut stock, mut deletes) = (0, 0, 0);
        for c in changes {
            match c {
                Change::Upsert { .. } => upserts += 1,
                Change::Stock { .. } => stock += 1,
                Change::Delete { .. } => deletes += 1,
            }
        }
        for (counter, n) in self.mapped.iter().zip([upserts, stock, deletes]) {
            if n > 0 {
                counter.add(n);
            }
        }
        if rejected > 0 {
            self.rejected_records.add(rejected as u64);
        }
    }

    /// An adapter call of `function` took `elapsed` and ended with `error`
    /// (`None`: it succeeded).
    pub fn adapter_call(&self, function: Function, elapsed: Duration, error: Option<&CallError>) {
        let i = function_index(function);
        if let Some(cell) = self.call_duration.get(i) {
            cell.get_or_init(|| {
                self.call_duration_family
                    .with(&[&self.shop, &self.adapter, FUNCTIONS[i].as_str()])
            })
            .observe(elapsed.as_secs_f64());
        }
        match error {
            None => {}
            Some(CallError::Trap { cause, .. }) => self
                .traps
                .with(&[
                    &self.shop,
                    &self.adapter,
                    function.as_str(),
                    trap_cause_label(cause),
                ])
                .inc(),
            Some(CallError::Adapter { error, .. }) => self
                .adapter_errors
                .with(&[
                    &self.shop,
                    &self.adapter,
                    function.as_str(),
                    adapter_error_label(error),
                ])
                .inc(),
            // Refused before the runtime is reached: nothing ran.
            Some(CallError::Withdrawn { .. }) => {}
        }
    }

    /// `n` changes ended a delivery attempt with `result`.
    pub fn delivered(&self, result: DeliveryResult, n: u64) {
        if n > 0 {
            self.deliveries[result as usize].add(n);
        }
    }

    /// `n` changes were sent again after an earlier failure.
    pub fn retried(&self, n: u64) {
        if n > 0 {
            self.retries.add(n);
        }
    }

    /// A request to SnapAct failed as a whole.
    pub fn request_failed(&self, reason: FailureReason) {
        self.request_failures[reason as usize].inc();
    }

    /// A webhook's signature or timestamp did not verify.
    pub fn webhook_verification_failed(&self, source: WebhookSource) {
        self.verification_failures[source as usize].inc();
    }

    /// A `pos-http` request ended: `Some(status)` when the POS answered,
    /// `None` when it did not (timeout, connection, limits).
    pub fn pos_request(&self, status: Option<u16>) {
        let label = match status {
            Some(code) => code.to_string(),
            None => "error".to_owned(),
        };
        self.pos_requests
            .with(&[&self.shop, &self.adapter, &label])
            .inc();
    }

    /// A `pos-http` request the host refused to send.
    pub fn pos_request_refused(&self) {
        self.pos_requests
            .with(&[&self.shop, &self.adapter, "refused"])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Availability, StockTarget};
    use std::time::SystemTime;

    fn value(text: &str, sample: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn a_shops_counters_exist_at_zero_and_count_by_label() {
        let m = HostMetrics::new();
        let s = m.shop("lagos-main", "square");
        assert!(Arc::ptr_eq(&s, &m.shop("lagos-main", "square")));
        let text = m.render(&[], None);
        assert_eq!(
            value(
                &text,
                r#"snapact_deliveries_total{shop="lagos-main",adapter="square",result="upserted"}"#
            ),
            Some(0.0),
            "{text}"
        );
        s.delivered(DeliveryResult::Upserted, 3);
        s.delivered(DeliveryResult::Retry, 2);
        s.retried(2);
        s.request_failed(FailureReason::RateLimited);
        s.webhook_verification_failed(WebhookSource::Pos);
        s.pos_request(Some(503));
        s.pos_request(None);
        s.pos_request_refused();
        s.mapped(
            &[Change::Stock {
                target: StockTarget::ExternalRef("V1".into()).into(),
                quantity: Some(1),
                availability: Availability::InStock,
                source_version: None,
            }],
            4,
        );
        let text = m.render(&[], None);
        for (sample, want) in [
            (
                r#"snapact_deliveries_total{shop="lagos-main",adapter="square",result="upserted"}"#,
                3.0,
            ),
            (
                r#"snapact_deliveries_total{shop="lagos-main",adapter="square",result="retry"}"#,
                2.0,
            ),
            (
                r#"snapact_delivery_retries_total{shop="lagos-main",adapter="square"}"#,
                2.0,
            ),
            (
                r#"snapact_delivery_request_failures_total{shop="lagos-main",adapter="square",reason="rate_limited"}"#,
                1.0,
            ),
            (
                r#"snapact_webhook_verification_failures_total{shop="lagos-main",adapter="square",source="pos"}"#,
                1.0,
            ),
            (
                r#"snapact_webhook_verification_failures_total{shop="lagos-main",adapter="square",source="snapact"}"#,
                0.0,
            ),
            (
                r#"snapact_pos_requests_total{shop="lagos-main",adapter="square",status="503"}"#,
                1.0,
            ),
            (
                r#"snapact_pos_requests_total{shop="lagos-main",adapter="square",status="error"}"#,
                1.0,
            ),
            (
                r#"snapact_pos_requests_total{shop="lagos-main",adapter="square",status="refused"}"#,
                1.0,
            ),
            (
                r#"snapact_changes_mapped_total{shop="lagos-main",adapter="square",op="stock"}"#,
                1.0,
            ),
            (
                r#"snapact_records_rejected_total{shop="lagos-main",adapter="square"}"#,
                4.0,
            ),
        ] {
            assert_eq!(value(&text, sample), Some(want), "{sample}\n{text}");
        }
    }

    #[test]
    fn adapter_calls_are_timed_by_function_and_traps_counted_by_cause() {
        let m = HostMetrics::new();
        let s = m.shop("a", "square");
        let version = semver::Version::new(1, 0, 0);
        s.adapter_call(Function::MapRecords, Duration::from_micros(300), None);
        let trap = CallError::Trap {
            adapter: "square".into(),
            version: version.clone(),
            function: Function::Poll,
            cause: TrapCause::Deadline { timeout_ms: 2000 },
        };
        s.adapter_call(Function::Poll, Duration::from_secs(2), Some(&trap));
        let refused = CallError::Adapter {
            adapter: "square".into(),
            version,
            function: Function::HandleWebhook,
            error: AdapterError::Unauthenticated("bad signature".into()),
        };
        s.adapter_call(
            Function::HandleWebhook,
            Duration::from_millis(1),
            Some(&refused),
        );
        let text = m.render(&[], None);
        for (sample, want) in [
            (
                r#"snapact_adapter_call_duration_seconds_bucket{shop="a",adapter="square",function="map-records",le="0.00025"}"#,
                0.0,
            ),
            (
                r#"snapact_adapter_call_duration_seconds_bucket{shop="a",adapter="square",function="map-records",le="0.0005"}"#,
                1.0,
            ),
            (
                r#"snapact_adapter_call_duration_seconds_count{shop="a",adapter="square",function="poll"}"#,
                1.0,
            ),
            (
                r#"snapact_adapter_traps_total{shop="a",adapter="square",function="poll",cause="deadline"}"#,
                1.0,
            ),
            (
                r#"snapact_adapter_errors_total{shop="a",adapter="square",function="handle-webhook",kind="unauthenticated"}"#,
                1.0,
            ),
        ] {
            assert_eq!(value(&text, sample), Some(want), "{sample}\n{text}");
        }
        // No message text (which may quote input) ever becomes a label.
        assert!(!text.contains("bad signature"), "{text}");
    }

    #[test]
    fn store_gauges_render_per_configured_shop_and_vanish_when_the_store_is_down() {
        let m = HostMetrics::new();
        let shops = vec![(
            "lagos-main".to_owned(),
            "square".to_owned(),
            "1.2.0".to_owned(),
        )];
        let gauges = vec![
            ShopGauges {
                shop: "lagos-main".into(),
                pending: 7,
                oldest_pending_age: Some(Duration::from_millis(12_500)),
                parked: 2,
                paused: true,
                last_success_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
                events_pending: 1,
                events_parked: 0,
            },
            // In the store, no longer configured: not shown.
            ShopGauges {
                shop: "closed-shop".into(),
                pending: 1,
                oldest_pending_age: None,
                parked: 0,
                paused: false,
                last_success_at: Some(SystemTime::now()),
                events_pending: 0,
                events_parked: 0,
            },
        ];
        let text = m.render(&shops, Some(&gauges));
        for (sample, want) in [
            ("snapact_store_up", 1.0),
            (
                r#"snapact_adapter_info{shop="lagos-main",adapter="square",version="1.2.0"}"#,
                1.0,
            ),
            (
                r#"snapact_outbox_pending{shop="lagos-main",adapter="square"}"#,
                7.0,
            ),
            (
                r#"snapact_outbox_oldest_pending_age_seconds{shop="lagos-main",adapter="square"}"#,
                12.5,
            ),
            (
                r#"snapact_outbox_parked{shop="lagos-main",adapter="square"}"#,
                2.0,
            ),
            (
                r#"snapact_shop_paused{shop="lagos-main",adapter="square"}"#,
                1.0,
            ),
            (
                r#"snapact_last_success_timestamp_seconds{shop="lagos-main",adapter="square"}"#,
                1_800_000_000.0,
            ),
            (
                r#"snapact_inbox_pending{shop="lagos-main",adapter="square"}"#,
                1.0,
            ),
            (
                r#"snapact_host_build_info{version=""#,
                f64::NAN, // checked below
            ),
        ] {
            if want.is_nan() {
                assert!(text.contains(sample), "{text}");
            } else {
                assert_eq!(value(&text, sample), Some(want), "{sample}\n{text}");
            }
        }
        assert!(!text.contains("closed-shop"), "{text}");

        let down = m.render(&shops, None);
        assert_eq!(value(&down, "snapact_store_up"), Some(0.0));
        assert!(!down.contains("snapact_outbox_pending"), "{down}");
    }

    #[test]
    fn every_family_is_declared_once_with_a_valid_name() {
        let m = HostMetrics::new();
        let s = m.shop("a", "b");
        s.adapter_call(Function::MapRecords, Duration::from_millis(1), None);
        m.webhook_for_unknown_shop(WebhookSource::Snapact);
        let text = m.render(
            &[("a".into(), "b".into(), "1.0.0".into())],
            Some(&[ShopGauges {
                shop: "a".into(),
                pending: 0,
                oldest_pending_age: None,
                parked: 0,
                paused: false,
                last_success_at: None,
                events_pending: 0,
                events_parked: 0,
            }]),
        );
        let mut seen = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(super::super::valid_metric_name(name), "{name}");
                assert!(seen.insert(name.to_owned()), "{name} declared twice");
            } else if !line.starts_with('#') {
                let name = line
                    .split(['{', ' '])
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count");
                assert!(seen.contains(name), "sample before its TYPE: {line}");
            }
        }
        // Never had a success: no timestamp sample, but the family is declared.
        assert!(seen.contains("snapact_last_success_timestamp_seconds"));
        assert!(!text.contains("snapact_last_success_timestamp_seconds{"));
    }
}
