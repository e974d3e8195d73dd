//! The embedded outbox: SQLite (bundled), WAL, `synchronous=FULL`, one
//! connection behind a mutex used from `spawn_blocking`, so there is exactly
//! one writer and every write is a short transaction durable on return.
//!
//! Leases are not written to the database: only one relay per shop runs in a
//! process ([`Relays`](super::Relays) enforces it), a crash forgets them (the
//! rows are simply due again), and what a lease must protect, a change that
//! arrives while its batch is in flight, is protected by the row's
//! `revision` instead.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::store::{
    DeliveryCounts, EnqueueReport, Lease, LeasedChange, LeasedOp, Outcome, ParkedChange,
    ParkedSelection, RetryReport, ShopStatus, Store, StoreError,
};
use super::{Clock, SharedClock, SystemClock, compare_versions};
use crate::catalog::{Availability, Change, Item, StockTarget};
use crate::snapact::UpsertItem;

mod gauges;
mod inbox;

pub use gauges::ShopGauges;

/// Schema migrations; `PRAGMA user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,   -- arrival order
    shop              TEXT NOT NULL,
    external_ref      TEXT NOT NULL,
    op                TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    item              TEXT,                  -- catalog::Item JSON for upserts
    content_hash      BLOB,
    stock_key         TEXT,
    source_version    TEXT,
    stock_version     TEXT,
    revision          INTEGER NOT NULL,      -- bumped by every coalesced change
    verified_at       INTEGER NOT NULL,      -- ms since the epoch, like every time here
    first_enqueued_at INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    UNIQUE (shop, external_ref)
);
CREATE INDEX outbox_order ON outbox (shop, id);
CREATE INDEX outbox_due ON outbox (shop, next_attempt_at);
CREATE INDEX outbox_stock_key ON outbox (shop, stock_key) WHERE stock_key IS NOT NULL;

CREATE TABLE items (                          -- last state SnapAct acknowledged
    shop           TEXT NOT NULL,
    external_ref   TEXT NOT NULL,
    item           TEXT NOT NULL,
    content_hash   BLOB NOT NULL,
    stock_key      TEXT,
    source_version TEXT,
    stock_version  TEXT,
    verified_at    INTEGER NOT NULL,
    acked_at       INTEGER NOT NULL,
    PRIMARY KEY (shop, external_ref)
) WITHOUT ROWID;
CREATE INDEX items_stock_key ON items (shop, stock_key) WHERE stock_key IS NOT NULL;

CREATE TABLE parked (
    id                INTEGER PRIMARY KEY,
    shop              TEXT NOT NULL,
    external_ref      TEXT NOT NULL,
    op                TEXT NOT NULL,
    item              TEXT,
    stock_key         TEXT,
    source_version    TEXT,
    stock_version     TEXT,
    verified_at       INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    first_enqueued_at INTEGER NOT NULL,
    parked_at         INTEGER NOT NULL
);
CREATE INDEX parked_item ON parked (shop, external_ref);

CREATE TABLE pending_stock (                  -- stock for items never seen in full
    shop          TEXT NOT NULL,
    target_kind   TEXT NOT NULL CHECK (target_kind IN ('external_ref', 'stock_key')),
    target        TEXT NOT NULL,
    quantity      INTEGER,
    availability  TEXT NOT NULL,
    stock_version TEXT,
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (shop, target_kind, target)
) WITHOUT ROWID;

CREATE TABLE cursors (
    shop       TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (shop, name)
) WITHOUT ROWID;

CREATE TABLE deliveries (                     -- audit counters and shop state
    shop            TEXT PRIMARY KEY,
    batches         INTEGER NOT NULL DEFAULT 0,
    upserted        INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    failed_requests INTEGER NOT NULL DEFAULT 0,
    last_success_at INTEGER,
    last_failure_at INTEGER,
    last_error      TEXT,
    paused_reason   TEXT,
    paused_at       INTEGER
);
"#,
    r#"
CREATE TABLE inbox (                          -- SnapAct webhook events
    seq             INTEGER PRIMARY KEY,      -- arrival order
    shop            TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    order_id        TEXT,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'parked', 'recorded', 'ignored')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    received_at     INTEGER NOT NULL,
    finished_at     INTEGER,
    UNIQUE (shop, event_id)
);
CREATE INDEX inbox_due ON inbox (shop, next_attempt_at) WHERE state = 'pending';
CREATE INDEX inbox_order ON inbox (shop, order_id) WHERE order_id IS NOT NULL;
CREATE TABLE orders (                         -- SnapAct orders created in the POS
    shop             TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    pos_order_id     TEXT NOT NULL,
    pos_order_number TEXT,
    pushed_at        INTEGER NOT NULL,
    PRIMARY KEY (shop, order_id)
) WITHOUT ROWID;
"#,
    // Parked events are counted at every metrics scrape; done events pile
    // up forever, so counting parked ones must not walk them.
    r#"
