//! Hot reload in a running daemon: a new version put into the adapters
//! folder while the host is under steady traffic (imports through the
//! adapter and signed POS webhooks) is swapped in with no failed call and
//! no lost change; a broken package is refused and the old version keeps
//! serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use snapact_host::config::{Config, Overrides};
use snapact_host::daemon::{self, Daemon};
use snapact_host::outbox::SystemClock;
use snapact_host::registry::index::{AdapterEntry, CapabilitySummary, Index, Status, VersionEntry};
use snapact_host::registry::installed::save_cached_index;
use snapact_tests::{build_adapter, captured_logs, fixtures_dir, test_adapters_dir};

use crate::pipeline::support::{Served, sandbox_config};
use crate::webhooks::{SHOP, SNAPACT_KEY, config_text, env, wait_for};

/// Copy the built Square package into `adapters/square/<version>/` with
/// its manifest saying `version`, the way `adapter install` lays it out:
/// written beside, then renamed into place.
fn install(adapters: &Path, version: &str) -> PathBuf {
    let built = build_adapter("adapters/square");
    let staging = adapters.join(format!(".staging-{version}"));
    std::fs::create_dir_all(&staging).expect("staging dir");
    std::fs::copy(built.join("adapter.wasm"), staging.join("adapter.wasm")).expect("copy wasm");
    let manifest = std::fs::read_to_string(built.join("adapter.toml")).expect("manifest");
    let manifest = manifest.replacen(
        "version = \"1.0.0\"",
        &format!("version = \"{version}\""),
        1,
    );
    assert!(
        manifest.contains(&format!("version = \"{version}\"")),
        "{manifest}"
    );
    std::fs::write(staging.join("adapter.toml"), manifest).expect("write manifest");
    let dest = adapters.join("square").join(version);
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&staging, &dest).expect("rename into place");
    dest
}

/// One Square catalog object with its "Large" variation at `price` cents
/// and catalog version `version`.
fn catalog_object(price: u64, version: u64) -> Vec<u8> {
    let path = fixtures_dir()
        .join("square")
        .join("catalog_object.input.json");
    let mut object: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    object["version"] = version.into();
    let variations = object["item_data"]["variations"]
        .as_array_mut()
        .expect("variations");
    for v in variations {
        v["version"] = version.into();
        if v["item_variation_data"]["name"] == "Large" {
            v["item_variation_data"]["price_money"]["amount"] = price.into();
        }
    }
    serde_json::to_vec(&object).expect("json")
}

fn signed_inventory_webhook() -> (String, String) {
    let path = fixtures_dir()
        .join("square")
        .join("webhook_signatures.json");
    let all: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let v = all
        .into_iter()
        .find(|v| v["name"] == "inventory_count_updated_signed")
        .expect("vector");
    (
        v["body"].as_str().expect("body").to_string(),
        v["signature"].as_str().expect("signature").to_string(),
    )
}

/// A temporary folder with an adapters folder holding these versions.
fn adapters_with(versions: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let adapters = dir.path().join("adapters");
    for v in versions {
        install(&adapters, v);
    }
    (dir, adapters)
}

/// A daemon serving the webhooks test shop with the Square adapter from
/// `adapters`, watched every second, and its sandbox.
async fn start(dir: &Path, adapters: &Path) -> (Arc<Daemon>, Served, String) {
    let sandbox = Served::start(sandbox_config(&[&format!("{SHOP}={SNAPACT_KEY}")])).await;
    let text = config_text(&dir.join("host.db"), &sandbox.url, "http://127.0.0.1:9").replace(
        &format!("dir = \"{}\"", test_adapters_dir().display()),
        &format!("dir = \"{}\"\nwatch = \"1s\"", adapters.display()),
    );
    assert!(text.contains("watch = \"1s\""), "{text}");
    let config =
        Config::from_toml(&text, "test.toml", &Overrides::default(), &env()).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let daemon = Daemon::start_with_clock(&config, listener, Arc::new(SystemClock))
        .await
        .expect("daemon starts");
    (Arc::new(daemon), sandbox, url)
}

