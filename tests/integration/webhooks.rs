//! The webhook endpoints of a running daemon: SnapAct's signed events
//! (forgeries, wrong secrets, stale and future timestamps, replays,
//! malformed bodies, oversized bodies, unknown shops) and the POS's webhooks
//! through the Square adapter (Square's signature over URL + body).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde_json::{Value, json};
use snapact_host::config::{Config, Overrides};
use snapact_host::daemon::Daemon;
use snapact_host::outbox::inbox::InboxStore;
use snapact_host::outbox::{Store, SystemClock};
use snapact_host::snapact::signing;
use snapact_tests::{
    assert_holds_no_secret, assert_logs_hold_no_secret, build_adapter, capture_logs, fixtures_dir,
    test_adapters_dir,
};

use crate::pipeline::support::{Served, sandbox_config};

pub const SHOP: &str = "lagos-main";
pub const SNAPACT_KEY: &str = "sk_test_webhooks_4f1c";
pub const WEBHOOK_SECRET_OLD: &str = "whsec_old_rotating_out_9a7b";
pub const WEBHOOK_SECRET_NEW: &str = "whsec_new_rotating_in_3c2d";
pub const SQUARE_TOKEN: &str = "EAAAl-square-token-never-logged-77";
/// The key `inventory_count_updated_signed` in webhook_signatures.json was signed with.
pub const SQUARE_SIGNATURE_KEY: &str = "snapact-test-signature-key";
const MAX_BODY: usize = 64 * 1024;

/// Every configured secret value, for leak checks.
pub const SECRETS: &[&str] = &[
    SNAPACT_KEY,
    WEBHOOK_SECRET_OLD,
    WEBHOOK_SECRET_NEW,
    SQUARE_TOKEN,
    SQUARE_SIGNATURE_KEY,
    crate::containment::DECLARED_SECRET,
    crate::containment::UNDECLARED_SECRET,
];

/// A daemon serving one Square shop, with its sandbox.
pub struct Host {
    pub daemon: Daemon,
    pub url: String,
    pub sandbox: Served,
    _dir: tempfile::TempDir,
}

