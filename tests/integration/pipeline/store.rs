//! Outbox semantics on a real SQLite file: coalescing, dedupe, stock merges,
//! leases and parking.

use std::time::{Duration, SystemTime};

use snapact_host::catalog::{Availability, Change, Item, StockTarget, StockUpdate};
use snapact_host::outbox::{Lease, LeasedOp, Outcome, ParkedSelection, SqliteStore, Store};

use super::support::{item, open_store};

const SHOP: &str = "lagos-main";

fn upsert(item: Item) -> Change {
    Change::Upsert { item }
}

fn versioned(i: usize, name: &str, version: &str) -> Change {
    let mut it = item(i);
    it.name = name.into();
    it.source_version = Some(version.into());
    upsert(it)
}

fn stock(target: StockTarget, quantity: i64, version: Option<&str>) -> Change {
    Change::stock(StockUpdate {
        target,
        quantity: Some(quantity),
        availability: if quantity > 0 {
            Availability::InStock
        } else {
            Availability::OutOfStock
        },
        source_version: version.map(str::to_owned),
    })
}

async fn lease_all(store: &SqliteStore) -> Lease {
    store.lease(SHOP, 1000).await.expect("lease")
}

fn upserted(lease: &Lease) -> Vec<Item> {
    lease
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            LeasedOp::Upsert(u) => Some(u.item.clone()),
            LeasedOp::Delete => None,
        })
        .collect()
}

/// Leases everything due and records it as acknowledged by SnapAct.
async fn deliver_all(store: &SqliteStore) -> Vec<Item> {
    let lease = lease_all(store).await;
    let items = upserted(&lease);
    let outcomes = lease
        .changes
        .iter()
        .map(|c| match c.op {
            LeasedOp::Upsert(_) => Outcome::Upserted,
            LeasedOp::Delete => Outcome::Deleted,
        })
        .collect();
    store
        .complete(
            lease,
            outcomes,
            SystemTime::now(),
            Duration::from_secs(3600),
        )
        .await
        .expect("complete");
    items
}

async fn status(store: &SqliteStore) -> snapact_host::outbox::ShopStatus {
    store.status(Some(SHOP)).await.expect("status").remove(0)
}

#[tokio::test]
async fn newer_source_version_wins_and_older_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![versioned(1, "v9", "9")])
        .await
        .expect("enqueue");
    let r = store
        .enqueue(
            SHOP,
            vec![versioned(1, "v10", "10"), versioned(1, "v8", "8")],
        )
        .await
        .expect("enqueue");
    assert_eq!((r.coalesced, r.skipped_older), (1, 1), "{r:?}");
    let items = deliver_all(&store).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].name, "v10",
        "\"10\" is newer than \"9\" numerically"
    );
    // Older than what SnapAct acknowledged: still ignored.
    let r = store
        .enqueue(SHOP, vec![versioned(1, "v7", "7")])
        .await
        .expect("enqueue");
    assert_eq!(r.skipped_older, 1);
    assert_eq!(status(&store).await.pending, 0);
}

#[tokio::test]
async fn without_versions_the_newest_arrival_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    let mut a = item(1);
    a.name = "first".into();
    let mut b = item(1);
    b.name = "second".into();
    store.enqueue(SHOP, vec![upsert(a)]).await.expect("enqueue");
    let r = store.enqueue(SHOP, vec![upsert(b)]).await.expect("enqueue");
    assert_eq!(r.coalesced, 1);
    assert_eq!(status(&store).await.pending, 1, "one row per item");
    assert_eq!(deliver_all(&store).await[0].name, "second");
}

#[tokio::test]
async fn a_change_coalesced_during_flight_stays_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![upsert(item(1))])
        .await
        .expect("enqueue");
    let lease = lease_all(&store).await;
    let mut newer = item(1);
    newer.name = "changed while in flight".into();
    store
        .enqueue(SHOP, vec![upsert(newer)])
        .await
        .expect("enqueue");
    store
        .complete(
            lease,
            vec![Outcome::Upserted],
            SystemTime::now(),
            Duration::from_secs(60),
        )
        .await
        .expect("complete");
    let s = status(&store).await;
    assert_eq!((s.pending, s.acknowledged), (1, 1));
    assert_eq!(deliver_all(&store).await[0].name, "changed while in flight");
}

