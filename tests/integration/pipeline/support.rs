//! Shared helpers: items, a served sandbox, a fast relay configuration.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use snapact_host::catalog::{Availability, Item, Money};
use snapact_host::outbox::{Backoff, RelayConfig, SqliteStore};
use snapact_host::sandbox::{Sandbox, SandboxConfig};
use snapact_host::snapact::{ConnectClient, ConnectConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A deterministic, valid item number `i`.
pub fn item(i: usize) -> Item {
    Item {
        external_ref: format!("V{i:05}"),
        name: format!("Item {i}"),
        price: Some(Money {
            amount_minor: 1_000 + i as i64 * 7,
            currency: "NGN".into(),
        }),
        quantity: Some((i % 13) as i64),
        availability: if i.is_multiple_of(13) {
            Availability::OutOfStock
        } else {
            Availability::InStock
        },
        sku: Some(format!("SKU-{i}")),
        barcode: None,
        category: Some(
            if i.is_multiple_of(2) {
                "Food"
            } else {
                "Drinks"
            }
            .into(),
        ),
        description: None,
        image_url: None,
        parent_ref: None,
        stock_key: None,
        source_version: None,
    }
}

/// What the sandbox should hold for `item`, without `verified_at`.
pub fn wire(item: &Item) -> Value {
    let mut v = serde_json::json!({
        "external_ref": item.external_ref,
        "name": item.name,
        "price_minor": item.price.as_ref().map(|p| p.amount_minor),
        "currency": item.price.as_ref().map(|p| p.currency.clone()),
        "quantity": item.quantity,
        "availability": item.availability.as_str(),
    });
    let m = v.as_object_mut().expect("object");
    for (k, val) in [
        ("sku", &item.sku),
        ("barcode", &item.barcode),
        ("category", &item.category),
        ("description", &item.description),
        ("image_url", &item.image_url),
        ("parent_ref", &item.parent_ref),
        ("source_version", &item.source_version),
    ] {
        if let Some(val) = val {
            m.insert(k.into(), Value::String(val.clone()));
        }
    }
    v
}

/// A stored sandbox item without `verified_at` (checked to be present).
pub fn without_verified_at(mut v: Value) -> Value {
    let m = v.as_object_mut().expect("object");
    let at = m.remove("verified_at").expect("verified_at is sent");
    assert!(at.as_str().is_some_and(|s| s.ends_with('Z')), "{at}");
    v
}

/// A sandbox served on 127.0.0.1:0.
pub struct Served {
    pub sandbox: Sandbox,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Served {
    pub async fn start(config: SandboxConfig) -> Served {
        let sandbox = Sandbox::new(config).expect("valid sandbox config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = sandbox.clone();
        let task = tokio::spawn(async move {
            serving
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        Served {
            sandbox,
            url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn client(&self, key: &str) -> ConnectClient {
        let mut cfg = ConnectConfig::new(&self.url);
        cfg.request_timeout = Duration::from_secs(20);
        ConnectClient::new(&cfg, key.to_owned().into()).expect("client")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("sandbox task").expect("sandbox ran");
        }
    }
}

pub fn sandbox_config(keys: &[&str]) -> SandboxConfig {
    SandboxConfig {
        keys: keys.iter().map(|k| k.parse().expect("key")).collect(),
        seed: Some(7),
        ..SandboxConfig::default()
    }
}

/// Retries quickly so tests spend their time delivering, not waiting.
pub fn relay_config() -> RelayConfig {
    RelayConfig {
        batch_size: 100,
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(100),
        },
        max_age: Duration::from_secs(3600),
        idle_poll: Duration::from_millis(20),
        seed: Some(11),
    }
}

pub fn open_store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir.path().join("outbox.db")).expect("open store"))
}