CREATE INDEX inbox_parked ON inbox (shop) WHERE state = 'parked';
"#,
];

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite outbox. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    clock: SharedClock,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Like [`SqliteStore::open`], with an injected clock.
    pub fn open_with_clock(path: impl AsRef<Path>, clock: SharedClock) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).ctx("opening the database")?;
        Self::init(conn, clock)
    }

    /// A private in-memory database (tests, dry runs).
    pub fn open_in_memory(clock: SharedClock) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
        Self::init(conn, clock)
    }

    fn init(mut conn: Connection, clock: SharedClock) -> Result<Self, StoreError> {
        // First: switching to WAL and migrating take locks that another
        // process opening the same file at the same moment may hold.
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx("setting the busy timeout")?;
        // WAL lets status readers (another process running `outbox status`)
        // proceed while the relay writes; FULL makes each commit durable.
        enable_wal(&conn)?;
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .ctx("setting durability pragmas")?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            clock,
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let now = ms(self.clock.now());
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction open
            // (rusqlite rolls back on drop), so a poisoned lock is usable.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, now)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// A number that changes when another connection (another process:
    /// `import`, `outbox retry`) commits to the database; this store's own
    /// writes leave it unchanged (SQLite's `PRAGMA data_version`).
    pub async fn data_version(&self) -> Result<i64, StoreError> {
        self.run(|c, _| {
            c.query_row("PRAGMA data_version", [], |r| r.get(0))
                .ctx("reading the data version")
        })
        .await
    }

    /// Schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.run(|c, _| {
            c.query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx("reading the schema version")
        })
        .await
    }
}

/// Switch to WAL. SQLite answers SQLITE_BUSY to the switch without calling
/// the busy handler while another connection holds the lock it needs, so
/// `busy_timeout` alone does not cover processes opening a new database at
/// the same moment (`run` and `import` started together): retry for as
/// long as the busy timeout.
fn enable_wal(conn: &Connection) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => {
                return Err(StoreError::Sqlite {
                    what: "enabling WAL",
                    error,
                });
            }
        }
    }
}

/// The schema version this host writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version = |c: &Connection| -> Result<i64, StoreError> {
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
            .ctx("reading the schema version")
    };
    let too_new = |found: i64| StoreError::SchemaTooNew {
        found,
        supported: SCHEMA_VERSION,
    };
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(too_new(found));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // Several processes may open a new or old database at once (`run` and
    // `import` started together): each step reads the version again under
    // the exclusive lock, so a step another process applied is not applied twice.
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .ctx("starting a migration")?;
        let found = version(&tx)?;
        if found > SCHEMA_VERSION {
            return Err(too_new(found));
        }
        let Some(sql) = MIGRATIONS.get(usize::try_from(found).unwrap_or(0)) else {
            return Ok(());
        };
        tx.execute_batch(sql).ctx("migrating the schema")?;
        tx.pragma_update(None, "user_version", found + 1)
            .ctx("recording the schema version")?;
        tx.commit().ctx("committing a migration")?;
    }
}

trait Ctx<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Sqlite { what, error })
    }
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_ms(v: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Hash of what buyers see: the item without its POS version, so a record the
/// POS re-versioned without a visible change is not sent again.
fn content_hash(item: &Item) -> Result<Vec<u8>, StoreError> {
    let mut visible = item.clone();
    visible.source_version = None;
    let bytes = serde_json::to_vec(&visible).map_err(|e| StoreError::Corrupt {
        row: item.external_ref.clone(),
        reason: e.to_string(),
    })?;
    Ok(Sha256::digest(&bytes).to_vec())
}

fn to_json(item: &Item) -> Result<String, StoreError> {
    serde_json::to_string(item).map_err(|e| StoreError::Corrupt {
        row: item.external_ref.clone(),
        reason: e.to_string(),
    })
}

fn from_json(row: &str, json: &str) -> Result<Item, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        row: row.to_owned(),
        reason: format!("stored item is not valid: {e}"),
    })
}

fn availability_from(row: &str, s: &str) -> Result<Availability, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| {
        StoreError::Corrupt {
            row: row.to_owned(),
            reason: format!("stored availability {s:?}: {e}"),
        }
    })
}

/// `new` is strictly older than `current`; unversioned changes are never older.
fn is_older(new: Option<&str>, current: Option<&str>) -> bool {
    matches!((new, current), (Some(n), Some(c)) if compare_versions(n, c).is_lt())
}

fn newest(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if compare_versions(&a, &b).is_lt() {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

struct Pending {
    id: i64,
    op: String,
    item: Option<String>,
    source_version: Option<String>,
    stock_version: Option<String>,
}

struct Acked {
    item: String,
    hash: Vec<u8>,
    source_version: Option<String>,
    stock_version: Option<String>,
    verified_at: i64,
}

fn pending_row(tx: &Transaction, shop: &str, r: &str) -> Result<Option<Pending>, StoreError> {
    tx.prepare_cached(
        "SELECT id, op, item, source_version, stock_version FROM outbox
         WHERE shop = ?1 AND external_ref = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![shop, r], |row| {
            Ok(Pending {
                id: row.get(0)?,
                op: row.get(1)?,
                item: row.get(2)?,
                source_version: row.get(3)?,
                stock_version: row.get(4)?,
            })
        })
        .optional()
    })
    .ctx("reading a pending change")
}

fn acked_row(tx: &Transaction, shop: &str, r: &str) -> Result<Option<Acked>, StoreError> {
    tx.prepare_cached(
        "SELECT item, content_hash, source_version, stock_version, verified_at FROM items
         WHERE shop = ?1 AND external_ref = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![shop, r], |row| {
            Ok(Acked {
                item: row.get(0)?,
                hash: row.get(1)?,
                source_version: row.get(2)?,
                stock_version: row.get(3)?,
                verified_at: row.get(4)?,
            })
        })
        .optional()
    })
    .ctx("reading an acknowledged item")
}

struct WaitingStock {
    quantity: Option<i64>,
    availability: Availability,
    stock_version: Option<String>,
}

