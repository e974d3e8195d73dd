//! The order worker against a scripted POS, with paused tokio time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use super::*;
use crate::outbox::inbox::{Disposition, NewEvent};
use crate::outbox::{SqliteStore, TokioClock};
use crate::runtime::{Function, OrderStatus};

#[derive(Default)]
struct FakePos {
    script: Mutex<VecDeque<Result<(), AdapterError>>>,
    pushes: Mutex<Vec<Order>>,
    statuses: Mutex<Vec<OrderStatusUpdate>>,
    status_unsupported: bool,
}

fn call_error(function: Function, error: AdapterError) -> CallError {
    CallError::Adapter {
        adapter: "fake".into(),
        version: semver::Version::new(1, 0, 0),
        function,
        error,
    }
}

impl OrderTarget for Arc<FakePos> {
    async fn push_order(&self, order: Order) -> Result<PosOrderRef, CallError> {
        self.pushes.lock().expect("test setup").push(order.clone());
        match self.script.lock().expect("test setup").pop_front() {
            Some(Err(e)) => Err(call_error(Function::PushOrder, e)),
            _ => Ok(PosOrderRef {
                id: format!("POS-{}", order.order_id),
                number: None,
            }),
        }
    }

    async fn order_status_changed(&self, update: OrderStatusUpdate) -> Result<(), CallError> {
        if self.status_unsupported {
            return Err(call_error(
                Function::OrderStatusChanged,
                AdapterError::Unsupported("no statuses".into()),
            ));
        }
        self.statuses.lock().expect("test setup").push(update);
        Ok(())
    }
}

fn paid(event: &str, order: &str) -> NewEvent {
    let body = format!(
        r#"{{"id":"{event}","type":"order.paid","created_at":"2026-11-27T10:00:00Z","data":{{"order":{{
        "id":"{order}","created_at":"2026-11-27T10:00:00Z","currency":"USD",
        "lines":[{{"external_ref":"VAR1","name":"Coffee","quantity":2,"unit_price_minor":450}}],
        "subtotal_minor":900,"total_minor":900,"fulfillment":"pickup"}}}}}}"#
    );
    NewEvent {
        event_id: event.into(),
        event_type: "order.paid".into(),
        order_id: Some(order.into()),
        body: body.into_bytes(),
        disposition: Disposition::Process,
    }
}

fn status(event: &str, order: &str, status: &str) -> NewEvent {
    let body = format!(
        r#"{{"id":"{event}","type":"order.status.updated","data":{{"order_id":"{order}","status":"{status}"}}}}"#
    );
    NewEvent {
        event_id: event.into(),
        event_type: "order.status.updated".into(),
        order_id: Some(order.into()),
        body: body.into_bytes(),
        disposition: Disposition::Process,
    }
}

fn config() -> OrdersConfig {
    OrdersConfig {
        backoff: Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        },
        max_age: Duration::from_secs(3600),
        status_wait: Duration::from_secs(5),
        seed: Some(7),
    }
}

fn store() -> Arc<SqliteStore> {
    let clock = TokioClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    Arc::new(SqliteStore::open_in_memory(Arc::new(clock)).expect("test setup"))
}

/// Lets the worker run (paused time auto-advances when everything idles)
/// until `done` holds, checking after each simulated second.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..7200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn counts(store: &SqliteStore) -> crate::outbox::InboxCounts {
    store.inbox_counts("shop").await.expect("test setup")
}

