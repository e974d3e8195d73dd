//! What the operator surface reads from the store on every scrape and
//! readiness probe: per-shop gauges from indexed queries only (each a
//! search of one shop's range in an index, never a table scan), and a probe
//! that the database still takes writes.

use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, params};

use super::{BUSY_TIMEOUT, Ctx, SqliteStore, from_ms};
use crate::outbox::StoreError;

/// One shop's gauges as the store holds them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopGauges {
    /// The shop.
    pub shop: String,
    /// Changes waiting for delivery.
    pub pending: u64,
    /// Age of the first pending change in arrival order (`None`: nothing
    /// pending). Rows get their `first_enqueued_at` when inserted and keep
    /// it when coalesced, so the first row by id is the oldest.
    pub oldest_pending_age: Option<Duration>,
    /// Parked changes.
    pub parked: u64,
    /// Delivery is paused (key refused).
    pub paused: bool,
    /// Last delivery SnapAct acknowledged.
    pub last_success_at: Option<SystemTime>,
    /// SnapAct events waiting to be processed.
    pub events_pending: u64,
    /// SnapAct events parked.
    pub events_parked: u64,
}

/// The queries, in the order [`shop_gauges`] runs them; tests check each
/// one's plan.
pub(crate) const GAUGE_QUERIES: [&str; 6] = [
    "SELECT count(*) FROM outbox WHERE shop = ?1",
    "SELECT first_enqueued_at FROM outbox WHERE shop = ?1 ORDER BY id LIMIT 1",
    "SELECT count(*) FROM parked WHERE shop = ?1",
    "SELECT paused_reason IS NOT NULL, last_success_at FROM deliveries WHERE shop = ?1",
    "SELECT count(*) FROM inbox WHERE shop = ?1 AND state = 'pending'",
    "SELECT count(*) FROM inbox WHERE shop = ?1 AND state = 'parked'",
];

fn count(conn: &Connection, sql: &str, shop: &str) -> Result<u64, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params![shop], |r| r.get::<_, i64>(0)))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .ctx("reading gauges")
}