#[tokio::test]
async fn identical_changes_are_not_sent_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![upsert(item(1))])
        .await
        .expect("enqueue");
    deliver_all(&store).await;
    let r = store
        .enqueue(SHOP, vec![upsert(item(1))])
        .await
        .expect("enqueue");
    assert_eq!(r.skipped_identical, 1);
    // A new POS version without a visible change is not a change either...
    let mut reversioned = item(1);
    reversioned.source_version = Some("5".into());
    let r = store
        .enqueue(SHOP, vec![upsert(reversioned)])
        .await
        .expect("enqueue");
    assert_eq!(r.skipped_identical, 1);
    assert_eq!(status(&store).await.pending, 0);
    // ...but its version still orders later changes.
    let r = store
        .enqueue(SHOP, vec![versioned(1, "stale", "4")])
        .await
        .expect("enqueue");
    assert_eq!(r.skipped_older, 1);
}

#[tokio::test]
async fn stock_merges_onto_the_last_known_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![upsert(item(1))])
        .await
        .expect("enqueue");
    deliver_all(&store).await;
    // Onto the acknowledged item.
    store
        .enqueue(
            SHOP,
            vec![stock(
                StockTarget::ExternalRef("V00001".into()),
                0,
                Some("2"),
            )],
        )
        .await
        .expect("enqueue");
    let mut expected = item(1);
    expected.quantity = Some(0);
    expected.availability = Availability::OutOfStock;
    assert_eq!(deliver_all(&store).await, vec![expected.clone()]);
    // Onto a pending item, and an older stock version is ignored.
    let mut renamed = item(1);
    renamed.name = "Renamed".into();
    store
        .enqueue(SHOP, vec![upsert(renamed)])
        .await
        .expect("enqueue");
    let r = store
        .enqueue(
            SHOP,
            vec![
                stock(StockTarget::ExternalRef("V00001".into()), 9, Some("3")),
                stock(StockTarget::ExternalRef("V00001".into()), 4, Some("1")),
            ],
        )
        .await
        .expect("enqueue");
    assert_eq!((r.coalesced, r.skipped_older), (1, 1), "{r:?}");
    let got = deliver_all(&store).await;
    assert_eq!(got[0].name, "Renamed");
    assert_eq!(got[0].quantity, Some(9));
}

#[tokio::test]
async fn stock_for_an_unknown_item_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    let r = store
        .enqueue(
            SHOP,
            vec![stock(StockTarget::ExternalRef("V00002".into()), 5, None)],
        )
        .await
        .expect("enqueue");
    assert_eq!(r.stock_waiting, 1);
    let s = status(&store).await;
    assert_eq!((s.pending, s.pending_stock), (0, 1), "shown, not sent");
    let mut arriving = item(2);
    arriving.quantity = None;
    let r = store
        .enqueue(SHOP, vec![upsert(arriving)])
        .await
        .expect("enqueue");
    assert_eq!(r.stock_applied, 1);
    let got = deliver_all(&store).await;
    assert_eq!(got[0].quantity, Some(5));
    assert_eq!(status(&store).await.pending_stock, 0);
}

#[tokio::test]
async fn stock_keys_resolve_to_the_item_that_carries_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    let mut with_key = item(3);
    with_key.stock_key = Some("inv-333".into());
    store
        .enqueue(SHOP, vec![upsert(with_key)])
        .await
        .expect("enqueue");
    deliver_all(&store).await;
    store
        .enqueue(
            SHOP,
            vec![stock(StockTarget::StockKey("inv-333".into()), 42, None)],
        )
        .await
        .expect("enqueue");
    let got = deliver_all(&store).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].external_ref.as_str(), got[0].quantity),
        ("V00003", Some(42))
    );

    // A key nobody carries yet waits, then applies to the item that brings it.
    let r = store
        .enqueue(
            SHOP,
            vec![stock(StockTarget::StockKey("inv-444".into()), 6, None)],
        )
        .await
        .expect("enqueue");
    assert_eq!(r.stock_waiting, 1);
    let mut later = item(4);
    later.stock_key = Some("inv-444".into());
    store
        .enqueue(SHOP, vec![upsert(later)])
        .await
        .expect("enqueue");
    assert_eq!(deliver_all(&store).await[0].quantity, Some(6));
}

