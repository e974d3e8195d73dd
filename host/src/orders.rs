//! Paid SnapAct orders into the POS: one worker per shop takes the shop's
//! due inbox events in arrival order and hands them to the adapter.
//!
//! - `order.paid` -> `push-order` with an idempotency key derived from the
//!   shop and SnapAct's order id ([`idempotency_key`]), so a retry, a
//!   redelivered webhook or a restart after `kill -9` never creates the
//!   order twice in a POS that honours the key (Square `idempotency_key`).
//!   An order already pushed is not pushed again. The POS's reference is
//!   stored in the same transaction that closes the event.
//! - `order.status.updated` -> `order-status-changed` with the POS reference,
//!   once the order's `order.paid` has been processed; an adapter that does
//!   not track statuses answers `unsupported`, which is fine.
//! - Transient failures (a retryable POS error, a deadline) retry with
//!   full-jitter backoff; anything else, or an event older than the relay's
//!   `max_age`, is parked with the reason and shown by `outbox parked`.
//!
//! [`idempotency_key`]: crate::snapact::events::idempotency_key

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, warn};

use crate::outbox::inbox::{EventResult, InboxEvent, InboxStore, OrderProgress};
use crate::outbox::{Backoff, Store};
use crate::runtime::{AdapterError, CallError, Order, OrderStatusUpdate, PosOrderRef, TrapCause};
use crate::snapact::events::{Envelope, Event, idempotency_key};

/// Where a shop's orders go: its adapter, with the shop's context.
pub trait OrderTarget: Send + Sync + 'static {
    /// Create `order` in the POS.
    fn push_order(
        &self,
        order: Order,
    ) -> impl Future<Output = Result<PosOrderRef, CallError>> + Send;

    /// Tell the POS an order's status changed.
    fn order_status_changed(
        &self,
        update: OrderStatusUpdate,
    ) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// Retry policy of a worker.
#[derive(Debug, Clone, Copy)]
pub struct OrdersConfig {
    /// Delay schedule between attempts.
    pub backoff: Backoff,
    /// An event still failing after this long is parked.
    pub max_age: Duration,
    /// How long a status update waits for its order before looking again.
    pub status_wait: Duration,
    /// Seed for the jitter (tests); `None` in production.
    pub seed: Option<u64>,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            backoff: Backoff::default(),
            max_age: Duration::from_secs(24 * 3600),
            status_wait: Duration::from_secs(5),
            seed: None,
        }
    }
}

/// A running order worker.
#[derive(Debug)]
pub struct OrderWorker {
    shop: String,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl OrderWorker {
    /// An event was written to the shop's inbox: look now.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// A handle the webhook route wakes the worker with.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Stop after the event in flight.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            error!(shop = %self.shop, "order worker failed: {e}");
        }
    }
}

/// Start the order worker of `shop`.
pub fn spawn<S, T>(shop: &str, store: Arc<S>, target: T, config: OrdersConfig) -> OrderWorker
where
    S: Store + InboxStore,
    T: OrderTarget,
{
    let wake = Arc::new(Notify::new());
    let (stop, stop_rx) = watch::channel(false);
    let worker = Worker {
        shop: shop.to_string(),
        store,
        target,
        config,
        rng: config
            .seed
            .map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
        wake: Arc::clone(&wake),
        stop: stop_rx,
    };
    let span = tracing::info_span!("orders", shop = %shop);
    OrderWorker {
        shop: shop.to_string(),
        wake,
        stop,
        task: tokio::spawn(worker.run().instrument(span)),
    }
}

