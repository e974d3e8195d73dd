//! The poller against a scripted source, with paused tokio time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use super::*;
use crate::catalog::{Change, Item};
use crate::outbox::{SqliteStore, TokioClock};
use crate::runtime::{AdapterError, Function};

/// Pages by cursor: cursor `None` -> page 0, `"p1"` -> page 1, ...
#[derive(Default)]
struct Source {
    calls: Mutex<Vec<Option<String>>>,
    fail_next: Mutex<VecDeque<bool>>,
    pages: usize,
}

fn item(r: &str) -> Change {
    Change::Upsert {
        item: Item::sample(r, &format!("Item {r}")),
    }
}

impl PollSource for Arc<Source> {
    async fn poll(&self, cursor: Option<String>) -> Result<PollPage, CallError> {
        self.calls.lock().expect("test setup").push(cursor.clone());
        if self.fail_next.lock().expect("test setup").pop_front() == Some(true) {
            return Err(CallError::Adapter {
                adapter: "fake".into(),
                version: semver::Version::new(1, 0, 0),
                function: Function::Poll,
                error: AdapterError::Upstream {
                    message: "POS answered 503".into(),
                    status: Some(503),
                    retryable: true,
                },
            });
        }
        let n: usize = match cursor.as_deref() {
            None | Some("done") => 0,
            Some(c) => c.trim_start_matches('p').parse().expect("test setup"),
        };
        let last = n + 1 == self.pages;
        Ok(PollPage {
            changes: vec![item(&format!("V{n}"))],
            rejected: Vec::new(),
            cursor: Some(if last {
                "done".into()
            } else {
                format!("p{}", n + 1)
            }),
            more: !last,
        })
    }
}

fn store() -> Arc<SqliteStore> {
    let clock = TokioClock::starting_at(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    Arc::new(SqliteStore::open_in_memory(Arc::new(clock)).expect("test setup"))
}

fn config() -> PollerConfig {
    PollerConfig {
        seed: Some(3),
        ..PollerConfig::every(Duration::from_secs(300))
    }
}

async fn pending(store: &SqliteStore) -> usize {
    store
        .lease("shop", 1000)
        .await
        .expect("test setup")
        .changes
        .len()
}

#[tokio::test(start_paused = true)]
async fn a_cycle_pages_through_and_stores_the_cursor_with_the_changes() {
    let store = store();
    let source = Arc::new(Source {
        pages: 3,
        ..Source::default()
    });
    let poller = spawn(
        "shop",
        store.clone(),
        source.clone(),
        config(),
        Arc::new(Notify::new()),
    );
    let mut cycles = poller.cycles();
    cycles.wait_for(|n| *n >= 1).await.expect("test setup");
    assert_eq!(
        *source.calls.lock().expect("test setup"),
        vec![None, Some("p1".into()), Some("p2".into())]
    );
    assert_eq!(pending(&store).await, 3);
    assert_eq!(
        store
            .cursor("shop", CURSOR)
            .await
            .expect("test setup")
            .as_deref(),
        Some("done")
    );
    // The next cycle, `every` later, starts from the stored cursor.
    cycles.wait_for(|n| *n >= 2).await.expect("test setup");
    assert_eq!(
        source.calls.lock().expect("test setup")[3].as_deref(),
        Some("done")
    );
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_page_resumes_from_the_last_durable_cursor() {
    let store = store();
    let source = Arc::new(Source {
        pages: 3,
        ..Source::default()
    });
    // Page 0 succeeds, page 1 fails once.
    source
        .fail_next
        .lock()
        .expect("test setup")
        .extend([false, true]);
    let poller = spawn(
        "shop",
        store.clone(),
        source.clone(),
        config(),
        Arc::new(Notify::new()),
    );
    poller
        .cycles()
        .wait_for(|n| *n >= 1)
        .await
        .expect("test setup");
    poller.shutdown().await;
    let calls = source.calls.lock().expect("test setup").clone();
    assert_eq!(
        calls,
        vec![
            None,
            Some("p1".into()),
            Some("p1".into()),
            Some("p2".into())
        ],
        "the retry starts at the page that failed, not from the beginning"
    );
    assert_eq!(pending(&store).await, 3);
}

#[tokio::test(start_paused = true)]
async fn a_trigger_polls_before_the_interval() {
    let store = store();
    let source = Arc::new(Source {
        pages: 1,
        ..Source::default()
    });
    let cfg = PollerConfig {
        seed: Some(3),
        ..PollerConfig::every(Duration::from_secs(24 * 3600))
    };
    let poller = spawn(
        "shop",
        store.clone(),
        source.clone(),
        cfg,
        Arc::new(Notify::new()),
    );
    let mut cycles = poller.cycles();
    cycles.wait_for(|n| *n >= 1).await.expect("test setup");
    let before = tokio::time::Instant::now();
    poller.trigger();
    cycles.wait_for(|n| *n >= 2).await.expect("test setup");
    assert!(
        before.elapsed() < Duration::from_secs(3600),
        "triggered, not scheduled"
    );
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_cursor_that_never_ends_is_cut_off() {
    let store = store();
    let source = Arc::new(Source {
        pages: usize::MAX,
        ..Source::default()
    });
    let cfg = PollerConfig {
        max_pages: 5,
        ..config()
    };
    let poller = spawn(
        "shop",
        store.clone(),
        source.clone(),
        cfg,
        Arc::new(Notify::new()),
    );
    // Let it run a few cycles' worth of backoff; it never completes one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*poller.cycles().borrow(), 0);
    poller.shutdown().await;
    assert!(source.calls.lock().expect("test setup").len() >= 5);
}