fn shop_gauges(conn: &Connection, shop: &str, now: i64) -> Result<ShopGauges, StoreError> {
    let [
        pending,
        oldest,
        parked,
        deliveries,
        events_pending,
        events_parked,
    ] = GAUGE_QUERIES;
    let oldest: Option<i64> = conn
        .prepare_cached(oldest)
        .and_then(|mut s| s.query_row(params![shop], |r| r.get(0)).optional())
        .ctx("reading gauges")?;
    let (paused, last_success): (bool, Option<i64>) = conn
        .prepare_cached(deliveries)
        .and_then(|mut s| {
            s.query_row(params![shop], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .ctx("reading gauges")?
        .unwrap_or((false, None));
    Ok(ShopGauges {
        shop: shop.to_owned(),
        pending: count(conn, pending, shop)?,
        oldest_pending_age: oldest
            .map(|at| Duration::from_millis(u64::try_from(now.saturating_sub(at)).unwrap_or(0))),
        parked: count(conn, parked, shop)?,
        paused,
        last_success_at: last_success.map(from_ms),
        events_pending: count(conn, events_pending, shop)?,
        events_parked: count(conn, events_parked, shop)?,
    })
}

impl SqliteStore {
    /// The gauges of each of `shops` (shops the store never saw read as
    /// zeros), in one pass over the connection.
    pub async fn gauges(&self, shops: Vec<String>) -> Result<Vec<ShopGauges>, StoreError> {
        self.run(move |conn, now| {
            shops
                .iter()
                .map(|shop| shop_gauges(conn, shop, now))
                .collect()
        })
        .await
    }

    /// Succeeds when the database answers and its write lock can be taken
    /// within `wait` (another process holding it longer, a read-only or
    /// vanished file: an error saying so). Writes nothing.
    pub async fn ping(&self, wait: Duration) -> Result<(), StoreError> {
        self.run(move |conn, _| {
            conn.busy_timeout(wait).ctx("setting the busy timeout")?;
            let probed = conn
                .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
                .ctx("taking the write lock");
            if !conn.is_autocommit() {
                // BEGIN worked and ROLLBACK did not: never leave it open.
                let _ = conn.execute_batch("ROLLBACK");
            }
            conn.busy_timeout(BUSY_TIMEOUT)
                .ctx("setting the busy timeout")?;
            probed
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{Change, Item};
    use crate::outbox::inbox::{Disposition, EventResult, InboxStore, NewEvent};
    use crate::outbox::{Store, SystemClock, TokioClock};

    fn item(r: &str) -> Change {
        Change::Upsert {
            item: Item::sample(r, &format!("Item {r}")),
        }
    }

    #[test]
    fn every_gauge_query_searches_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_with_clock(dir.path().join("g.db"), Arc::new(SystemClock))
            .expect("open");
        let conn = store.conn.lock().expect("lock");
        for sql in GAUGE_QUERIES {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let details: Vec<String> = stmt
                .query_map(["shop"], |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan rows");
            assert!(!details.is_empty(), "{sql}");
            for d in &details {
                assert!(
                    d.starts_with("SEARCH ")
                        && (d.contains(" INDEX ") || d.contains("PRIMARY KEY")),
                    "{sql}\nplan: {details:?}"
                );
                assert!(!d.contains("TEMP B-TREE"), "{sql} sorts: {details:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gauges_follow_the_outbox_and_the_inbox() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let store =
            SqliteStore::open_in_memory(Arc::new(TokioClock::starting_at(wall))).expect("open");
        let empty = store.gauges(vec!["a".into()]).await.expect("gauges");
        assert_eq!(
            empty,
            vec![ShopGauges {
                shop: "a".into(),
                pending: 0,
                oldest_pending_age: None,
                parked: 0,
                paused: false,
                last_success_at: None,
                events_pending: 0,
                events_parked: 0,
            }]
        );
        store.enqueue("a", vec![item("V1")]).await.expect("enqueue");
        tokio::time::advance(Duration::from_secs(30)).await;
        store
            .enqueue("a", vec![item("V2"), item("V3")])
            .await
            .expect("enqueue");
        // Coalescing keeps the first arrival time.
        let mut newer = item("V1");
        if let Change::Upsert { item } = &mut newer {
            item.name = "Renamed".into();
        }
        store.enqueue("a", vec![newer]).await.expect("enqueue");
        store.enqueue("b", vec![item("V9")]).await.expect("enqueue");
        store
            .set_paused("a", Some("key refused".into()))
            .await
            .expect("pause");
        for (id, state) in [("e1", None), ("e2", Some("parked"))] {
            store
                .record_event(
                    "a",
                    NewEvent {
                        event_id: id.into(),
                        event_type: "order.paid".into(),
                        order_id: Some(format!("ord-{id}")),
                        body: b"{}".to_vec(),
                        disposition: Disposition::Process,
                    },
                )
                .await
                .expect("record");
            if state.is_some() {
                store
                    .finish_event("a", id, EventResult::Park("POS refused".into()))
                    .await
                    .expect("park");
            }
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        let g = store.gauges(vec!["a".into()]).await.expect("gauges");
        assert_eq!(g[0].pending, 3);
        assert_eq!(g[0].oldest_pending_age, Some(Duration::from_secs(40)));
        assert!(g[0].paused);
        assert_eq!((g[0].events_pending, g[0].events_parked), (1, 1));
        assert_eq!(g[0].last_success_at, None);
    }

    #[tokio::test]
    async fn ping_fails_while_another_connection_holds_the_write_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        let store = SqliteStore::open(&path).expect("open");
        store.ping(Duration::from_millis(50)).await.expect("ping");
        let other = Connection::open(&path).expect("second connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("hold the lock");
        let err = store
            .ping(Duration::from_millis(50))
            .await
            .expect_err("locked");
        assert!(err.to_string().contains("write lock"), "{err}");
        other.execute_batch("ROLLBACK").expect("release");
        store
            .ping(Duration::from_millis(50))
            .await
            .expect("ping again");
        // The probe left no transaction open: writes still work.
        store.enqueue("a", vec![item("V1")]).await.expect("enqueue");
    }
}