struct Enqueuer<'a> {
    tx: &'a Transaction<'a>,
    shop: &'a str,
    now: i64,
    has_waiting_stock: bool,
    report: EnqueueReport,
}

impl Enqueuer<'_> {
    fn change(&mut self, change: Change) -> Result<(), StoreError> {
        match change {
            Change::Upsert { item } => self.upsert(item),
            Change::Stock {
                target,
                quantity,
                availability,
                source_version,
            } => match target.target() {
                Some(t) => self.stock(t, quantity, availability, source_version),
                // The catalog type allows it; an adapter bug, not a crash.
                None => Err(StoreError::Corrupt {
                    row: format!("shop {}", self.shop),
                    reason: "a stock change names neither external_ref nor stock_key".to_owned(),
                }),
            },
            Change::Delete {
                external_ref,
                source_version,
            } => self.delete(external_ref, source_version),
        }
    }

    fn upsert(&mut self, mut item: Item) -> Result<(), StoreError> {
        let pending = pending_row(self.tx, self.shop, &item.external_ref)?;
        let acked = if pending.is_none() {
            acked_row(self.tx, self.shop, &item.external_ref)?
        } else {
            None
        };
        let current = match (&pending, &acked) {
            (Some(p), _) => p.source_version.as_deref(),
            (None, Some(a)) => a.source_version.as_deref(),
            (None, None) => None,
        };
        if is_older(item.source_version.as_deref(), current) {
            self.report.skipped_older += 1;
            return Ok(());
        }
        let mut stock_version = match (&pending, &acked) {
            (Some(p), _) => p.stock_version.clone(),
            (None, Some(a)) => a.stock_version.clone(),
            (None, None) => None,
        };
        if let Some(w) = self.take_waiting_stock(&item)? {
            item.quantity = w.quantity;
            item.availability = w.availability;
            stock_version = newest(stock_version, w.stock_version);
            self.report.stock_applied += 1;
        }
        self.put(item, stock_version, pending, acked)
    }

    fn stock(
        &mut self,
        target: StockTarget,
        quantity: Option<i64>,
        availability: Availability,
        version: Option<String>,
    ) -> Result<(), StoreError> {
        let external_ref = match &target {
            StockTarget::ExternalRef(r) => Some(r.clone()),
            StockTarget::StockKey(k) => self.resolve_stock_key(k)?,
        };
        let Some(external_ref) = external_ref else {
            return self.wait_stock(&target, quantity, availability, version);
        };
        let pending = pending_row(self.tx, self.shop, &external_ref)?;
        let acked = if pending.is_none() {
            acked_row(self.tx, self.shop, &external_ref)?
        } else {
            None
        };
        let base = match (&pending, &acked) {
            (Some(p), _) if p.op == "upsert" => p
                .item
                .as_deref()
                .map(|j| (j, p.stock_version.clone(), p.source_version.clone())),
            // A pending delete: the item is gone until it arrives again.
            (Some(_), _) => None,
            (None, Some(a)) => Some((
                a.item.as_str(),
                a.stock_version.clone(),
                a.source_version.clone(),
            )),
            (None, None) => None,
        };
        let Some((json, base_stock_version, _)) = base else {
            let target = StockTarget::ExternalRef(external_ref);
            return self.wait_stock(&target, quantity, availability, version);
        };
        if is_older(version.as_deref(), base_stock_version.as_deref()) {
            self.report.skipped_older += 1;
            return Ok(());
        }
        let mut item = from_json(&external_ref, json)?;
        item.quantity = quantity;
        item.availability = availability;
        let stock_version = version.or(base_stock_version);
        self.put(item, stock_version, pending, acked)
    }

    fn delete(&mut self, external_ref: String, version: Option<String>) -> Result<(), StoreError> {
        let pending = pending_row(self.tx, self.shop, &external_ref)?;
        let current = match &pending {
            Some(p) => p.source_version.clone(),
            None => acked_row(self.tx, self.shop, &external_ref)?.and_then(|a| a.source_version),
        };
        if is_older(version.as_deref(), current.as_deref()) {
            self.report.skipped_older += 1;
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "DELETE FROM pending_stock
                 WHERE shop = ?1 AND target_kind = 'external_ref' AND target = ?2",
            )
            .and_then(|mut s| s.execute(params![self.shop, external_ref]))
            .ctx("dropping waiting stock of a deleted item")?;
        // Sent even when the host never saw the item acknowledged: SnapAct
        // may hold it from an earlier install, and a 404 counts as done.
        match pending {
            Some(p) => {
                self.tx
                    .prepare_cached(
                        "UPDATE outbox SET op = 'delete', item = NULL, content_hash = NULL,
                         stock_key = NULL, source_version = ?2, revision = revision + 1,
                         verified_at = ?3 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![p.id, version, self.now]))
                    .ctx("coalescing a delete")?;
                self.report.coalesced += 1;
            }
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO outbox (shop, external_ref, op, source_version, revision,
                         verified_at, first_enqueued_at, next_attempt_at)
                         VALUES (?1, ?2, 'delete', ?3, 1, ?4, ?4, ?4)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![self.shop, external_ref, version, self.now])
                    })
                    .ctx("queueing a delete")?;
                self.report.queued += 1;
            }
        }
        self.drop_parked(&external_ref)
    }

    /// Writes `item` as the pending state unless SnapAct already has exactly it.
    fn put(
        &mut self,
        item: Item,
        stock_version: Option<String>,
        pending: Option<Pending>,
        acked: Option<Acked>,
    ) -> Result<(), StoreError> {
        let hash = content_hash(&item)?;
        let json = to_json(&item)?;
        match pending {
            None => {
                if let Some(a) = acked.filter(|a| a.hash == hash) {
                    // Keep the version watermarks so a later, older change is
                    // still recognised as older.
                    self.tx
                        .prepare_cached(
                            "UPDATE items SET source_version = ?3, stock_version = ?4
                             WHERE shop = ?1 AND external_ref = ?2",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                self.shop,
                                item.external_ref,
                                newest(a.source_version, item.source_version.clone()),
                                newest(a.stock_version, stock_version),
                            ])
                        })
                        .ctx("recording a version")?;
                    self.report.skipped_identical += 1;
                    return Ok(());
                }
                self.tx
                    .prepare_cached(
                        "INSERT INTO outbox (shop, external_ref, op, item, content_hash, stock_key,
                         source_version, stock_version, revision, verified_at, first_enqueued_at,
                         next_attempt_at)
                         VALUES (?1, ?2, 'upsert', ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8, ?8)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            self.shop,
                            item.external_ref,
                            json,
                            hash,
                            item.stock_key,
                            item.source_version,
                            stock_version,
                            self.now
                        ])
                    })
                    .ctx("queueing an upsert")?;
                self.report.queued += 1;
            }
            // Even when equal to the acknowledged state: the pending row may
            // be in flight with other content, and SnapAct must end with this.
            Some(p) => {
                self.tx
                    .prepare_cached(
                        "UPDATE outbox SET op = 'upsert', item = ?2, content_hash = ?3,
                         stock_key = ?4, source_version = ?5, stock_version = ?6,
                         revision = revision + 1, verified_at = ?7 WHERE id = ?1",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            p.id,
                            json,
                            hash,
                            item.stock_key,
                            item.source_version,
                            stock_version,
                            self.now
                        ])
                    })
                    .ctx("coalescing an upsert")?;
                self.report.coalesced += 1;
            }
        }
        self.drop_parked(&item.external_ref)
    }

    /// A newer change supersedes what was parked for the same item.
    fn drop_parked(&mut self, external_ref: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM parked WHERE shop = ?1 AND external_ref = ?2")
            .and_then(|mut s| s.execute(params![self.shop, external_ref]))
            .ctx("dropping superseded parked changes")?;
        Ok(())
    }

    fn resolve_stock_key(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let pending: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT external_ref FROM outbox
                 WHERE shop = ?1 AND stock_key = ?2 AND op = 'upsert' ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![self.shop, key], |r| r.get(0))
                    .optional()
            })
            .ctx("resolving a stock key")?;
        if pending.is_some() {
            return Ok(pending);
        }
        self.tx
            .prepare_cached(
                "SELECT external_ref FROM items WHERE shop = ?1 AND stock_key = ?2 LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![self.shop, key], |r| r.get(0))
                    .optional()
            })
            .ctx("resolving a stock key")
    }

    fn wait_stock(
        &mut self,
        target: &StockTarget,
        quantity: Option<i64>,
        availability: Availability,
        version: Option<String>,
    ) -> Result<(), StoreError> {
        let (kind, key) = match target {
            StockTarget::ExternalRef(r) => ("external_ref", r.as_str()),
            StockTarget::StockKey(k) => ("stock_key", k.as_str()),
        };
        let existing: Option<Option<String>> = self
            .tx
            .prepare_cached(
                "SELECT stock_version FROM pending_stock
                 WHERE shop = ?1 AND target_kind = ?2 AND target = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![self.shop, kind, key], |r| r.get(0))
                    .optional()
            })
            .ctx("reading waiting stock")?;
        if let Some(existing) = existing
            && is_older(version.as_deref(), existing.as_deref())
        {
            self.report.skipped_older += 1;
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO pending_stock
                 (shop, target_kind, target, quantity, availability, stock_version, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.shop,
                    kind,
                    key,
                    quantity,
                    availability.as_str(),
                    version,
                    self.now
                ])
            })
            .ctx("keeping stock until its item arrives")?;
        self.has_waiting_stock = true;
        self.report.stock_waiting += 1;
        Ok(())
    }

    /// Stock that arrived before `item`, by its ref or its stock key; the
    /// newer of the two when both exist.
    fn take_waiting_stock(&mut self, item: &Item) -> Result<Option<WaitingStock>, StoreError> {
        if !self.has_waiting_stock {
            return Ok(None);
        }
        let mut found: Option<WaitingStock> = None;
        let keys = [
            Some(("external_ref", item.external_ref.as_str())),
            item.stock_key.as_deref().map(|k| ("stock_key", k)),
        ];
        for (kind, key) in keys.into_iter().flatten() {
            let row: Option<(Option<i64>, String, Option<String>)> = self
                .tx
                .prepare_cached(
                    "DELETE FROM pending_stock WHERE shop = ?1 AND target_kind = ?2 AND target = ?3
                     RETURNING quantity, availability, stock_version",
                )
                .and_then(|mut s| {
                    s.query_row(params![self.shop, kind, key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                })
                .ctx("applying waiting stock")?;
            if let Some((quantity, availability, stock_version)) = row {
                let w = WaitingStock {
                    quantity,
                    availability: availability_from(key, &availability)?,
                    stock_version,
                };
                found = match found {
                    Some(f)
                        if !is_older(f.stock_version.as_deref(), w.stock_version.as_deref()) =>
                    {
                        Some(f)
                    }
                    _ => Some(w),
                };
            }
        }
        Ok(found)
    }
}

fn bump_deliveries(
    tx: &Transaction,
    shop: &str,
    counts: DeliveryCounts,
    now: i64,
    success: bool,
    failure: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO deliveries (shop, batches, upserted, deleted, rejected, failed_requests,
             last_success_at, last_failure_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (shop) DO UPDATE SET
             batches = batches + excluded.batches,
             upserted = upserted + excluded.upserted,
             deleted = deleted + excluded.deleted,
             rejected = rejected + excluded.rejected,
             failed_requests = failed_requests + excluded.failed_requests,
             last_success_at = coalesce(excluded.last_success_at, last_success_at),
             paused_reason = CASE WHEN excluded.last_success_at IS NULL
                                  THEN paused_reason ELSE NULL END,
             last_failure_at = coalesce(excluded.last_failure_at, last_failure_at),
             last_error = coalesce(excluded.last_error, last_error)",
    )
    .and_then(|mut s| {
        s.execute(params![
            shop,
            counts.batches as i64,
            counts.upserted as i64,
            counts.deleted as i64,
            counts.rejected as i64,
            counts.failed_requests as i64,
            success.then_some(now),
            failure.map(|_| now),
            failure,
        ])
    })
    .ctx("recording delivery counts")?;
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one row of the parked table, written from two places"
)]
fn park(
    tx: &Transaction,
    shop: &str,
    change: &LeasedChange,
    stock_key: Option<&str>,
    source_version: Option<&str>,
    reason: &str,
    attempts: u32,
    now: i64,
) -> Result<(), StoreError> {
    let (op, item, verified_at) = match &change.op {
        LeasedOp::Upsert(u) => ("upsert", Some(to_json(&u.item)?), ms(u.verified_at)),
        LeasedOp::Delete => ("delete", None, now),
    };
    tx.prepare_cached(
        "INSERT INTO parked (shop, external_ref, op, item, stock_key, source_version,
             stock_version, verified_at, reason, attempts, first_enqueued_at, parked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            shop,
            change.external_ref,
            op,
            item,
            stock_key,
            source_version,
            change.stock_version,
            verified_at,
            reason,
            attempts,
            ms(change.first_enqueued_at),
            now
        ])
    })
    .ctx("parking a change")?;
    Ok(())
}

