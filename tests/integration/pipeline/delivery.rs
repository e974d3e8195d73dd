//! End to end: outbox (SQLite file) -> relay -> ConnectClient -> sandbox over
//! real HTTP on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use snapact_host::catalog::{Change, Money};
use snapact_host::outbox::{DrainOutcome, ShopStatus, SqliteStore, Store, relay, wait_drained};
use snapact_host::sandbox::SandboxConfig;

use super::support::{
    Served, item, open_store, relay_config, sandbox_config, wire, without_verified_at,
};

async fn drained(store: &SqliteStore, shop: &str) -> ShopStatus {
    let wait = wait_drained(store, shop, Duration::from_millis(20));
    match tokio::time::timeout(Duration::from_secs(300), wait)
        .await
        .expect("drained within 5 minutes")
        .expect("store readable")
    {
        DrainOutcome::Drained(status) => status,
        DrainOutcome::Paused(status) => panic!("shop {shop} paused: {status:?}"),
    }
}

fn by_ref(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .map(|v| {
            let r = v["external_ref"].as_str().expect("ref").to_owned();
            (r, without_verified_at(v))
        })
        .collect()
}

fn expected(n: usize) -> BTreeMap<String, Value> {
    (0..n)
        .map(|i| {
            let it = item(i);
            (it.external_ref.clone(), wire(&it))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_items_arrive_exactly_with_their_values() {
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    let report = store
        .enqueue(
            "shop-a",
            (0..10_000)
                .map(|i| Change::Upsert { item: item(i) })
                .collect(),
        )
        .await
        .expect("enqueue");
    assert_eq!(report.queued, 10_000);
    let relay = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("key-a"),
        relay_config(),
    );
    let status = drained(&store, "shop-a").await;
    assert_eq!((status.acknowledged, status.parked), (10_000, 0));
    assert_eq!(
        by_ref(served.sandbox.items(Some("shop-a"))),
        expected(10_000)
    );
    let stats = served.sandbox.stats();
    assert_eq!(stats.requests_with("200"), 100, "batches of 100: {stats:?}");
    assert_eq!(stats.total_requests(), 100, "{stats:?}");
    assert_eq!(stats.duplicates, 0);

    // Re-importing the same catalog sends nothing.
    let again = store
        .enqueue(
            "shop-a",
            (0..10_000)
                .map(|i| Change::Upsert { item: item(i) })
                .collect(),
        )
        .await
        .expect("enqueue");
    assert_eq!(again.skipped_identical, 10_000);
    relay.shutdown().await;
    assert_eq!(served.sandbox.stats().total_requests(), 100);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_everything_arrives_with_bounded_extra_requests() {
    let served = Served::start(SandboxConfig {
        fail_rate: 0.3,
        drop_after_apply_rate: 0.1,
        rate_limit_per_min: Some(1_200),
        ..sandbox_config(&["shop-a=key-a"])
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(
            "shop-a",
            (0..10_000)
                .map(|i| Change::Upsert { item: item(i) })
                .collect(),
        )
        .await
        .expect("enqueue");
    let started = Instant::now();
    let relay = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("key-a"),
        relay_config(),
    );
    let status = drained(&store, "shop-a").await;
    let elapsed = started.elapsed();
    relay.shutdown().await;

    assert_eq!((status.acknowledged, status.parked), (10_000, 0));
    assert_eq!(
        by_ref(served.sandbox.items(Some("shop-a"))),
        expected(10_000)
    );
    let stats = served.sandbox.stats();
    // A failed batch is re-sent whole and alone, so exactly 100 batches are answered 200.
    assert_eq!(stats.requests_with("200"), 100, "{stats:?}");
    // Bound on 5xx and dropped requests: with a 30% failure and a 10%
    // drop rate each batch needs 1/(0.7*0.9) = 1.6 attempts on average (about
    // 59 extra for 100 batches); the bound allows one extra per batch.
    let failed = stats.requests_with("503") + stats.requests_with("dropped");
    assert!(failed >= 1, "faults were injected: {stats:?}");
    assert!(
        failed <= 100,
        "{failed} extra requests exceed the bound of 100: {stats:?}"
    );
    // Bound on 429s: Retry-After was honoured (no request came early), and
    // each 429 costs at least its 1 s Retry-After, so there are at most as
    // many as whole seconds elapsed, plus one.
    assert_eq!(stats.early_after_429, 0, "Retry-After ignored: {stats:?}");
    assert!(
        stats.requests_with("429") <= elapsed.as_secs() + 1,
        "{} 429s in {elapsed:?}",
        stats.requests_with("429")
    );
    // Dropped-after-apply batches were applied twice: seen as duplicates.
    assert_eq!(
        stats.duplicates,
        stats.requests_with("dropped") * 100,
        "{stats:?}"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_shop_waits_for_retry_after() {
    // One request a second: every batch after the first meets a 429 if the
    // relay is faster than that, which it is by orders of magnitude.
    let served = Served::start(SandboxConfig {
        rate_limit_per_min: Some(60),
        ..sandbox_config(&["shop-a=key-a"])
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(
            "shop-a",
            (0..300).map(|i| Change::Upsert { item: item(i) }).collect(),
        )
        .await
        .expect("enqueue");
    let relay = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("key-a"),
        relay_config(),
    );
    let status = drained(&store, "shop-a").await;
    relay.shutdown().await;
    assert_eq!(status.acknowledged, 300);
    let stats = served.sandbox.stats();
    assert!(stats.requests_with("429") >= 1, "{stats:?}");
    assert_eq!(stats.early_after_429, 0, "{stats:?}");
    assert_eq!(stats.requests_with("200"), 3);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_items_are_parked_with_snapacts_reason() {
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    let mut no_price = item(1);
    no_price.price = None; // only allowed with on-request
    let mut bad_currency = item(2);
    bad_currency.price = Some(Money {
        amount_minor: 500,
        currency: "naira".into(),
    });
    let changes = vec![
        Change::Upsert { item: item(0) },
        Change::Upsert { item: no_price },
        Change::Upsert { item: bad_currency },
        Change::Upsert { item: item(3) },
    ];
    store.enqueue("shop-a", changes).await.expect("enqueue");
    let relay = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("key-a"),
        relay_config(),
    );
    let status = drained(&store, "shop-a").await;
    assert_eq!((status.acknowledged, status.parked), (2, 2));
    let parked = store.parked(Some("shop-a")).await.expect("parked");
    let got: Vec<_> = parked
        .iter()
        .map(|p| (p.external_ref.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(got[0].0, "V00001");
    assert!(
        got[0]
            .1
            .starts_with("price_minor: null is only allowed with availability \"on-request\""),
        "{got:?}"
    );
    assert_eq!(got[1].0, "V00002");
    assert!(got[1].1.starts_with("currency:"), "{got:?}");
    assert_eq!(served.sandbox.items(Some("shop-a")).len(), 2);

    // Fixing the item supersedes its parked entry and delivers it.
    let mut fixed = item(2);
    fixed.name = "Fixed".into();
    store
        .enqueue("shop-a", vec![Change::Upsert { item: fixed }])
        .await
        .expect("enqueue");
    relay.notify();
    let status = drained(&store, "shop-a").await;
    assert_eq!((status.acknowledged, status.parked), (3, 1));
    relay.shutdown().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_pauses_only_its_shop() {
    let served = Served::start(sandbox_config(&["shop-a=key-a", "shop-b=key-b"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    for shop in ["shop-a", "shop-b"] {
        store
            .enqueue(
                shop,
                (0..1_000)
                    .map(|i| Change::Upsert { item: item(i) })
                    .collect(),
            )
            .await
            .expect("enqueue");
    }
    let a = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("revoked-key"),
        relay_config(),
    );
    let b = relay::spawn(
        "shop-b",
        store.clone(),
        served.client("key-b"),
        relay_config(),
    );

    let status_b = drained(&store, "shop-b").await;
    assert_eq!(status_b.acknowledged, 1_000);
    let waited = wait_drained(&*store, "shop-a", Duration::from_millis(20));
    let DrainOutcome::Paused(status_a) = tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("paused promptly")
        .expect("store")
    else {
        panic!("shop-a should be paused");
    };
    let reason = status_a.paused.as_deref().expect("reason");
    assert!(
        reason.contains("wrong or revoked") && reason.contains("snapact_key"),
        "{reason}"
    );
    assert!(reason.contains("\"shop-a\""), "{reason}");
    assert_eq!(status_a.pending, 1_000, "nothing lost while paused");
    assert!(a.state().paused.is_some());
    assert_eq!(b.state().paused, None);
    assert!(served.sandbox.items(Some("shop-a")).is_empty());
    assert_eq!(served.sandbox.items(Some("shop-b")).len(), 1_000);
    assert_eq!(served.sandbox.stats().requests_with("401"), 1);
    a.shutdown().await;
    b.shutdown().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_stock_reach_the_sandbox() {
    let served = Served::start(sandbox_config(&["shop-a=key-a"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(
            "shop-a",
            (0..3).map(|i| Change::Upsert { item: item(i) }).collect(),
        )
        .await
        .expect("enqueue");
    let relay = relay::spawn(
        "shop-a",
        store.clone(),
        served.client("key-a"),
        relay_config(),
    );
    drained(&store, "shop-a").await;
    store
        .enqueue(
            "shop-a",
            vec![
                Change::Delete {
                    external_ref: "V00000".into(),
                    source_version: None,
                },
                Change::stock(snapact_host::catalog::StockUpdate {
                    target: snapact_host::catalog::StockTarget::ExternalRef("V00001".into()),
                    quantity: Some(77),
                    availability: snapact_host::catalog::Availability::InStock,
                    source_version: None,
                }),
            ],
        )
        .await
        .expect("enqueue");
    relay.notify();
    let status = drained(&store, "shop-a").await;
    assert_eq!(status.acknowledged, 2);
    let items = by_ref(served.sandbox.items(Some("shop-a")));
    assert_eq!(items.keys().collect::<Vec<_>>(), ["V00001", "V00002"]);
    let mut restocked = item(1);
    restocked.quantity = Some(77);
    assert_eq!(items["V00001"], wire(&restocked));
    relay.shutdown().await;
    served.stop().await;
}
