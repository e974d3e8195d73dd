//! The SQLite inbox: table `inbox` (events by `(shop, event_id)`, in
//! arrival order) and `orders` (what each paid order became in the POS).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Ctx, SqliteStore, from_ms, ms};
use crate::outbox::StoreError;
use crate::outbox::inbox::{
    EventResult, InboxCounts, InboxEvent, InboxStore, NewEvent, OrderProgress, ParkedEvent,
};
use crate::runtime::PosOrderRef;

impl InboxStore for SqliteStore {
    async fn record_event(&self, shop: &str, event: NewEvent) -> Result<bool, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, now| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO inbox (shop, event_id, event_type, order_id, body, state,
                                        next_attempt_at, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                     ON CONFLICT (shop, event_id) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        shop,
                        event.event_id,
                        event.event_type,
                        event.order_id,
                        event.body,
                        event.disposition.state(),
                        now
                    ])
                })
                .ctx("recording a webhook event")?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn due_events(&self, shop: &str, limit: usize) -> Result<Vec<InboxEvent>, StoreError> {
        let shop = shop.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn, now| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT event_id, event_type, body, attempts, received_at FROM inbox
                     WHERE shop = ?1 AND state = 'pending' AND next_attempt_at <= ?2
                     ORDER BY seq LIMIT ?3",
                )
                .ctx("reading due events")?;
            let rows = stmt
                .query_map(params![shop, now, limit], |r| {
                    Ok(InboxEvent {
                        event_id: r.get(0)?,
                        event_type: r.get(1)?,
                        body: r.get(2)?,
                        attempts: r.get(3)?,
                        received_at: from_ms(r.get(4)?),
                    })
                })
                .ctx("reading due events")?;
            rows.collect::<Result<Vec<_>, _>>()
                .ctx("reading due events")
        })
        .await
    }

    async fn next_event_due(
        &self,
        shop: &str,
    ) -> Result<Option<std::time::SystemTime>, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, _| {
            conn.prepare_cached(
                "SELECT min(next_attempt_at) FROM inbox WHERE shop = ?1 AND state = 'pending'",
            )
            .and_then(|mut s| s.query_row(params![shop], |r| r.get::<_, Option<i64>>(0)))
            .ctx("reading the next due event")
            .map(|t| t.map(from_ms))
        })
        .await
    }

    async fn finish_event(
        &self,
        shop: &str,
        event_id: &str,
        result: EventResult,
    ) -> Result<(), StoreError> {
        let (shop, event_id) = (shop.to_owned(), event_id.to_owned());
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx("starting to finish an event")?;
            match result {
                EventResult::Done { pushed } => {
                    if let Some((order_id, pos)) = pushed {
                        tx.execute(
                            "INSERT INTO orders (shop, order_id, pos_order_id, pos_order_number, pushed_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (shop, order_id) DO UPDATE SET
                                 pos_order_id = excluded.pos_order_id,
                                 pos_order_number = excluded.pos_order_number",
                            params![shop, order_id, pos.id, pos.number, now],
                        )
                        .ctx("recording the POS order")?;
                    }
                    tx.execute(
                        "UPDATE inbox SET state = 'done', finished_at = ?3, next_attempt_at = NULL
                         WHERE shop = ?1 AND event_id = ?2",
                        params![shop, event_id, now],
                    )
                    .ctx("finishing an event")?;
                }
                EventResult::Retry { error, at } => {
                    tx.execute(
                        "UPDATE inbox SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4
                         WHERE shop = ?1 AND event_id = ?2",
                        params![shop, event_id, error, ms(at)],
                    )
                    .ctx("rescheduling an event")?;
                }
                EventResult::Wait { at } => {
                    tx.execute(
                        "UPDATE inbox SET next_attempt_at = ?3 WHERE shop = ?1 AND event_id = ?2",
                        params![shop, event_id, ms(at)],
                    )
                    .ctx("rescheduling an event")?;
                }
                EventResult::Park(reason) => {
                    tx.execute(
                        "UPDATE inbox SET state = 'parked', attempts = attempts + 1, last_error = ?3,
                             finished_at = ?4, next_attempt_at = NULL
                         WHERE shop = ?1 AND event_id = ?2",
                        params![shop, event_id, reason, now],
                    )
                    .ctx("parking an event")?;
                }
            }
            tx.commit().ctx("committing an event's result")
        })
        .await
    }

    async fn order_progress(
        &self,
        shop: &str,
        order_id: &str,
    ) -> Result<OrderProgress, StoreError> {
        let (shop, order_id) = (shop.to_owned(), order_id.to_owned());
        self.run(move |conn, _| {
            let pushed = conn
                .prepare_cached(
                    "SELECT pos_order_id, pos_order_number FROM orders WHERE shop = ?1 AND order_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![shop, order_id], |r| {
                        Ok(PosOrderRef {
                            id: r.get(0)?,
                            number: r.get(1)?,
                        })
                    })
                    .optional()
                })
                .ctx("reading an order")?;
            if let Some(pos) = pushed {
                return Ok(OrderProgress::Pushed(pos));
            }
            let state: Option<String> = conn
                .prepare_cached(
                    "SELECT state FROM inbox WHERE shop = ?1 AND order_id = ?2 AND event_type = 'order.paid'
                     ORDER BY seq LIMIT 1",
                )
                .and_then(|mut s| s.query_row(params![shop, order_id], |r| r.get(0)).optional())
                .ctx("reading an order's event")?;
            Ok(match state.as_deref() {
                Some("pending") => OrderProgress::Pending,
                Some("parked") => OrderProgress::Parked,
                _ => OrderProgress::Unknown,
            })
        })
        .await
    }

    async fn parked_events(&self, shop: Option<&str>) -> Result<Vec<ParkedEvent>, StoreError> {
        let shop = shop.map(str::to_owned);
        self.run(move |conn, _| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT shop, event_id, event_type, order_id, coalesce(last_error, ''), attempts,
                            received_at, finished_at
                     FROM inbox WHERE state = 'parked' AND (?1 IS NULL OR shop = ?1) ORDER BY seq",
                )
                .ctx("reading parked events")?;
            let rows = stmt
                .query_map(params![shop], |r| {
                    Ok(ParkedEvent {
                        shop: r.get(0)?,
                        event_id: r.get(1)?,
                        event_type: r.get(2)?,
                        order_id: r.get(3)?,
                        reason: r.get(4)?,
                        attempts: r.get(5)?,
                        received_at: from_ms(r.get(6)?),
                        parked_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
                    })
                })
                .ctx("reading parked events")?;
            rows.collect::<Result<Vec<_>, _>>()
                .ctx("reading parked events")
        })
        .await
    }

    async fn retry_parked_events(
        &self,
        shop: &str,
        event_id: Option<&str>,
    ) -> Result<usize, StoreError> {
        let (shop, event_id) = (shop.to_owned(), event_id.map(str::to_owned));
        self.run(move |conn, now| {
            conn.execute(
                "UPDATE inbox SET state = 'pending', next_attempt_at = ?3, finished_at = NULL, attempts = 0
                 WHERE shop = ?1 AND state = 'parked' AND (?2 IS NULL OR event_id = ?2)",
                params![shop, event_id, now],
            )
            .ctx("retrying parked events")
        })
        .await
    }

    async fn inbox_counts(&self, shop: &str) -> Result<InboxCounts, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, _| {
            let mut counts = InboxCounts::default();
            let mut stmt = conn
                .prepare_cached("SELECT state, count(*) FROM inbox WHERE shop = ?1 GROUP BY state")
                .ctx("counting events")?;
            let rows = stmt
                .query_map(params![shop], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
                })
                .ctx("counting events")?;
            for row in rows {
                let (state, n) = row.ctx("counting events")?;
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "parked" => counts.parked = n,
                    _ => counts.done += n,
                }
            }
            counts.orders_pushed = conn
                .query_row(
                    "SELECT count(*) FROM orders WHERE shop = ?1",
                    params![shop],
                    |r| r.get(0),
                )
                .ctx("counting orders")?;
            Ok(counts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::outbox::SystemClock;
    use crate::outbox::inbox::Disposition;

    fn store() -> SqliteStore {
        SqliteStore::open_in_memory(Arc::new(SystemClock)).expect("test setup")
    }

    fn paid(id: &str, order: &str) -> NewEvent {
        NewEvent {
            event_id: id.into(),
            event_type: "order.paid".into(),
            order_id: Some(order.into()),
            body: b"{}".to_vec(),
            disposition: Disposition::Process,
        }
    }

    #[tokio::test]
    async fn an_event_id_is_recorded_once_per_shop() {
        let s = store();
        assert!(
            s.record_event("a", paid("evt_1", "o1"))
                .await
                .expect("test setup")
        );
        assert!(
            !s.record_event("a", paid("evt_1", "o1"))
                .await
                .expect("test setup")
        );
        // Event ids are SnapAct's; another shop's namespace is separate.
        assert!(
            s.record_event("b", paid("evt_1", "o1"))
                .await
                .expect("test setup")
        );
        assert_eq!(s.due_events("a", 10).await.expect("test setup").len(), 1);
    }

    #[tokio::test]
    async fn recorded_and_ignored_events_are_not_due() {
        let s = store();
        let mut e = paid("evt_r", "o1");
        e.disposition = Disposition::Recorded;
        s.record_event("a", e).await.expect("test setup");
        let mut e = paid("evt_i", "o1");
        e.disposition = Disposition::Ignored;
        s.record_event("a", e).await.expect("test setup");
        assert!(s.due_events("a", 10).await.expect("test setup").is_empty());
        assert_eq!(s.next_event_due("a").await.expect("test setup"), None);
        assert_eq!(s.inbox_counts("a").await.expect("test setup").done, 2);
    }

    #[tokio::test]
    async fn done_records_the_pos_order_and_retry_reschedules() {
        let s = store();
        s.record_event("a", paid("evt_1", "o1"))
            .await
            .expect("test setup");
        s.record_event("a", paid("evt_2", "o2"))
            .await
            .expect("test setup");
        assert_eq!(
            s.order_progress("a", "o1").await.expect("test setup"),
            OrderProgress::Pending
        );
        let later = SystemTime::now() + Duration::from_secs(3600);
        s.finish_event(
            "a",
            "evt_1",
            EventResult::Retry {
                error: "POS 503".into(),
                at: later,
            },
        )
        .await
        .expect("test setup");
        let due = s.due_events("a", 10).await.expect("test setup");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event_id, "evt_2");
        let pos = PosOrderRef {
            id: "SQ1".into(),
            number: Some("42".into()),
        };
        s.finish_event(
            "a",
            "evt_2",
            EventResult::Done {
                pushed: Some(("o2".into(), pos.clone())),
            },
        )
        .await
        .expect("test setup");
        assert_eq!(
            s.order_progress("a", "o2").await.expect("test setup"),
            OrderProgress::Pushed(pos)
        );
        assert_eq!(
            s.order_progress("a", "o9").await.expect("test setup"),
            OrderProgress::Unknown
        );
        let counts = s.inbox_counts("a").await.expect("test setup");
        assert_eq!(
            (counts.pending, counts.done, counts.orders_pushed),
            (1, 1, 1)
        );
    }

    #[tokio::test]
    async fn parked_events_keep_their_reason_and_can_be_retried() {
        let s = store();
        s.record_event("a", paid("evt_1", "o1"))
            .await
            .expect("test setup");
        s.finish_event(
            "a",
            "evt_1",
            EventResult::Park("Square: item VAR9 does not exist".into()),
        )
        .await
        .expect("test setup");
        assert_eq!(
            s.order_progress("a", "o1").await.expect("test setup"),
            OrderProgress::Parked
        );
        let parked = s.parked_events(None).await.expect("test setup");
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].reason, "Square: item VAR9 does not exist");
        assert_eq!(parked[0].order_id.as_deref(), Some("o1"));
        assert!(s.due_events("a", 10).await.expect("test setup").is_empty());
        assert_eq!(
            s.retry_parked_events("b", None).await.expect("test setup"),
            0
        );
        assert_eq!(
            s.retry_parked_events("a", Some("evt_1"))
                .await
                .expect("test setup"),
            1
        );
        assert_eq!(s.due_events("a", 10).await.expect("test setup").len(), 1);
        assert!(
            s.parked_events(Some("a"))
                .await
                .expect("test setup")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn events_survive_reopening_the_database() {
        let dir = tempfile::tempdir().expect("test setup");
        let path = dir.path().join("host.db");
        {
            let s = SqliteStore::open(&path).expect("test setup");
            s.record_event("a", paid("evt_1", "o1"))
                .await
                .expect("test setup");
        }
        let s = SqliteStore::open(&path).expect("test setup");
        assert!(
            !s.record_event("a", paid("evt_1", "o1"))
                .await
                .expect("test setup")
        );
        assert_eq!(s.due_events("a", 10).await.expect("test setup").len(), 1);
    }
}