fn remove_if_unchanged(tx: &Transaction, change: &LeasedChange) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 AND revision = ?2")
        .and_then(|mut s| s.execute(params![change.id, change.revision]))
        .ctx("removing a delivered change")?;
    Ok(())
}

fn complete_tx(
    tx: &Transaction,
    lease: &Lease,
    outcomes: &[Outcome],
    now: i64,
    retry_at: i64,
    max_age: Duration,
) -> Result<(), StoreError> {
    let shop = lease.shop.as_str();
    let mut counts = DeliveryCounts::default();
    let mut failure: Option<&str> = None;
    let mut any_success = false;
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    for (change, outcome) in lease.changes.iter().zip(outcomes) {
        match outcome {
            Outcome::Upserted => {
                let LeasedOp::Upsert(u) = &change.op else {
                    continue;
                };
                remove_if_unchanged(tx, change)?;
                let json = to_json(&u.item)?;
                let hash = content_hash(&u.item)?;
                tx.prepare_cached(
                    "INSERT INTO items (shop, external_ref, item, content_hash, stock_key,
                         source_version, stock_version, verified_at, acked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (shop, external_ref) DO UPDATE SET
                         item = excluded.item, content_hash = excluded.content_hash,
                         stock_key = excluded.stock_key, source_version = excluded.source_version,
                         stock_version = excluded.stock_version,
                         verified_at = excluded.verified_at, acked_at = excluded.acked_at",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        shop,
                        change.external_ref,
                        json,
                        hash,
                        u.item.stock_key,
                        u.item.source_version,
                        change.stock_version,
                        ms(u.verified_at),
                        now
                    ])
                })
                .ctx("recording an acknowledged item")?;
                counts.upserted += 1;
                any_success = true;
            }
            Outcome::Deleted => {
                remove_if_unchanged(tx, change)?;
                tx.prepare_cached("DELETE FROM items WHERE shop = ?1 AND external_ref = ?2")
                    .and_then(|mut s| s.execute(params![shop, change.external_ref]))
                    .ctx("forgetting a deleted item")?;
                counts.deleted += 1;
                any_success = true;
            }
            Outcome::Rejected(reason) => {
                let (stock_key, version) = match &change.op {
                    LeasedOp::Upsert(u) => (
                        u.item.stock_key.as_deref(),
                        u.item.source_version.as_deref(),
                    ),
                    LeasedOp::Delete => (None, None),
                };
                park(
                    tx,
                    shop,
                    change,
                    stock_key,
                    version,
                    reason,
                    change.attempts + 1,
                    now,
                )?;
                remove_if_unchanged(tx, change)?;
                counts.rejected += 1;
                any_success = true;
            }
            Outcome::Retry(error) => {
                failure = Some(error.as_str());
                let age = now.saturating_sub(ms(change.first_enqueued_at));
                if age > max_age_ms {
                    let (stock_key, version) = match &change.op {
                        LeasedOp::Upsert(u) => (
                            u.item.stock_key.as_deref(),
                            u.item.source_version.as_deref(),
                        ),
                        LeasedOp::Delete => (None, None),
                    };
                    let reason = format!(
                        "not delivered within the maximum age of {}s; last error: {error}",
                        max_age.as_secs()
                    );
                    park(
                        tx,
                        shop,
                        change,
                        stock_key,
                        version,
                        &reason,
                        change.attempts + 1,
                        now,
                    )?;
                    remove_if_unchanged(tx, change)?;
                } else {
                    tx.prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                         next_attempt_at = ?3 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![change.id, error, retry_at]))
                    .ctx("scheduling a retry")?;
                }
            }
            Outcome::NotAttempted => {}
        }
    }
    if counts.upserted > 0 {
        counts.batches = 1;
    }
    if failure.is_some() {
        counts.failed_requests = 1;
    }
    bump_deliveries(tx, shop, counts, now, any_success, failure)
}