pub fn env() -> BTreeMap<String, String> {
    [
        ("SNAPACT_KEY", SNAPACT_KEY),
        ("WH_OLD", WEBHOOK_SECRET_OLD),
        ("WH_NEW", WEBHOOK_SECRET_NEW),
        ("SQ_TOKEN", SQUARE_TOKEN),
        ("SQ_SIG", SQUARE_SIGNATURE_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The config of the test shop; `pos_url` is the (fake) Square.
pub fn config_text(store: &std::path::Path, snapact_url: &str, pos_url: &str) -> String {
    let adapters = test_adapters_dir();
    format!(
        r#"
[snapact]
base_url = "{snapact_url}"

[store]
path = "{store}"

[server]
listen = "127.0.0.1:0"
public_url = "https://connector.example.ng"
max_body_bytes = {MAX_BODY}

[adapters]
dir = "{adapters}"
require_signatures = false
cache_dir = "{cache}"

[relay]
backoff_base_ms = 10
backoff_cap_ms = 200

[[shop]]
id = "{SHOP}"
adapter = "square"
snapact_key = {{ env = "SNAPACT_KEY" }}
webhook_secret = [{{ env = "WH_OLD" }}, {{ env = "WH_NEW" }}]
pos_base_url = "{pos_url}"
allow_insecure_http = true
pos_auth = {{ bearer = {{ env = "SQ_TOKEN" }} }}
secrets = {{ webhook_signature_key = {{ env = "SQ_SIG" }} }}
settings = {{ location_id = "YYQR03DGCTXA4", currency = "USD", tax_mode = "ignore", low_stock_threshold = "10" }}
"#,
        store = store.display(),
        adapters = adapters.display(),
        cache = adapters.join(".cache").display(),
    )
}

impl Host {
    pub async fn start(pos_url: &str) -> Host {
        capture_logs();
        build_adapter("adapters/square");
        let sandbox = Served::start(sandbox_config(&[&format!("{SHOP}={SNAPACT_KEY}")])).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let text = config_text(&dir.path().join("host.db"), &sandbox.url, pos_url);
        let config = Config::from_toml(&text, "test.toml", &Overrides::default(), &env())
            .expect("valid config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let daemon = Daemon::start_with_clock(&config, listener, Arc::new(SystemClock))
            .await
            .expect("daemon starts");
        Host {
            daemon,
            url,
            sandbox,
            _dir: dir,
        }
    }

    /// Stops the host and checks that nothing logged so far, and nothing
    /// its `/metrics` shows, holds a secret.
    pub async fn stop(self) {
        let metrics = reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("the host answers /metrics")
            .text()
            .await
            .expect("a body");
        assert_holds_no_secret("/metrics", &metrics, SECRETS);
        self.daemon.shutdown().await.expect("clean shutdown");
        self.sandbox.stop().await;
        assert_logs_hold_no_secret(SECRETS);
    }
}

pub fn now() -> u64 {
    signing::unix_seconds(SystemTime::now())
}

/// A signed delivery of `body` to `shop`, as SnapAct sends it.
pub async fn deliver(
    http: &reqwest::Client,
    host: &str,
    shop: &str,
    secret: &str,
    timestamp: u64,
    body: &[u8],
) -> u16 {
    let secret = SecretString::from(secret.to_string());
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .unwrap_or_default();
    http.post(format!("{host}/webhooks/snapact/{shop}"))
        .header("content-type", "application/json")
        .header(signing::EVENT_ID_HEADER, id)
        .header(signing::TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            signing::SIGNATURE_HEADER,
            signing::sign(&secret, timestamp, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("the host answers")
        .status()
        .as_u16()
}

fn event(id: &str, kind: &str, data: Value) -> Vec<u8> {
    json!({"id": id, "type": kind, "created_at": "2026-11-27T10:00:00Z", "data": data})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn snapact_webhooks_refuse_forgeries_and_store_each_event_once() {
    let host = Host::start("http://127.0.0.1:9").await;
    let http = reqwest::Client::new();
    let url = &host.url;
    let good = event(
        "evt_good",
        "catalog.item.upserted",
        json!({"external_ref": "VAR1"}),
    );
    let t = now();

    // Forged: a signature no secret produced.
    let forged = http
        .post(format!("{url}/webhooks/snapact/{SHOP}"))
        .header(signing::TIMESTAMP_HEADER, t.to_string())
        .header(signing::SIGNATURE_HEADER, format!("v1={}", "ab".repeat(32)))
        .body(good.clone())
        .send()
        .await
        .expect("test setup");
    assert_eq!(forged.status().as_u16(), 401);
    assert!(
        forged.text().await.expect("test setup").is_empty(),
        "a refusal reveals nothing"
    );
    // Signed with a secret the shop does not have.
    assert_eq!(
        deliver(&http, url, SHOP, "whsec_attacker", t, &good).await,
        401
    );
    // Stale and future timestamps, correctly signed.
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t - 400, &good).await,
        401
    );
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t + 400, &good).await,
        401
    );
    // No signature headers at all.
    let bare = http
        .post(format!("{url}/webhooks/snapact/{SHOP}"))
        .body(good.clone())
        .send()
        .await
        .expect("test setup");
    assert_eq!(bare.status().as_u16(), 400);
    // Correctly signed, but not an event.
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t, b"{not json").await,
        400
    );
    let bad_order = event("evt_bad", "order.paid", json!({"order": {"id": "ord_1"}}));
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t, &bad_order).await,
        400
    );
    // Too large, whatever the signature.
    let huge = event(
        "evt_huge",
        "shop.note",
        json!({"pad": "x".repeat(MAX_BODY)}),
    );
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t, &huge).await,
        413
    );
    // A shop this host does not serve.
    assert_eq!(
        deliver(&http, url, "nobody", WEBHOOK_SECRET_NEW, t, &good).await,
        401
    );
    // Nothing above reached the inbox.
    let store = &host.daemon.store;
    let counts = store.inbox_counts(SHOP).await.expect("test setup");
    assert_eq!(counts.pending + counts.done + counts.parked, 0);

    // The genuine event, signed with the secret being rotated out: stored.
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_OLD, t, &good).await,
        200
    );
    // Replayed (SnapAct redelivers, or an attacker replays within 300 s): 200, not stored again.
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t + 1, &good).await,
        200
    );
    // An event type this host does not know: stored, not an error.
    let unknown = event("evt_unknown", "shop.opening_hours.updated", json!({}));
    assert_eq!(
        deliver(&http, url, SHOP, WEBHOOK_SECRET_NEW, t, &unknown).await,
        200
    );
    let counts = store.inbox_counts(SHOP).await.expect("test setup");
    assert_eq!(
        (counts.pending, counts.done, counts.parked),
        (0, 2, 0),
        "two events stored once each, neither needing processing"
    );
    host.stop().await;
}

pub fn square_vector(name: &str) -> Value {
    let path = fixtures_dir()
        .join("square")
        .join("webhook_signatures.json");
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).expect("test setup"))
        .expect("test setup");
    all.into_iter()
        .find(|v| v["name"] == name)
        .expect("vector exists")
}

