//! Group commit for many small concurrent writers. Each POS webhook carries
//! a change or two; committing each in its own transaction would cost one
//! fsync per webhook (a few hundred per second on common disks). Writers
//! here queue their changes and wait; one task takes everything queued,
//! writes it in one transaction ([`SqliteStore::enqueue_batch`]) and answers
//! every writer once it is durable. Under load, batches grow by themselves:
//! whatever arrives during one commit goes into the next.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::error;

use super::store::EnqueueReport;
use super::{SqliteStore, StoreError};
use crate::catalog::Change;

/// Changes per transaction before the committer stops taking more.
const MAX_CHANGES_PER_COMMIT: usize = 5_000;
/// Writers that may wait at once before `enqueue` itself waits.
const QUEUE: usize = 4_096;

struct Request {
    shop: String,
    changes: Vec<Change>,
    reply: oneshot::Sender<Result<EnqueueReport, String>>,
}

/// A handle to the group committer; cheap to clone.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: mpsc::Sender<Request>,
}

impl GroupCommit {
    /// Starts the committer for `store`. It stops when every handle is gone.
    pub fn spawn(store: Arc<SqliteStore>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        GroupCommit { queue }
    }

    /// Writes `changes` for `shop`, durable when it returns (like
    /// [`Store::enqueue`](super::Store::enqueue)), sharing the transaction
    /// with whatever other writers are waiting.
    pub async fn enqueue(
        &self,
        shop: &str,
        changes: Vec<Change>,
    ) -> Result<EnqueueReport, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            shop: shop.to_string(),
            changes,
            reply,
        };
        self.queue
            .send(request)
            .await
            .map_err(|_| StoreError::Worker("the group committer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Worker("the group committer dropped a write".into()))?
            .map_err(StoreError::Worker)
    }
}

async fn run(store: Arc<SqliteStore>, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut size = first.changes.len();
        let mut requests = vec![first];
        while size < MAX_CHANGES_PER_COMMIT {
            match rx.try_recv() {
                Ok(r) => {
                    size += r.changes.len();
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(requests.len());
        let mut batch = Vec::with_capacity(requests.len());
        for r in requests {
            replies.push(r.reply);
            batch.push((r.shop, r.changes));
        }
        match store.enqueue_batch(batch).await {
            Ok(reports) => {
                for (reply, report) in replies.into_iter().zip(reports) {
                    // A writer that gave up waiting still had its changes written.
                    let _ = reply.send(Ok(report));
                }
            }
            Err(e) => {
                error!("group commit of {} writers failed: {e}", replies.len());
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Item;
    use crate::outbox::Store;

    fn change(r: &str) -> Change {
        Change::Upsert {
            item: Item::sample(r, r),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_all_land_durably() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path().join("g.db")).expect("open"));
        let group = GroupCommit::spawn(Arc::clone(&store));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let group = group.clone();
            let shop = if i % 2 == 0 { "a" } else { "b" };
            tasks.spawn(async move { group.enqueue(shop, vec![change(&format!("V{i}"))]).await });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.expect("task").expect("enqueued").queued, 1);
        }
        drop(store);
        let reopened = SqliteStore::open(dir.path().join("g.db")).expect("reopen");
        assert_eq!(
            reopened
                .lease("a", 1000)
                .await
                .expect("lease")
                .changes
                .len(),
            100
        );
        assert_eq!(
            reopened
                .lease("b", 1000)
                .await
                .expect("lease")
                .changes
                .len(),
            100
        );
    }
}
