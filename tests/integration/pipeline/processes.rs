//! The pipeline as operators run it: real `snapact-host` processes (the
//! sandbox, `run`, `import`), a real SQLite file, real HTTP on 127.0.0.1,
//! and `kill -9` at random moments. Kills are driven by observed progress
//! (the sandbox's counters, the outbox), never by sleeping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use snapact_host::daemon::IMPORT_CHUNK;
use snapact_host::outbox::{LeasedOp, ShopStatus, SqliteStore, Store};
use snapact_tests::build_adapter;
use snapact_tests::catalogs::{SQUARE_SETTINGS, square_catalog, square_catalog_expected};
use snapact_tests::processes::{Connector, ConnectorConfig, SandboxProcess, wait_for};

use super::support::without_verified_at;

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-test");
const SHOP: &str = "lagos-e2e";
const KEY: &str = "sk_test_e2e";
/// Items per upsert request: the most a batch in flight can hold.
const BATCH: usize = 100;
/// Catalog size for every test here.
const N: usize = 10_000;
/// Generous: the whole sync takes seconds; this only bounds a hang.
const PATIENCE: Duration = Duration::from_secs(300);

/// A sandbox process, a connector directory with its config and an
/// exported Square catalog of `N` items.
struct Setup {
    dir: tempfile::TempDir,
    sandbox: SandboxProcess,
    connector: Connector,
    catalog: PathBuf,
}

async fn setup() -> Setup {
    let package = tokio::task::spawn_blocking(|| build_adapter("adapters/square"))
        .await
        .expect("adapter build task");
    let adapters_dir = package.parent().expect("package folder").to_path_buf();
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = SandboxProcess::start(
        Path::new(BIN),
        &[(SHOP, KEY)],
        &[],
        &dir.path().join("sandbox.log"),
    )
    .await
    .expect("sandbox process starts");
    let connector = Connector::new(
        Path::new(BIN),
        dir.path(),
        &ConnectorConfig {
            snapact_url: sandbox.url.clone(),
            shop: SHOP.into(),
            key: KEY.into(),
            adapters_dir,
            adapter: "square@^1".into(),
            settings: SQUARE_SETTINGS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            batch_size: BATCH,
            listen: String::new(),
            shop_extra: String::new(),
            env: Vec::new(),
            require_signatures: false,
        },
    )
    .expect("connector config");
    let catalog = dir.path().join("square-catalog.json");
    std::fs::write(&catalog, square_catalog(N, 1)).expect("write the catalog");
    Setup {
        dir,
        sandbox,
        connector,
        catalog,
    }
}

fn by_ref(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .map(|v| {
            let r = v["external_ref"].as_str().expect("external_ref").to_owned();
            (r, without_verified_at(v))
        })
        .collect()
}

fn expected() -> BTreeMap<String, Value> {
    by_ref(
        square_catalog_expected(N, 1)
            .into_iter()
            .map(|mut v| {
                // Stand-in so `without_verified_at` can check and strip it.
                v["verified_at"] = Value::String("2026-01-01T00:00:00Z".into());
                v
            })
            .collect(),
    )
}

/// SnapAct holds exactly the catalog, value for value.
async fn assert_sandbox_holds_the_catalog(sandbox: &SandboxProcess) {
    let items = by_ref(sandbox.items(SHOP).await.expect("sandbox items"));
    assert_eq!(items.len(), N, "items in the sandbox");
    let expected = expected();
    for (r, want) in &expected {
        assert_eq!(items.get(r), Some(want), "item {r}");
    }
    assert_eq!(items, expected);
}

async fn status(store: &SqliteStore) -> ShopStatus {
    Connector::status(store, SHOP).await.expect("outbox status")
}