#[tokio::test]
async fn square_webhooks_are_verified_by_the_adapter_and_reach_the_outbox() {
    let host = Host::start("http://127.0.0.1:9").await;
    let http = reqwest::Client::new();
    let vector = square_vector("inventory_count_updated_signed");
    let body = vector["body"].as_str().expect("test setup").to_string();
    let signature = vector["signature"].as_str().expect("test setup");
    let post = |sig: String, body: String| {
        http.post(format!("{}/webhooks/pos/{SHOP}", host.url))
            .header("content-type", "application/json")
            .header("x-square-hmacsha256-signature", sig)
            .body(body)
            .send()
    };
    // Tampered body, wrong signature, no signature: 401, nothing stored.
    let tampered = body.replace("\"quantity\":\"10\"", "\"quantity\":\"99\"");
    assert_ne!(tampered, body, "the tamper changes the body");
    assert_eq!(
        post(signature.to_string(), tampered)
            .await
            .expect("test setup")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        post("AAAA".into(), body.clone())
            .await
            .expect("test setup")
            .status()
            .as_u16(),
        401
    );
    let status = host
        .daemon
        .store
        .status(Some(SHOP))
        .await
        .expect("test setup");
    assert_eq!(status.first().map_or(0, |s| s.pending_stock), 0);
    // Square's signature over public URL + body: accepted; the stock change
    // waits for its item (never seen in full here).
    let ok = post(signature.to_string(), body).await.expect("test setup");
    assert_eq!(ok.status().as_u16(), 200);
    let status = host
        .daemon
        .store
        .status(Some(SHOP))
        .await
        .expect("test setup");
    assert_eq!(status[0].pending_stock, 1, "{status:?}");
    host.stop().await;
}

#[tokio::test]
async fn sandbox_orders_arrive_as_signed_webhooks_and_are_redelivered_until_acknowledged() {
    // The host is not running yet: the sandbox keeps retrying.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("test setup");
    drop(listener);
    let mut config = sandbox_config(&[&format!("{SHOP}={SNAPACT_KEY}")]);
    config.webhooks.push(snapact_host::sandbox::SandboxWebhook {
        tenant: SHOP.into(),
        url: format!("http://{addr}/webhooks/snapact/{SHOP}"),
        secret: WEBHOOK_SECRET_NEW.to_string().into(),
    });
    let sandbox = Served::start(config).await;
    let http = reqwest::Client::new();
    // An item to order.
    let upsert = json!({"items": [{"external_ref": "VAR1", "name": "Coffee", "price_minor": 450,
        "currency": "USD", "quantity": 5, "availability": "in-stock", "verified_at": "2026-11-27T10:00:00Z"}]});
    let r = http
        .post(format!("{}/connect/v1/catalog/items", sandbox.url))
        .bearer_auth(SNAPACT_KEY)
        .json(&upsert)
        .send()
        .await
        .expect("test setup");
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{}/sandbox/orders", sandbox.url))
        .json(&json!({"tenant": SHOP, "lines": [{"external_ref": "VAR1", "quantity": 2}]}))
        .send()
        .await
        .expect("test setup");
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.expect("test setup");
    let event_id = created["event_id"]
        .as_str()
        .expect("test setup")
        .to_string();
    // Refused: unknown item, no webhook for the tenant.
    let r = http
        .post(format!("{}/sandbox/orders", sandbox.url))
        .json(&json!({"tenant": SHOP, "lines": [{"external_ref": "NOPE", "quantity": 1}]}))
        .send()
        .await
        .expect("test setup");
    assert_eq!(r.status().as_u16(), 404);

    // Wait until the sandbox has failed to deliver at least twice.
    wait_for("two failed attempts", || {
        sandbox
            .sandbox
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.attempts >= 2 && !d.delivered)
    })
    .await;

    // Now a host listens on that address: a server that records what it gets.
    let received = Arc::new(std::sync::Mutex::new(Vec::<(u16, Value)>::new()));
    let seen = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/webhooks/snapact/{shop}",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = Arc::clone(&seen);
                async move {
                    let secrets = [SecretString::from(WEBHOOK_SECRET_NEW.to_string())];
                    let verdict = signing::verify(
                        &secrets,
                        headers
                            .get(signing::SIGNATURE_HEADER)
                            .and_then(|v| v.to_str().ok()),
                        headers
                            .get(signing::TIMESTAMP_HEADER)
                            .and_then(|v| v.to_str().ok()),
                        &body,
                        SystemTime::now(),
                    );
                    let code = if verdict.is_ok() { 200 } else { 401 };
                    seen.lock()
                        .expect("test setup")
                        .push((code, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    axum::http::StatusCode::from_u16(code).expect("test setup")
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    wait_for("delivery", || {
        sandbox
            .sandbox
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.delivered)
    })
    .await;
    let got = received.lock().expect("test setup").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 200, "the signature verifies with the shared code");
    let order = &got[0].1["data"]["order"];
    assert_eq!(got[0].1["type"], "order.paid");
    assert_eq!(order["lines"][0]["unit_price_minor"], 450);
    assert_eq!(order["total_minor"], 900);
    assert_eq!(order["currency"], "USD");
    sandbox.stop().await;
}

/// Polls `cond` every 20 ms for up to 60 s.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