/// A shop's first `?3` due changes in arrival order. It walks `outbox_order`
/// and stops at the limit. Left to itself, SQLite picks `outbox_due` for the
/// range on `next_attempt_at` and sorts every due row to return the first
/// few: a scan of the whole backlog per batch, quadratic over a large import.
const LEASE_SQL: &str = "SELECT id, external_ref, revision, op, item, verified_at, attempts,
        first_enqueued_at, stock_version
    FROM outbox INDEXED BY outbox_order
    WHERE shop = ?1 AND next_attempt_at <= ?2 ORDER BY id LIMIT ?3";

fn lease_tx(conn: &Connection, shop: &str, limit: usize, now: i64) -> Result<Lease, StoreError> {
    let mut stmt = conn.prepare_cached(LEASE_SQL).ctx("leasing changes")?;
    let rows = stmt
        .query_map(params![shop, now, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, u32>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })
        .ctx("leasing changes")?;
    let mut changes = Vec::new();
    for row in rows {
        let (id, external_ref, revision, op, item, verified_at, attempts, first, stock_version) =
            row.ctx("leasing changes")?;
        let op = match (op.as_str(), item) {
            ("upsert", Some(json)) => LeasedOp::Upsert(UpsertItem {
                item: from_json(&format!("outbox {id}"), &json)?,
                verified_at: from_ms(verified_at),
            }),
            ("delete", _) => LeasedOp::Delete,
            (other, _) => {
                return Err(StoreError::Corrupt {
                    row: format!("outbox {id}"),
                    reason: format!("operation {other:?} without an item"),
                });
            }
        };
        changes.push(LeasedChange {
            id,
            external_ref,
            revision,
            op,
            attempts,
            first_enqueued_at: from_ms(first),
            stock_version,
        });
    }
    Ok(Lease {
        shop: shop.to_owned(),
        changes,
    })
}