struct Worker<S, T> {
    shop: String,
    store: Arc<S>,
    target: T,
    config: OrdersConfig,
    rng: StdRng,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

impl<S: Store + InboxStore, T: OrderTarget> Worker<S, T> {
    async fn run(mut self) {
        let mut failures = 0u32;
        while !self.stopping() {
            let due = match self.store.due_events(&self.shop, 16).await {
                Ok(due) => due,
                Err(e) => {
                    let delay = self.config.backoff.delay(failures, &mut self.rng);
                    failures = failures.saturating_add(1);
                    error!("inbox error, retrying in {} ms: {e}", delay.as_millis());
                    self.sleep(delay).await;
                    continue;
                }
            };
            failures = 0;
            if due.is_empty() {
                self.idle().await;
                continue;
            }
            for event in due {
                if self.stopping() {
                    break;
                }
                let id = event.event_id.clone();
                let result = self.process(event).await;
                if let Err(e) = self.store.finish_event(&self.shop, &id, result).await {
                    // The event stays pending and is processed again: the
                    // adapter's idempotency makes that harmless.
                    error!(event = %id, "could not record an event's result: {e}");
                }
            }
        }
        debug!("order worker stopped");
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    async fn idle(&mut self) {
        let next = self.store.next_event_due(&self.shop).await.ok().flatten();
        let wait = next.map(|at| {
            at.duration_since(self.store.clock().now())
                .unwrap_or(Duration::ZERO)
        });
        let mut stop = self.stop.clone();
        tokio::select! {
            () = self.wake.notified() => {}
            _ = stop.changed() => {}
            () = async {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }

    async fn sleep(&mut self, d: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            _ = stop.changed() => {}
        }
    }

    async fn process(&mut self, event: InboxEvent) -> EventResult {
        let parsed = Envelope::parse(&event.body).and_then(|env| env.event());
        let parsed = match parsed {
            Ok(p) => p,
            // The webhook route checked the body before storing it; only a
            // stored body from an incompatible host version lands here.
            Err(e) => return EventResult::Park(e.to_string()),
        };
        match parsed {
            Event::OrderPaid(order) => self.push(&event, order.to_order(&self.shop)).await,
            Event::StatusUpdated(update) => {
                let pos_order = match self
                    .store
                    .order_progress(&self.shop, &update.order_id)
                    .await
                {
                    Ok(OrderProgress::Pushed(pos)) => Some(pos),
                    Ok(OrderProgress::Pending) => {
                        debug!(order = %update.order_id, "status update waits for its order to be pushed");
                        return EventResult::Wait {
                            at: self.store.clock().now() + self.config.status_wait,
                        };
                    }
                    Ok(OrderProgress::Parked | OrderProgress::Unknown) => None,
                    Err(e) => return self.retry(&event, e.to_string()),
                };
                let call = OrderStatusUpdate {
                    idempotency_key: idempotency_key(&self.shop, &update.order_id),
                    order_id: update.order_id.clone(),
                    pos_order,
                    status: update.status,
                };
                match self.target.order_status_changed(call).await {
                    Ok(()) => {
                        info!(order = %update.order_id, status = ?update.status, "order status passed to the POS");
                        EventResult::Done { pushed: None }
                    }
                    Err(CallError::Adapter {
                        error: AdapterError::Unsupported(_),
                        ..
                    }) => {
                        debug!(order = %update.order_id, "the adapter does not track order statuses");
                        EventResult::Done { pushed: None }
                    }
                    Err(e) => self.failed(&event, &e),
                }
            }
            Event::CatalogItem { .. } | Event::Unknown => EventResult::Done { pushed: None },
        }
    }

    async fn push(&mut self, event: &InboxEvent, order: Order) -> EventResult {
        match self.store.order_progress(&self.shop, &order.order_id).await {
            Ok(OrderProgress::Pushed(pos)) => {
                info!(order = %order.order_id, pos_order = %pos.id, event = %event.event_id,
                    "order already created in the POS; not pushed again");
                return EventResult::Done { pushed: None };
            }
            Ok(_) => {}
            Err(e) => return self.retry(event, e.to_string()),
        }
        let order_id = order.order_id.clone();
        match self.target.push_order(order).await {
            Ok(pos) => {
                info!(order = %order_id, pos_order = %pos.id, number = pos.number.as_deref().unwrap_or("-"),
                    "order created in the POS");
                EventResult::Done {
                    pushed: Some((order_id, pos)),
                }
            }
            Err(e) => self.failed(event, &e),
        }
    }

    fn failed(&mut self, event: &InboxEvent, e: &CallError) -> EventResult {
        let transient = match e {
            CallError::Adapter { error, .. } => {
                matches!(
                    error,
                    AdapterError::Upstream {
                        retryable: true,
                        ..
                    }
                )
            }
            // The POS may simply be slow; the idempotency key makes a
            // second attempt safe.
            CallError::Trap { cause, .. } => matches!(cause, TrapCause::Deadline { .. }),
            // The operator installs a replacement; the order waits for it.
            CallError::Withdrawn { .. } => true,
        };
        if transient {
            self.retry(event, e.to_string())
        } else {
            warn!(event = %event.event_id, kind = %event.event_type, "parked: {e}");
            EventResult::Park(e.to_string())
        }
    }

    fn retry(&mut self, event: &InboxEvent, error: String) -> EventResult {
        let now = self.store.clock().now();
        let age = now
            .duration_since(event.received_at)
            .unwrap_or(Duration::ZERO);
        if age >= self.config.max_age {
            let reason = format!(
                "still failing after {} attempts over {} s: {error}",
                event.attempts + 1,
                age.as_secs()
            );
            warn!(event = %event.event_id, kind = %event.event_type, "parked: {reason}");
            return EventResult::Park(reason);
        }
        let delay = self.config.backoff.delay(event.attempts, &mut self.rng);
        warn!(event = %event.event_id, kind = %event.event_type, attempt = event.attempts + 1,
            "failed, retrying in {} ms: {error}", delay.as_millis());
        EventResult::Retry {
            error,
            at: now + delay,
        }
    }
}

#[cfg(test)]
mod tests;
