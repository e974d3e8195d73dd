//! The two-way loop with real processes: a fake Square on 127.0.0.1
//! (Square's documented payloads), the host (`snapact-host run`, a separate
//! process) polling it and delivering to the sandbox, and a paid order
//! coming back from the sandbox as a signed webhook that the host pushes to
//! Square. The webhook is delivered three times and the host is killed
//! (`kill -9`) and restarted in between: Square creates the order once.

use std::time::Duration;

use serde_json::{Value, json};
use snapact_host::outbox::inbox::InboxStore;
use snapact_host::sandbox::SandboxWebhook;
use snapact_tests::fake_square::FakeSquare;
use snapact_tests::processes::{Connector, ConnectorConfig, wait_for};
use snapact_tests::{build_adapter, fixtures_dir, test_adapters_dir};

use crate::pipeline::support::{Served, sandbox_config};

const SHOP: &str = "lagos-main";
const KEY: &str = "sk_test_orders_loop_5d2e";
const WEBHOOK_SECRET: &str = "whsec_orders_loop_8b1f";
const SQUARE_TOKEN: &str = "EAAA-orders-loop-token-3c9a";
/// Generous: another process does the work on a loaded machine.
const LONG: Duration = Duration::from_secs(180);
const STEP: Duration = Duration::from_millis(50);

/// The upserts Square's SearchCatalogObjects example maps to (golden file).
fn expected_catalog() -> Vec<Value> {
    let path = fixtures_dir()
        .join("square")
        .join("search_catalog_objects.expected.json");
    let changes: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("golden")).expect("json");
    changes
        .into_iter()
        .filter(|c| c["op"] == "upsert")
        .map(|c| c["item"].clone())
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_orders_reach_square_once_through_redeliveries_and_a_kill() {
    build_adapter("adapters/square");
    let square = FakeSquare::start().await;
    let port = free_port();
    let host_url = format!("http://127.0.0.1:{port}");
    let mut sandbox_cfg = sandbox_config(&[&format!("{SHOP}={KEY}")]);
    sandbox_cfg.webhooks.push(SandboxWebhook {
        tenant: SHOP.into(),
        url: format!("{host_url}/webhooks/snapact/{SHOP}"),
        secret: WEBHOOK_SECRET.to_string().into(),
    });
    let sandbox = Served::start(sandbox_cfg).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let connector = Connector::new(
        std::path::Path::new(env!("CARGO_BIN_EXE_snapact-host-under-test")),
        dir.path(),
        &ConnectorConfig {
            snapact_url: sandbox.url.clone(),
            shop: SHOP.into(),
            key: KEY.into(),
            adapters_dir: test_adapters_dir(),
            adapter: "square".into(),
            settings: vec![
                ("location_id".into(), "L88917AVBK2S5".into()),
                ("currency".into(), "USD".into()),
                ("tax_mode".into(), "ignore".into()),
            ],
            batch_size: 100,
            listen: format!("127.0.0.1:{port}"),
            shop_extra: format!(
                "pos_base_url = {:?}\nallow_insecure_http = true\n\
                 pos_auth = {{ bearer = {{ env = \"SQUARE_TOKEN\" }} }}\n\
                 webhook_secret = {{ env = \"WEBHOOK_SECRET\" }}\n\
                 poll = {{ every = \"1h\" }}\n",
                square.url
            ),
            env: vec![
                ("SQUARE_TOKEN".into(), SQUARE_TOKEN.into()),
                ("WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
            ],
            require_signatures: false,
        },
    )
    .expect("connector");

    // 1. The host polls Square's catalog into SnapAct.
    let host = connector.start_run().expect("run");
    let expected = expected_catalog();
    assert!(!expected.is_empty());
    wait_for("the polled catalog in the sandbox", LONG, STEP, || async {
        Ok((sandbox.sandbox.items(Some(SHOP)).len() >= expected.len()).then_some(()))
    })
    .await
    .expect("catalog arrives");
    let items = sandbox.sandbox.items(Some(SHOP));
    for want in &expected {
        let r = want["external_ref"].as_str().expect("ref");
        let got = items
            .iter()
            .find(|i| i["external_ref"] == r)
            .unwrap_or_else(|| panic!("{r} not in the sandbox"));
        assert_eq!(got["price_minor"], want["price_minor"], "{r}");
        assert_eq!(got["name"], want["name"], "{r}");
    }
    let searches = square.received_at("/v2/catalog/search");
    assert!(!searches.is_empty());
    for r in square.received() {
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {SQUARE_TOKEN}").as_str()),
            "{}: the host's credential, injected by the host",
            r.path
        );
    }

    // 2. A buyer pays on SnapAct: the sandbox sends a signed order.paid.
    let buy = &expected[0];
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/sandbox/orders", sandbox.url))
        .json(&json!({"tenant": SHOP, "lines": [{"external_ref": buy["external_ref"], "quantity": 2}]}))
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("json");
    let event_id = created["event_id"].as_str().expect("event id").to_string();
    wait_for("CreateOrder at Square", LONG, STEP, || async {
        Ok((!square.received_at("/v2/orders").is_empty()).then_some(()))
    })
    .await
    .expect("the order is pushed");

    // 3. Killed right after; SnapAct redelivers while it is down and after
    //    it is back (three deliveries in all).
    host.kill9().await.expect("kill -9");
    let redeliver = || async {
        let r = http
            .post(format!(
                "{}/sandbox/events/{event_id}/redeliver",
                sandbox.url
            ))
            .send()
            .await
            .expect("redeliver");
        assert_eq!(r.status().as_u16(), 202);
    };
    redeliver().await;
    let host = connector.start_run().expect("restart");
    redeliver().await;
    let store = connector.open_store().expect("store");
    wait_for("the order recorded as pushed", LONG, STEP, || async {
        Ok((store.inbox_counts(SHOP).await?.orders_pushed == 1).then_some(()))
    })
    .await
    .expect("pushed");
    wait_for("all three deliveries acknowledged", LONG, STEP, || async {
        Ok(sandbox
            .sandbox
            .deliveries()
            .iter()
            .any(|d| d.id == event_id && d.acknowledged >= 3)
            .then_some(()))
    })
    .await
    .expect("delivered");

    assert_eq!(square.orders_created(), 1, "Square created the order once");
    let creates = square.received_at("/v2/orders");
    let keys: std::collections::BTreeSet<_> = creates
        .iter()
        .map(|r| {
            r.body["idempotency_key"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 1, "every attempt used the same key: {keys:?}");
    let order = &creates[0].body["order"];
    assert_eq!(
        order["line_items"][0]["catalog_object_id"],
        buy["external_ref"]
    );
    assert_eq!(order["line_items"][0]["quantity"], "2");
    assert_eq!(store.inbox_counts(SHOP).await.expect("counts").parked, 0);
    host.kill9().await.expect("stop");
    sandbox.stop().await;
}