fn count(conn: &Connection, sql: &str, shop: &str) -> Result<u64, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params![shop], |r| r.get::<_, i64>(0)))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .ctx("counting for status")
}

fn status_of(conn: &Connection, shop: &str, now: i64) -> Result<ShopStatus, StoreError> {
    let mut s = ShopStatus::empty(shop);
    let (pending, oldest, next): (i64, Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT count(*), min(first_enqueued_at), min(next_attempt_at)
             FROM outbox WHERE shop = ?1",
        )
        .and_then(|mut st| st.query_row(params![shop], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .ctx("reading pending changes")?;
    s.pending = u64::try_from(pending).unwrap_or(0);
    s.oldest_pending_since = oldest.map(from_ms);
    s.oldest_pending_age_secs = oldest.map(|o| u64::try_from((now - o).max(0) / 1000).unwrap_or(0));
    s.next_attempt_at = next.map(from_ms);
    s.pending_stock = count(
        conn,
        "SELECT count(*) FROM pending_stock WHERE shop = ?1",
        shop,
    )?;
    s.parked = count(conn, "SELECT count(*) FROM parked WHERE shop = ?1", shop)?;
    s.acknowledged = count(conn, "SELECT count(*) FROM items WHERE shop = ?1", shop)?;
    let row = conn
        .prepare_cached(
            "SELECT batches, upserted, deleted, rejected, failed_requests, last_success_at,
                    last_failure_at, last_error, paused_reason
             FROM deliveries WHERE shop = ?1",
        )
        .and_then(|mut st| {
            st.query_row(params![shop], |r| {
                Ok((
                    DeliveryCounts {
                        batches: r.get::<_, i64>(0)? as u64,
                        upserted: r.get::<_, i64>(1)? as u64,
                        deleted: r.get::<_, i64>(2)? as u64,
                        rejected: r.get::<_, i64>(3)? as u64,
                        failed_requests: r.get::<_, i64>(4)? as u64,
                    },
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .optional()
        })
        .ctx("reading delivery counts")?;
    if let Some((counts, success, failure, error, paused)) = row {
        s.delivered = counts;
        s.last_success_at = success.map(from_ms);
        s.last_failure_at = failure.map(from_ms);
        s.last_error = error;
        s.paused = paused;
    }
    Ok(s)
}

type ParkedRow = (
    ParkedChange,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn parked_rows(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ParkedRow>, StoreError> {
    let sql = format!(
        "SELECT id, shop, external_ref, op, reason, attempts, first_enqueued_at, parked_at, item,
                stock_key, source_version, stock_version, verified_at
         FROM parked {filter} ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql).ctx("listing parked changes")?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, u32>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<String>>(11)?,
                r.get::<_, i64>(12)?,
            ))
        })
        .ctx("listing parked changes")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, shop, external_ref, op, reason, attempts, first, parked_at, item, sk, sv, stv, va) =
            row.ctx("listing parked changes")?;
        let item = match item {
            Some(json) => Some(from_json(&format!("parked {id}"), &json)?),
            None => None,
        };
        out.push((
            ParkedChange {
                id,
                shop,
                external_ref,
                op,
                reason,
                attempts,
                first_enqueued_at: from_ms(first),
                parked_at: from_ms(parked_at),
                item,
            },
            sk,
            sv,
            stv,
            va,
        ));
    }
    Ok(out)
}

fn retry_parked_tx(
    tx: &Transaction,
    shop: &str,
    which: &ParkedSelection,
    now: i64,
) -> Result<RetryReport, StoreError> {
    let mut report = RetryReport::default();
    let rows = match which {
        ParkedSelection::All => parked_rows(tx, "WHERE shop = ?1", &[&shop])?,
        ParkedSelection::Ids(ids) => {
            let mut rows = Vec::new();
            for id in ids {
                let found = parked_rows(tx, "WHERE shop = ?1 AND id = ?2", &[&shop, id])?;
                if found.is_empty() {
                    report.not_found.push(*id);
                }
                rows.extend(found);
            }
            rows
        }
    };
    for (parked, stock_key, source_version, stock_version, verified_at) in rows {
        tx.prepare_cached("DELETE FROM parked WHERE id = ?1")
            .and_then(|mut s| s.execute(params![parked.id]))
            .ctx("unparking a change")?;
        let pending = pending_row(tx, shop, &parked.external_ref)?;
        let acked = acked_row(tx, shop, &parked.external_ref)?;
        // Anything pending or acknowledged after this change arrived is newer.
        if pending.is_some() || acked.is_some_and(|a| a.verified_at > verified_at) {
            report.superseded += 1;
            continue;
        }
        let hash = match &parked.item {
            Some(item) => Some(content_hash(item)?),
            None => None,
        };
        let json = match &parked.item {
            Some(item) => Some(to_json(item)?),
            None => None,
        };
        tx.prepare_cached(
            "INSERT INTO outbox (shop, external_ref, op, item, content_hash, stock_key,
                 source_version, stock_version, revision, verified_at, first_enqueued_at,
                 next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                shop,
                parked.external_ref,
                parked.op,
                json,
                hash,
                stock_key,
                source_version,
                stock_version,
                verified_at,
                now
            ])
        })
        .ctx("requeueing a parked change")?;
        report.requeued += 1;
    }
    Ok(report)
}