#[tokio::test]
async fn deletes_replace_pending_changes_and_forget_the_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![upsert(item(1))])
        .await
        .expect("enqueue");
    deliver_all(&store).await;
    let mut changed = item(1);
    changed.name = "changed".into();
    store
        .enqueue(
            SHOP,
            vec![
                upsert(changed),
                Change::Delete {
                    external_ref: "V00001".into(),
                    source_version: None,
                },
            ],
        )
        .await
        .expect("enqueue");
    let lease = lease_all(&store).await;
    assert_eq!(lease.changes.len(), 1);
    assert_eq!(lease.changes[0].op, LeasedOp::Delete);
    store
        .complete(
            lease,
            vec![Outcome::Deleted],
            SystemTime::now(),
            Duration::from_secs(60),
        )
        .await
        .expect("complete");
    let s = status(&store).await;
    assert_eq!((s.pending, s.acknowledged, s.delivered.deleted), (0, 0, 1));
}

#[tokio::test]
async fn rejected_and_expired_changes_are_parked_and_replayable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir);
    store
        .enqueue(SHOP, vec![upsert(item(1)), upsert(item(2))])
        .await
        .expect("enqueue");
    let lease = lease_all(&store).await;
    store
        .complete(
            lease,
            vec![
                Outcome::Rejected("currency: must be ISO 4217".into()),
                Outcome::Retry("HTTP 503: down".into()),
            ],
            SystemTime::now(),
            Duration::ZERO,
        )
        .await
        .expect("complete");
    let parked = store.parked(Some(SHOP)).await.expect("parked");
    let reasons: Vec<_> = parked.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons[0], "currency: must be ISO 4217");
    assert!(reasons[1].contains("maximum age") && reasons[1].contains("HTTP 503: down"));
    let s = status(&store).await;
    assert_eq!((s.pending, s.parked), (0, 2));

    let r = store
        .retry_parked(SHOP, ParkedSelection::Ids(vec![parked[0].id, 999]))
        .await
        .expect("retry");
    assert_eq!((r.requeued, r.not_found.as_slice()), (1, &[999][..]));
    // A newer change supersedes the other parked one.
    let mut newer = item(2);
    newer.name = "fixed".into();
    store
        .enqueue(SHOP, vec![upsert(newer)])
        .await
        .expect("enqueue");
    let s = status(&store).await;
    assert_eq!((s.pending, s.parked), (2, 0));
}

#[tokio::test]
async fn group_commit_is_durable_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open_store(&dir);
        let r = store
            .enqueue(SHOP, (0..5_000).map(|i| upsert(item(i))).collect())
            .await
            .expect("enqueue");
        assert_eq!(r.queued, 5_000);
        store
            .set_cursor(SHOP, "catalog", "c-42")
            .await
            .expect("cursor");
    }
    let store = open_store(&dir);
    assert_eq!(
        store.schema_version().await.expect("version"),
        snapact_host::outbox::sqlite::SCHEMA_VERSION
    );
    assert_eq!(status(&store).await.pending, 5_000);
    assert_eq!(
        store
            .cursor(SHOP, "catalog")
            .await
            .expect("cursor")
            .as_deref(),
        Some("c-42")
    );
    // Leases come in arrival order.
    let lease = store.lease(SHOP, 3).await.expect("lease");
    let refs: Vec<_> = lease
        .changes
        .iter()
        .map(|c| c.external_ref.as_str())
        .collect();
    assert_eq!(refs, ["V00000", "V00001", "V00002"]);
}

#[tokio::test]
async fn a_database_from_a_newer_host_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.db");
    drop(SqliteStore::open(&path).expect("create"));
    rusqlite::Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "user_version", 99))
        .expect("bump the schema version");
    let err = SqliteStore::open(&path).expect_err("too new");
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 99") && msg.contains("upgrade snapact-host"),
        "{msg}"
    );
}