/// Completes once the watcher has acted on a change made after this call.
fn next_reload(daemon: &Daemon) -> impl std::future::Future<Output = ()> + use<> {
    let mut scans = daemon.watcher.as_ref().expect("watching").scans();
    let seen = *scans.borrow_and_update();
    async move {
        tokio::time::timeout(Duration::from_secs(60), scans.wait_for(|n| *n > seen))
            .await
            .expect("the watcher acted on the change")
            .expect("the watcher runs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_swapped_in_under_traffic_with_no_failed_call_or_lost_change() {
    let (dir, adapters) = adapters_with(&["1.0.0"]);
    let (daemon, sandbox, url) = start(dir.path(), &adapters).await;
    let shop = Arc::clone(&daemon.shops[0]);
    assert_eq!(shop.adapter.current().version().to_string(), "1.0.0");

    // Steady POS webhooks through the adapter, from another task, until told
    // to stop: every one must be answered 200.
    let stop = Arc::new(AtomicBool::new(false));
    let webhooks_ok = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (stop, ok) = (Arc::clone(&stop), Arc::clone(&webhooks_ok));
        let (body, signature) = signed_inventory_webhook();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(format!("{url}/webhooks/pos/{SHOP}"))
                    .header("content-type", "application/json")
                    .header("x-square-hmacsha256-signature", &signature)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the host answers");
                assert_eq!(
                    r.status().as_u16(),
                    200,
                    "a webhook failed during the reload"
                );
                ok.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Imports through the shop's adapter, one price change each; the new
    // version arrives after the 10th and the imports go on until it serves
    // and 10 more have gone through it.
    let store = Arc::clone(&daemon.store);
    let mut price = 400;
    let mut after_swap = 0;
    let mut installed = false;
    let mut served_by = std::collections::BTreeSet::new();
    for i in 0..2_000u64 {
        price = 400 + i;
        let report = daemon::import(
            &store,
            &shop,
            &catalog_object(price, 1_700_000_000_000 + i),
            "application/json",
            |_, _| {},
        )
        .await
        .expect("no import fails during the reload");
        assert!(report.changes >= 1, "{report:?}");
        let version = shop.adapter.current().version().to_string();
        served_by.insert(version.clone());
        if i == 10 {
            install(&adapters, "1.1.0");
            installed = true;
        }
        if installed && version == "1.1.0" {
            after_swap += 1;
            if after_swap >= 10 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    sender
        .await
        .expect("the webhook sender ran without a failure");
    assert!(
        after_swap >= 10,
        "1.1.0 was swapped in (served by {served_by:?})"
    );
    assert_eq!(
        served_by.into_iter().collect::<Vec<_>>(),
        ["1.0.0", "1.1.0"],
        "calls went to both versions"
    );
    assert!(
        webhooks_ok.load(Ordering::Relaxed) > 0,
        "webhooks were sent"
    );
    assert!(
        captured_logs().contains("adapter reloaded"),
        "the swap is logged"
    );

    // No lost change: SnapAct ends up with the last price.
    wait_for("the last price at SnapAct", || {
        sandbox
            .sandbox
            .items(Some(SHOP))
            .iter()
            .any(|item| item["price_minor"] == price)
    })
    .await;

    // A broken package (garbage instead of a component) as 1.2.0: refused,
    // 1.1.0 keeps serving.
    let broken = install(&adapters, "1.2.0");
    std::fs::write(broken.join("adapter.wasm"), b"\0asm not really").expect("break it");
    let scans = daemon
        .watcher
        .as_ref()
        .expect("watching")
        .scans()
        .borrow()
        .to_owned();
    let mut watch = daemon.watcher.as_ref().expect("watching").scans();
    tokio::time::timeout(Duration::from_secs(60), watch.wait_for(|n| *n > scans))
        .await
        .expect("the watcher looked at the change")
        .expect("the watcher runs");
    assert_eq!(shop.adapter.current().version().to_string(), "1.1.0");
    let logs = captured_logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("refused") && l.contains("square@1.1.0 keeps serving")),
        "the refusal is logged"
    );
    daemon::import(
        &store,
        &shop,
        &catalog_object(price + 1, 1_800_000_000_000),
        "application/json",
        |_, _| {},
    )
    .await
    .expect("1.1.0 still maps");

    let daemon = Arc::into_inner(daemon).expect("only the test holds the daemon");
    daemon.shutdown().await.expect("clean shutdown");
    sandbox.stop().await;
}

/// A registry index entry for Square `version` (what `refresh` keeps in
/// `<adapters>/.registry/index.json`).
fn entry(version: &str, status: Status, replacement: Option<&str>) -> VersionEntry {
    VersionEntry {
        version: version.parse().expect("version"),
        wit: "snapact:adapter@0.1.0".into(),
        digest: String::new(),
        archive_digest: String::new(),
        size: 0,
        path: format!("packages/square/square-{version}.tar"),
        key_id: None,
        signature: None,
        vendor: "Square".into(),
        description: String::new(),
        capabilities: CapabilitySummary::default(),
        status,
        reason: (status != Status::Listed).then(|| "leaks the POS token".to_string()),
        replacement: replacement.map(|r| r.parse().expect("version")),
    }
}

fn save_index(adapters: &Path, versions: Vec<VersionEntry>) {
    let mut index = Index::default();
    index
        .adapters
        .insert("square".into(), AdapterEntry { versions });
    save_cached_index(adapters, &index).expect("save the index");
}

async fn pos_webhook(url: &str) -> u16 {
    let (body, signature) = signed_inventory_webhook();
    reqwest::Client::new()
        .post(format!("{url}/webhooks/pos/{SHOP}"))
        .header("content-type", "application/json")
        .header("x-square-hmacsha256-signature", signature)
        .body(body)
        .send()
        .await
        .expect("the host answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_version_is_replaced_or_stops_being_called() {
    let (dir, adapters) = adapters_with(&["1.0.0", "1.1.0"]);
    let (daemon, sandbox, url) = start(dir.path(), &adapters).await;
    let shop = Arc::clone(&daemon.shops[0]);
    assert_eq!(shop.adapter.current().version().to_string(), "1.1.0");

    // The registry revokes 1.1.0 and names 1.0.0: the running host moves
    // to 1.0.0 and says why.
    let reloaded = next_reload(&daemon);
    save_index(
        &adapters,
        vec![
            entry("1.0.0", Status::Listed, None),
            entry("1.1.0", Status::Revoked, Some("1.0.0")),
        ],
    );
    reloaded.await;
    assert_eq!(shop.adapter.current().version().to_string(), "1.0.0");
    assert!(shop.adapter.withdrawn().is_none());
    assert_eq!(pos_webhook(&url).await, 200);
    let logs = captured_logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("1.1.0") && l.contains("revoked") && l.contains("1.0.0")),
        "the operator is told: {logs}"
    );

    // Then 1.0.0 too, with nothing to move to: it stops being called
    // (webhooks 503 so the POS redelivers, imports fail saying why).
    let reloaded = next_reload(&daemon);
    save_index(
        &adapters,
        vec![
            entry("1.0.0", Status::Revoked, None),
            entry("1.1.0", Status::Revoked, None),
        ],
    );
    reloaded.await;
    let why = shop.adapter.withdrawn().expect("withdrawn");
    assert!(
        why.contains("square@1.0.0 is revoked by the registry"),
        "{why}"
    );
    assert_eq!(pos_webhook(&url).await, 503);
    let err = daemon::import(
        &daemon.store,
        &shop,
        &catalog_object(500, 1),
        "application/json",
        |_, _| {},
    )
    .await
    .expect_err("a revoked adapter is not called");
    assert!(format!("{err:#}").contains("was not called"), "{err:#}");

    // A fixed version arrives: it serves again.
    let reloaded = next_reload(&daemon);
    install(&adapters, "1.2.0");
    reloaded.await;
    assert_eq!(shop.adapter.current().version().to_string(), "1.2.0");
    assert!(shop.adapter.withdrawn().is_none());
    assert_eq!(pos_webhook(&url).await, 200);

    let daemon = Arc::into_inner(daemon).expect("only the test holds the daemon");
    daemon.shutdown().await.expect("clean shutdown");
    sandbox.stop().await;
}

/// `GET {url}/readyz` until `done(status, body)`, for up to a minute.
async fn readyz_until(url: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .expect("the host answers");
        let status = r.status().as_u16();
        let body = r.text().await.expect("a body");
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; /readyz answers {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The index `adapter refresh` (or `run`'s own refresh) keeps in the
/// adapters folder: square 1.0.0 revoked in favour of 1.1.0.
fn registry_revokes_1_0_0(adapters: &Path) {
    save_index(
        adapters,
        vec![
            entry("1.0.0", Status::Revoked, Some("1.1.0")),
            entry("1.1.0", Status::Listed, None),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_every_adapter_is_revoked_is_not_ready_until_a_replacement_is_installed() {
    let (dir, adapters) = adapters_with(&["1.0.0"]);
    let (daemon, sandbox, url) = start(dir.path(), &adapters).await;
    readyz_until(&url, |status, _| status == 200).await;

    // The registry revokes the only version installed: the shop stops
    // calling it, and the host is no longer ready, saying why and what to do.
    registry_revokes_1_0_0(&adapters);
    let (_, body) = readyz_until(&url, |status, _| status == 503).await;
    assert!(body.starts_with("not ready: no adapter may run"), "{body}");
    assert!(body.contains(&format!("shop {SHOP}")), "{body}");
    assert!(
        body.contains("square@1.0.0 is revoked by the registry: leaks the POS token"),
        "{body}"
    );
    assert!(
        body.contains("`snapact-host adapter install square@=1.1.0`"),
        "{body}"
    );

    // The replacement arrives: swapped in, ready again.
    install(&adapters, "1.1.0");
    readyz_until(&url, |status, _| status == 200).await;
    assert_eq!(
        daemon.shops[0].adapter.current().version().to_string(),
        "1.1.0"
    );
    assert!(daemon.shops[0].adapter.withdrawn().is_none());
    let daemon = Arc::into_inner(daemon).expect("only the test holds the daemon");
    daemon.shutdown().await.expect("clean shutdown");
    sandbox.stop().await;
}
