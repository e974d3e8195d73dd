//! Polling a shop's POS: every `poll.every` (and whenever a POS webhook
//! says "something changed"), the host calls the adapter's `poll(cursor)`
//! page by page while it answers `more`. Each page's changes and the cursor
//! after it are written in ONE transaction
//! ([`Store::enqueue_with_cursor`]), so the stored cursor never gets ahead
//! of the changes it covers: a crash resumes at the first page whose
//! changes are not durable.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, warn};

use crate::outbox::{Backoff, Store};
use crate::runtime::{CallError, PollPage};

/// The name the poll cursor is stored under.
pub const CURSOR: &str = "poll";

/// Where pages come from: the shop's adapter, with the shop's context.
pub trait PollSource: Send + Sync + 'static {
    /// One page starting at `cursor`.
    fn poll(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<PollPage, CallError>> + Send;
}

/// Schedule of one shop's poller.
#[derive(Debug, Clone, Copy)]
pub struct PollerConfig {
    /// Time between the end of one cycle and the start of the next.
    pub every: Duration,
    /// Pages in one cycle before the poller stops and says so (a cursor
    /// that never ends is an adapter bug).
    pub max_pages: u32,
    /// Delay schedule after a failed page.
    pub backoff: Backoff,
    /// Seed for the jitter (tests).
    pub seed: Option<u64>,
}

impl PollerConfig {
    /// Every `every`, with defaults for the rest.
    pub fn every(every: Duration) -> Self {
        PollerConfig {
            every,
            max_pages: 10_000,
            backoff: Backoff {
                base: Duration::from_secs(1),
                cap: every.max(Duration::from_secs(1)),
            },
            seed: None,
        }
    }
}

/// A running poller.
#[derive(Debug)]
pub struct Poller {
    shop: String,
    trigger: Arc<Notify>,
    stop: watch::Sender<bool>,
    cycles: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Poller {
    /// Poll now (after the cycle in progress, if any).
    pub fn trigger(&self) {
        self.trigger.notify_one();
    }

    /// A handle POS webhooks trigger a poll with.
    pub fn trigger_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.trigger)
    }

    /// Completed cycles so far (tests and status).
    pub fn cycles(&self) -> watch::Receiver<u64> {
        self.cycles.clone()
    }

    /// Stop after the page in flight; its changes and cursor are either
    /// both written or neither.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            error!(shop = %self.shop, "poller failed: {e}");
        }
    }
}

/// Start polling `shop`. `delivered` is called after each page is durable
/// (to wake the shop's relay).
pub fn spawn<S, P>(
    shop: &str,
    store: Arc<S>,
    source: P,
    config: PollerConfig,
    delivered: Arc<Notify>,
) -> Poller
where
    S: Store,
    P: PollSource,
{
    let trigger = Arc::new(Notify::new());
    let (stop, stop_rx) = watch::channel(false);
    let (cycles_tx, cycles) = watch::channel(0);
    let task = Task {
        shop: shop.to_string(),
        store,
        source,
        config,
        rng: config
            .seed
            .map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
        trigger: Arc::clone(&trigger),
        stop: stop_rx,
        cycles: cycles_tx,
        delivered,
        failures: 0,
    };
    let span = tracing::info_span!("poll", shop = %shop);
    Poller {
        shop: shop.to_string(),
        trigger,
        stop,
        cycles,
        task: tokio::spawn(task.run().instrument(span)),
    }
}

struct Task<S, P> {
    shop: String,
    store: Arc<S>,
    source: P,
    config: PollerConfig,
    rng: StdRng,
    trigger: Arc<Notify>,
    stop: watch::Receiver<bool>,
    cycles: watch::Sender<u64>,
    delivered: Arc<Notify>,
    failures: u32,
}

enum CycleEnd {
    Complete,
    Failed,
    Stopped,
}

impl<S: Store, P: PollSource> Task<S, P> {
    async fn run(mut self) {
        info!(every_s = self.config.every.as_secs(), "polling started");
        loop {
            let wait = match self.cycle().await {
                CycleEnd::Complete => {
                    self.failures = 0;
                    self.cycles.send_modify(|n| *n += 1);
                    self.config.every
                }
                CycleEnd::Failed => {
                    let d = self.config.backoff.delay(self.failures, &mut self.rng);
                    self.failures = self.failures.saturating_add(1);
                    d
                }
                CycleEnd::Stopped => break,
            };
            let mut stop = self.stop.clone();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.trigger.notified() => debug!("poll triggered"),
                _ = stop.changed() => {}
            }
            if self.stopping() {
                break;
            }
        }
        debug!("polling stopped");
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    async fn cycle(&mut self) -> CycleEnd {
        let mut cursor = match self.store.cursor(&self.shop, CURSOR).await {
            Ok(c) => c,
            Err(e) => {
                error!("could not read the poll cursor: {e}");
                return CycleEnd::Failed;
            }
        };
        let mut changes = 0usize;
        for page_no in 0..self.config.max_pages {
            if self.stopping() {
                return CycleEnd::Stopped;
            }
            let page = match self.source.poll(cursor.clone()).await {
                Ok(page) => page,
                Err(e) => {
                    warn!(page = page_no, "poll failed, retrying with backoff: {e}");
                    return CycleEnd::Failed;
                }
            };
            for r in page.rejected.iter().take(5) {
                warn!("poll page {page_no}: {r}");
            }
            if page.rejected.len() > 5 {
                warn!(
                    "{} more records rejected on this page",
                    page.rejected.len() - 5
                );
            }
            changes += page.changes.len();
            let more = page.more;
            let next = page.cursor;
            let saved = next.as_deref().map(|c| (CURSOR, c));
            if let Err(e) = self
                .store
                .enqueue_with_cursor(&self.shop, page.changes, saved)
                .await
            {
                error!("could not write a polled page to the outbox: {e}");
                return CycleEnd::Failed;
            }
            self.delivered.notify_one();
            if next.is_some() {
                cursor = next;
            }
            if !more {
                debug!(pages = page_no + 1, changes, "poll cycle complete");
                return CycleEnd::Complete;
            }
        }
        error!(
            max_pages = self.config.max_pages,
            "the adapter kept answering `more` for {} pages in one cycle; stopping this cycle \
             (report it to the adapter's vendor)",
            self.config.max_pages
        );
        CycleEnd::Failed
    }
}

#[cfg(test)]
mod tests;