#[tokio::test(start_paused = true)]
async fn a_paid_order_is_pushed_once_whatever_is_redelivered() {
    let store = store();
    let pos = Arc::new(FakePos::default());
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    assert!(
        store
            .record_event("shop", paid("evt_1", "ord_1"))
            .await
            .expect("test setup")
    );
    worker.notify();
    until("the push", async || {
        pos.pushes.lock().expect("test setup").len() == 1
    })
    .await;
    until("the event closed", async || {
        counts(&store).await.orders_pushed == 1
    })
    .await;
    // SnapAct redelivers the same event, then sends a second event for the
    // same order (a retry on its side with a new id).
    assert!(
        !store
            .record_event("shop", paid("evt_1", "ord_1"))
            .await
            .expect("test setup")
    );
    assert!(
        store
            .record_event("shop", paid("evt_1b", "ord_1"))
            .await
            .expect("test setup")
    );
    worker.notify();
    until("both events done", async || counts(&store).await.done == 2).await;
    worker.shutdown().await;
    let pushes = pos.pushes.lock().expect("test setup").clone();
    assert_eq!(pushes.len(), 1, "the order was pushed once");
    assert_eq!(pushes[0].idempotency_key, idempotency_key("shop", "ord_1"));
    assert_eq!(pushes[0].total.amount_minor, 900);
    assert_eq!(
        store
            .order_progress("shop", "ord_1")
            .await
            .expect("test setup"),
        OrderProgress::Pushed(PosOrderRef {
            id: "POS-ord_1".into(),
            number: None
        })
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_retry_with_the_same_key_then_succeed() {
    let store = store();
    let pos = Arc::new(FakePos::default());
    for _ in 0..3 {
        pos.script
            .lock()
            .expect("test setup")
            .push_back(Err(AdapterError::Upstream {
                message: "Square answered 503".into(),
                status: Some(503),
                retryable: true,
            }));
    }
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    store
        .record_event("shop", paid("evt_1", "ord_1"))
        .await
        .expect("test setup");
    worker.notify();
    until("pushed", async || counts(&store).await.orders_pushed == 1).await;
    worker.shutdown().await;
    let pushes = pos.pushes.lock().expect("test setup");
    assert_eq!(pushes.len(), 4, "three failures, then success");
    assert!(
        pushes
            .iter()
            .all(|p| p.idempotency_key == pushes[0].idempotency_key)
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_parked_with_the_pos_reason() {
    let store = store();
    let pos = Arc::new(FakePos::default());
    pos.script
        .lock()
        .expect("test setup")
        .push_back(Err(AdapterError::Upstream {
            message: "Square: catalog object VAR1 not found".into(),
            status: Some(400),
            retryable: false,
        }));
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    store
        .record_event("shop", paid("evt_1", "ord_1"))
        .await
        .expect("test setup");
    worker.notify();
    until("parked", async || counts(&store).await.parked == 1).await;
    worker.shutdown().await;
    let parked = store.parked_events(Some("shop")).await.expect("test setup");
    assert_eq!(parked[0].order_id.as_deref(), Some("ord_1"));
    assert!(
        parked[0]
            .reason
            .contains("Square: catalog object VAR1 not found"),
        "{}",
        parked[0].reason
    );
    assert_eq!(
        pos.pushes.lock().expect("test setup").len(),
        1,
        "not retried"
    );
}

#[tokio::test(start_paused = true)]
async fn an_order_failing_past_max_age_is_parked() {
    let store = store();
    let pos = Arc::new(FakePos::default());
    for _ in 0..10_000 {
        pos.script
            .lock()
            .expect("test setup")
            .push_back(Err(AdapterError::Upstream {
                message: "Square answered 503".into(),
                status: Some(503),
                retryable: true,
            }));
    }
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    store
        .record_event("shop", paid("evt_1", "ord_1"))
        .await
        .expect("test setup");
    worker.notify();
    until("parked", async || counts(&store).await.parked == 1).await;
    worker.shutdown().await;
    let parked = store.parked_events(Some("shop")).await.expect("test setup");
    assert!(
        parked[0].reason.contains("still failing after"),
        "{}",
        parked[0].reason
    );
    let attempts = pos.pushes.lock().expect("test setup").len();
    // Backoff 1 s doubling to 60 s over an hour: far fewer than one a second.
    assert!((2..=400).contains(&attempts), "{attempts} attempts");
}

#[tokio::test(start_paused = true)]
async fn a_status_update_waits_for_its_order_and_carries_the_pos_reference() {
    let store = store();
    let pos = Arc::new(FakePos::default());
    pos.script
        .lock()
        .expect("test setup")
        .push_back(Err(AdapterError::Upstream {
            message: "Square answered 503".into(),
            status: Some(503),
            retryable: true,
        }));
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    store
        .record_event("shop", paid("evt_1", "ord_1"))
        .await
        .expect("test setup");
    store
        .record_event("shop", status("evt_2", "ord_1", "ready"))
        .await
        .expect("test setup");
    worker.notify();
    until("both done", async || counts(&store).await.done == 2).await;
    worker.shutdown().await;
    let statuses = pos.statuses.lock().expect("test setup");
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].status, OrderStatus::Ready);
    assert_eq!(
        statuses[0].pos_order.as_ref().map(|p| p.id.as_str()),
        Some("POS-ord_1")
    );
}

#[tokio::test(start_paused = true)]
async fn unsupported_status_updates_are_done_not_parked() {
    let store = store();
    let pos = Arc::new(FakePos {
        status_unsupported: true,
        ..FakePos::default()
    });
    let worker = spawn("shop", store.clone(), pos.clone(), config());
    store
        .record_event("shop", status("evt_2", "ord_9", "cancelled"))
        .await
        .expect("test setup");
    worker.notify();
    until("done", async || counts(&store).await.done == 1).await;
    worker.shutdown().await;
    assert_eq!(counts(&store).await.parked, 0);
}