/// Seed for the kill moments: `SNAPACT_CRASH_SEED` replays a run.
fn seed() -> u64 {
    let seed = std::env::var("SNAPACT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    println!("kill moments seeded with {seed} (SNAPACT_CRASH_SEED={seed} replays them)");
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_square_items_imported_with_the_binary_arrive_exactly() {
    let s = setup().await;
    let store = s.connector.open_store().expect("store");
    let mut run = s.connector.start_run().expect("run starts");

    // `import` in its own process while `run` delivers, as an operator does.
    let summary = s.connector.import(&s.catalog, &[]).await.expect("import");
    assert!(
        summary.contains(&format!(
            "{SHOP}: {N} changes durable in the outbox ({N} queued, 0 coalesced"
        )),
        "{summary}"
    );

    let done = wait_for(
        "every change acknowledged",
        PATIENCE,
        Duration::from_millis(50),
        || {
            let alive = run.ensure_alive();
            let store = &store;
            async move {
                alive?;
                let st = status(store).await;
                Ok((st.pending == 0 && st.acknowledged == N as u64).then_some(st))
            }
        },
    )
    .await
    .expect("sync completes");
    assert_eq!(done.parked, 0, "{done:?}");
    assert_sandbox_holds_the_catalog(&s.sandbox).await;

    let stats = s.sandbox.stats().await.expect("stats");
    assert_eq!(stats.items_upserted, N as u64, "each item once: {stats:?}");
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    assert_eq!(stats.items_rejected, 0, "{stats:?}");
    let batches = (N / BATCH) as u64;
    assert_eq!(
        stats.requests,
        BTreeMap::from([("200".to_owned(), batches)]),
        "full batches of {BATCH}, nothing else"
    );

    run.kill9().await.expect("run was still serving");
    s.sandbox.stop().await;
    drop(s.dir);
}

/// What was true just after one `kill -9` of `run`.
#[derive(Debug)]
struct AfterKill {
    target: u64,
    observed: &'static str,
    acknowledged: u64,
    applied: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_run_at_random_moments_loses_nothing_and_repeats_only_the_batch_in_flight() {
    const KILLS: usize = 10;
    let s = setup().await;
    let mut rng = StdRng::seed_from_u64(seed());
    let store = s.connector.open_store().expect("store");
    s.connector.import(&s.catalog, &[]).await.expect("import");
    let before = status(&store).await;
    assert_eq!((before.pending, before.acknowledged), (N as u64, 0));

    let mut kills: Vec<AfterKill> = Vec::new();
    for k in 0..KILLS {
        // The k-th kill lands when progress passes a random point of the
        // k-th eleventh of the sync, observed either where SnapAct applied
        // a batch the host may not have recorded yet (the sandbox), or just
        // after the host recorded one (the outbox).
        let low = (N * k / (KILLS + 1)) as u64;
        let high = (N * (k + 1) / (KILLS + 1)) as u64;
        let target = rng.random_range(low + 1..=high);
        let observe_sandbox = rng.random_bool(0.5);
        let mut run = s.connector.start_run().expect("run starts");
        wait_for(
            "progress to pass the kill point",
            PATIENCE,
            Duration::from_millis(2),
            || {
                let alive = run.ensure_alive();
                let (sandbox, store) = (&s.sandbox, &store);
                async move {
                    alive?;
                    let progress = if observe_sandbox {
                        sandbox.stats().await?.distinct()
                    } else {
                        status(store).await.acknowledged
                    };
                    Ok((progress >= target).then_some(()))
                }
            },
        )
        .await
        .unwrap_or_else(|e| panic!("kill {k}: {e:#}"));
        run.kill9()
            .await
            .unwrap_or_else(|e| panic!("kill {k}: {e:#}"));

        let st = status(&store).await;
        let applied = s.sandbox.stats().await.expect("stats").distinct();
        let after = AfterKill {
            target,
            observed: if observe_sandbox { "sandbox" } else { "outbox" },
            acknowledged: st.acknowledged,
            applied,
        };
        // Every change is still pending or acknowledged, none parked.
        assert_eq!(
            st.pending + st.acknowledged,
            N as u64,
            "kill {k}: a change left the outbox unacknowledged: {after:?} {st:?}"
        );
        assert_eq!(st.parked, 0, "kill {k}: {st:?}");
        // The host records only what SnapAct acknowledged...
        assert!(st.acknowledged <= applied, "kill {k}: {after:?}");
        // ...and what SnapAct applied without the host recording it is at
        // most the one batch in flight at the kill.
        assert!(
            applied - st.acknowledged <= BATCH as u64,
            "kill {k}: more than a batch applied but unrecorded: {after:?}"
        );
        // An acknowledgement, once recorded, survives every later kill.
        if let Some(previous) = kills.last() {
            assert!(
                st.acknowledged >= previous.acknowledged,
                "kill {k}: acknowledged changes were lost: {previous:?} then {after:?}"
            );
        }
        kills.push(after);
    }
    for (k, a) in kills.iter().enumerate() {
        println!(
            "kill {k}: at {} {} -> {} acknowledged, {} applied by SnapAct",
            a.observed, a.target, a.acknowledged, a.applied
        );
    }
    let interrupted = kills.iter().filter(|a| a.acknowledged < N as u64).count();
    assert!(
        interrupted >= KILLS / 2,
        "most kills must interrupt an unfinished sync, only {interrupted} did: {kills:?}"
    );

    // The last restart finishes the job.
    let mut run = s.connector.start_run().expect("run starts");
    let done = wait_for(
        "the sync to complete",
        PATIENCE,
        Duration::from_millis(50),
        || {
            let alive = run.ensure_alive();
            let store = &store;
            async move {
                alive?;
                let st = status(store).await;
                Ok((st.pending == 0).then_some(st))
            }
        },
    )
    .await
    .expect("sync completes after the last restart");
    assert_eq!((done.acknowledged, done.parked), (N as u64, 0), "{done:?}");
    run.kill9().await.expect("run was still serving");

    assert_sandbox_holds_the_catalog(&s.sandbox).await;
    let stats = s.sandbox.stats().await.expect("stats");
    assert_eq!(stats.items_rejected, 0, "{stats:?}");
    assert_eq!(stats.distinct(), N as u64, "{stats:?}");
    // Everything SnapAct applied without the host recording it was sent
    // again (the host cannot know it arrived)...
    let unrecorded: u64 = kills.iter().map(|a| a.applied - a.acknowledged).sum();
    assert!(
        stats.duplicates >= unrecorded,
        "{unrecorded} applied but unrecorded at the kills, only {} re-sent: {stats:?}",
        stats.duplicates
    );
    // ...and only that: at most the one batch in flight per kill, each
    // re-sent identically.
    let bound = (KILLS * BATCH) as u64;
    assert!(
        stats.duplicates <= bound,
        "{} items were applied twice, more than {KILLS} kills x {BATCH}: {stats:?}",
        stats.duplicates
    );
    println!(
        "{} of {KILLS} kills interrupted the sync; {} re-sent items (bound {bound})",
        interrupted, stats.duplicates
    );
    s.sandbox.stop().await;
    drop(s.dir);
}

/// The external refs pending in the outbox, in arrival order.
async fn pending_refs(store: &SqliteStore) -> Vec<String> {
    // A lease is not written anywhere: reading one changes nothing.
    let lease = store.lease(SHOP, N + 1).await.expect("lease");
    lease
        .changes
        .into_iter()
        .map(|c| {
            assert!(matches!(c.op, LeasedOp::Upsert(_)), "{c:?}");
            c.external_ref
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_import_keeps_whole_chunks_and_a_rerun_converges() {
    let s = setup().await;
    let mut rng = StdRng::seed_from_u64(seed());
    let store = s.connector.open_store().expect("store");
    let catalog_refs: Vec<String> = square_catalog_expected(N, 1)
        .iter()
        .map(|v| v["external_ref"].as_str().expect("ref").to_owned())
        .collect();

    let mut durable = 0usize;
    for round in 0..3 {
        // Kill while chunk `at` is being written: the import has said so
        // many changes are written, and is writing the next chunk.
        let chunks = N.div_ceil(IMPORT_CHUNK);
        let at = rng.random_range(0..chunks) * IMPORT_CHUNK;
        let mut import = s
            .connector
            .start_import(&s.catalog, &[])
            .expect("import starts");
        let reported = loop {
            match import.next_progress().await.expect("import stderr") {
                Some((done, total)) => {
                    assert_eq!(total, N);
                    if done >= at {
                        break done;
                    }
                }
                None => panic!(
                    "round {round}: import ended before writing {at}: {:?}",
                    import.seen
                ),
            }
        };
        import
            .process
            .kill9()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:#}"));

        // All or nothing per chunk, and what it reported written is durable.
        let pending = pending_refs(&store).await;
        assert_eq!(
            pending.len() % IMPORT_CHUNK,
            0,
            "round {round}: {} pending is not whole chunks of {IMPORT_CHUNK}",
            pending.len()
        );
        assert!(
            pending.len() >= reported.max(durable),
            "round {round}: {} pending, but the import reported {reported} written (earlier: {durable})",
            pending.len()
        );
        assert_eq!(
            pending[..],
            catalog_refs[..pending.len()],
            "round {round}: the pending changes are the catalog's first chunks, in order"
        );
        durable = pending.len();
        println!("import round {round}: killed while writing after {reported}; {durable} durable");
    }

    // Re-running converges: the rest is queued, what was written is
    // coalesced, and `--wait` returns once SnapAct acknowledged it all.
    let summary = s
        .connector
        .import(&s.catalog, &["--wait"])
        .await
        .expect("import --wait");
    let queued = N - durable;
    assert!(
        summary.contains(&format!(
            "{SHOP}: {N} changes durable in the outbox ({queued} queued, {durable} coalesced"
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{SHOP}: SnapAct acknowledged everything pending")),
        "{summary}"
    );
    let st = status(&store).await;
    assert_eq!(
        (st.pending, st.acknowledged, st.parked),
        (0, N as u64, 0),
        "{st:?}"
    );
    assert_sandbox_holds_the_catalog(&s.sandbox).await;
    let stats = s.sandbox.stats().await.expect("stats");
    assert_eq!(
        (stats.items_upserted, stats.duplicates),
        (N as u64, 0),
        "nothing doubled: {stats:?}"
    );
    s.sandbox.stop().await;
    drop(s.dir);
}