impl Store for SqliteStore {
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn enqueue(&self, shop: &str, changes: Vec<Change>) -> Result<EnqueueReport, StoreError> {
        self.enqueue_with_cursor(shop, changes, None).await
    }

    async fn enqueue_with_cursor(
        &self,
        shop: &str,
        changes: Vec<Change>,
        cursor: Option<(&str, &str)>,
    ) -> Result<EnqueueReport, StoreError> {
        let shop = shop.to_owned();
        let cursor = cursor.map(|(n, v)| (n.to_owned(), v.to_owned()));
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx("starting an enqueue")?;
            let report = enqueue_in(&tx, &shop, changes, now)?;
            if let Some((name, value)) = cursor {
                save_cursor(&tx, &shop, &name, &value, now)?;
            }
            tx.commit().ctx("committing an enqueue")?;
            Ok(report)
        })
        .await
    }

    async fn lease(&self, shop: &str, limit: usize) -> Result<Lease, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, now| lease_tx(conn, &shop, limit, now))
            .await
    }

    async fn next_due(&self, shop: &str) -> Result<Option<SystemTime>, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, _| {
            conn.prepare_cached("SELECT min(next_attempt_at) FROM outbox WHERE shop = ?1")
                .and_then(|mut s| s.query_row(params![shop], |r| r.get::<_, Option<i64>>(0)))
                .map(|v| v.map(from_ms))
                .ctx("reading the next due change")
        })
        .await
    }

    async fn complete(
        &self,
        lease: Lease,
        outcomes: Vec<Outcome>,
        retry_at: SystemTime,
        max_age: Duration,
    ) -> Result<(), StoreError> {
        let retry_at = ms(retry_at);
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx("starting to record a delivery")?;
            complete_tx(&tx, &lease, &outcomes, now, retry_at, max_age)?;
            tx.commit().ctx("committing a delivery")
        })
        .await
    }

    async fn set_paused(&self, shop: &str, reason: Option<String>) -> Result<(), StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, now| {
            let paused = reason.is_some();
            conn.prepare_cached(
                "INSERT INTO deliveries (shop, paused_reason, paused_at, failed_requests,
                     last_failure_at, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?2)
                 ON CONFLICT (shop) DO UPDATE SET
                     paused_reason = excluded.paused_reason,
                     paused_at = excluded.paused_at,
                     failed_requests = failed_requests + excluded.failed_requests,
                     last_failure_at = coalesce(excluded.last_failure_at, last_failure_at),
                     last_error = coalesce(excluded.last_error, last_error)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    shop,
                    reason,
                    paused.then_some(now),
                    i64::from(paused)
                ])
            })
            .ctx("recording a pause")?;
            Ok(())
        })
        .await
    }

    async fn status(&self, shop: Option<&str>) -> Result<Vec<ShopStatus>, StoreError> {
        let shop = shop.map(str::to_owned);
        self.run(move |conn, now| match shop {
            Some(shop) => Ok(vec![status_of(conn, &shop, now)?]),
            None => {
                let shops: Vec<String> = conn
                    .prepare_cached(
                        "SELECT shop FROM outbox UNION SELECT shop FROM parked
                         UNION SELECT shop FROM pending_stock UNION SELECT shop FROM deliveries
                         UNION SELECT DISTINCT shop FROM items ORDER BY 1",
                    )
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get(0))?
                            .collect::<rusqlite::Result<Vec<String>>>()
                    })
                    .ctx("listing shops")?;
                shops.iter().map(|s| status_of(conn, s, now)).collect()
            }
        })
        .await
    }

    async fn parked(&self, shop: Option<&str>) -> Result<Vec<ParkedChange>, StoreError> {
        let shop = shop.map(str::to_owned);
        self.run(move |conn, _| {
            let rows = match &shop {
                Some(s) => parked_rows(conn, "WHERE shop = ?1", &[s])?,
                None => parked_rows(conn, "", &[])?,
            };
            Ok(rows.into_iter().map(|r| r.0).collect())
        })
        .await
    }

    async fn retry_parked(
        &self,
        shop: &str,
        which: ParkedSelection,
    ) -> Result<RetryReport, StoreError> {
        let shop = shop.to_owned();
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx("starting to retry parked changes")?;
            let report = retry_parked_tx(&tx, &shop, &which, now)?;
            tx.commit().ctx("committing retried parked changes")?;
            Ok(report)
        })
        .await
    }

    async fn cursor(&self, shop: &str, name: &str) -> Result<Option<String>, StoreError> {
        let (shop, name) = (shop.to_owned(), name.to_owned());
        self.run(move |conn, _| {
            conn.prepare_cached("SELECT value FROM cursors WHERE shop = ?1 AND name = ?2")
                .and_then(|mut s| s.query_row(params![shop, name], |r| r.get(0)).optional())
                .ctx("reading a cursor")
        })
        .await
    }

    async fn set_cursor(&self, shop: &str, name: &str, value: &str) -> Result<(), StoreError> {
        let (shop, name, value) = (shop.to_owned(), name.to_owned(), value.to_owned());
        self.run(move |conn, now| save_cursor(conn, &shop, &name, &value, now))
            .await
    }
}

/// One shop's changes, inside the caller's transaction.
fn enqueue_in(
    tx: &Transaction,
    shop: &str,
    changes: Vec<Change>,
    now: i64,
) -> Result<EnqueueReport, StoreError> {
    let has_waiting_stock = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pending_stock WHERE shop = ?1)",
            params![shop],
            |r| r.get(0),
        )
        .ctx("checking waiting stock")?;
    let mut enqueuer = Enqueuer {
        tx,
        shop,
        now,
        has_waiting_stock,
        report: EnqueueReport::default(),
    };
    for change in changes {
        enqueuer.change(change)?;
    }
    Ok(enqueuer.report)
}

impl SqliteStore {
    /// Several enqueues (of one or several shops) in ONE transaction: one
    /// fsync for all of them. Used by [`GroupCommit`](super::GroupCommit)
    /// to absorb many small concurrent writers (webhooks). All or nothing.
    pub async fn enqueue_batch(
        &self,
        batch: Vec<(String, Vec<Change>)>,
    ) -> Result<Vec<EnqueueReport>, StoreError> {
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx("starting a group commit")?;
            let mut reports = Vec::with_capacity(batch.len());
            for (shop, changes) in batch {
                reports.push(enqueue_in(&tx, &shop, changes, now)?);
            }
            tx.commit().ctx("committing a group")?;
            Ok(reports)
        })
        .await
    }
}

fn save_cursor(
    conn: &Connection,
    shop: &str,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO cursors (shop, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (shop, name) DO UPDATE SET value = excluded.value,
             updated_at = excluded.updated_at",
    )
    .and_then(|mut s| s.execute(params![shop, name, value, now]))
    .ctx("saving a cursor")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_reads_in_arrival_order_without_sorting_the_backlog() {
        let store = SqliteStore::open_in_memory(Arc::new(SystemClock)).expect("store");
        let conn = store.conn.lock().expect("connection");
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LEASE_SQL}"))
            .and_then(|mut s| {
                s.query_map(params!["shop", 0, 100], |r| r.get::<_, String>(3))?
                    .collect()
            })
            .expect("query plan");
        let plan = plan.join("; ");
        assert!(plan.contains("outbox_order"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn processes_opening_a_new_database_at_once_migrate_it_once() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("race.db");
            let barrier = Arc::new(std::sync::Barrier::new(4));
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        SqliteStore::open(&path).map(|_| ())
                    })
                })
                .collect();
            for o in openers {
                o.join().expect("thread").expect("every opener succeeds");
            }
            let conn = Connection::open(&path).expect("open");
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .expect("version");
            assert_eq!(version, SCHEMA_VERSION);
        }
    }

    #[tokio::test]
    async fn the_data_version_moves_on_another_process_commit_not_on_our_own() {
        use crate::outbox::store::Store;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dv.db");
        let ours = SqliteStore::open(&path).expect("store");
        let v0 = ours.data_version().await.expect("version");
        ours.enqueue(
            "shop",
            vec![crate::catalog::Change::Upsert {
                item: crate::catalog::Item::sample("a", "A"),
            }],
        )
        .await
        .expect("own write");
        assert_eq!(
            ours.data_version().await.expect("version"),
            v0,
            "own writes"
        );

        let theirs = SqliteStore::open(&path).expect("a second store, as `import` opens");
        theirs
            .enqueue(
                "shop",
                vec![crate::catalog::Change::Upsert {
                    item: crate::catalog::Item::sample("b", "B"),
                }],
            )
            .await
            .expect("their write");
        assert_ne!(
            ours.data_version().await.expect("version"),
            v0,
            "another connection's commit"
        );
    }
}
