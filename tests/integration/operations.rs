//! The operator's surface of a running host: `/metrics` after real
//! deliveries, refused webhooks and a refused key; `/healthz` and `/readyz`
//! (including while another process holds the store's write lock);
//! `snapact-host status` run as its own process against the live store; and
//! JSON log lines of a real `run` process carrying `shop` and `adapter`.
//! None of it may show a secret.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use snapact_host::config::{Config, Overrides};
use snapact_host::daemon::{self, Daemon};
use snapact_host::outbox::{Store, SystemClock};
use snapact_host::snapact::signing;
use snapact_tests::catalogs::square_catalog;
use snapact_tests::processes::{log_tail, wait_for};
use snapact_tests::{
    assert_holds_no_secret, assert_logs_hold_no_secret, build_adapter, capture_logs,
    test_adapters_dir,
};

use crate::pipeline::support::{Served, sandbox_config};
use crate::webhooks::square_vector;

const BIN: &str = env!("CARGO_BIN_EXE_snapact-host-under-test");
const GOOD: &str = "ops-good";
const BAD: &str = "ops-bad";
const GOOD_KEY: &str = "sk_test_ops_good_51c0";
/// A key the sandbox does not accept: SnapAct answers 401.
const WRONG_KEY: &str = "sk_test_ops_revoked_7e2a";
const WEBHOOK_SECRET: &str = "whsec_ops_3b9f";
const POS_TOKEN: &str = "EAAAl-ops-pos-token-0d4c";
const SIGNATURE_KEY: &str = "ops-square-signature-key-88aa";
const SECRETS: &[&str] = &[
    GOOD_KEY,
    WRONG_KEY,
    WEBHOOK_SECRET,
    POS_TOKEN,
    SIGNATURE_KEY,
];
/// Items in each shop's catalog.
const N: usize = 25;
const PATIENCE: Duration = Duration::from_secs(120);

fn env() -> BTreeMap<String, String> {
    [
        ("OPS_GOOD_KEY", GOOD_KEY),
        ("OPS_WRONG_KEY", WRONG_KEY),
        ("OPS_WH", WEBHOOK_SECRET),
        ("OPS_POS", POS_TOKEN),
        ("OPS_SIG", SIGNATURE_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn shop_toml(id: &str, key_env: &str) -> String {
    format!(
        r#"
[[shop]]
id = "{id}"
adapter = "square"
snapact_key = {{ env = "{key_env}" }}
webhook_secret = {{ env = "OPS_WH" }}
pos_base_url = "http://127.0.0.1:9"
allow_insecure_http = true
pos_auth = {{ bearer = {{ env = "OPS_POS" }} }}
secrets = {{ webhook_signature_key = {{ env = "OPS_SIG" }} }}
settings = {{ location_id = "L1", currency = "NGN" }}
"#
    )
}

fn config_text(dir: &Path, snapact_url: &str, shops: &[(&str, &str)]) -> String {
    let adapters = test_adapters_dir();
    let mut text = format!(
        r#"
[snapact]
base_url = "{snapact_url}"

[store]
path = "{store}"

[server]
listen = "127.0.0.1:0"
public_url = "https://connector.example.ng"

[adapters]
dir = "{adapters}"
# The test build is unsigned; signatures have their own tests (registry::).
require_signatures = false
cache_dir = "{cache}"

[relay]
backoff_base_ms = 10
backoff_cap_ms = 200
"#,
        store = dir.join("host.db").display(),
        adapters = adapters.display(),
        cache = adapters.join(".cache").display(),
    );
    for (id, key_env) in shops {
        text.push_str(&shop_toml(id, key_env));
    }
    text
}

/// The value of the sample `name{labels}` (labels in the family's order).
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let key = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    };
    metrics.lines().find_map(|l| {
        l.strip_prefix(key.as_str())?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

fn of(shop: &str) -> [(&str, &str); 2] {
    [("shop", shop), ("adapter", "square")]
}

fn with<'a>(shop: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = of(shop).to_vec();
    labels.extend_from_slice(extra);
    labels
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let r = http.get(url).send().await.expect("the host answers");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, content_type, r.text().await.expect("a body"))
}

/// `snapact-host status --config CONFIG [extra]` as its own process.
async fn status(config: &Path, extra: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .arg("status")
        .arg("--config")
        .arg(config)
        .args(extra)
        .envs(env())
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("status runs")
}

#[tokio::test]
async fn metrics_readiness_and_status_show_what_the_host_did() {
    capture_logs();
    tokio::task::spawn_blocking(|| build_adapter("adapters/square"))
        .await
        .expect("adapter build task");
    let sandbox = Served::start(sandbox_config(&[&format!("{GOOD}={GOOD_KEY}")])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(
        dir.path(),
        &sandbox.url,
        &[(GOOD, "OPS_GOOD_KEY"), (BAD, "OPS_WRONG_KEY")],
    );
    let config_path = dir.path().join("snapact.toml");
    std::fs::write(&config_path, &text).expect("write the config");
    let config =
        Config::from_toml(&text, "ops.toml", &Overrides::default(), &env()).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let daemon = Daemon::start_with_clock(&config, listener, Arc::new(SystemClock))
        .await
        .expect("daemon starts");
    let http = reqwest::Client::new();

    // Before anything happened: live, ready, every shop's counters at zero.
    assert_eq!(get(&http, &format!("{url}/healthz")).await.0, 200);
    let (code, _, body) = get(&http, &format!("{url}/readyz")).await;
    assert_eq!((code, body.as_str()), (200, "ready"));
    let (_, _, before) = get(&http, &format!("{url}/metrics")).await;
    assert_eq!(
        sample(
            &before,
            "snapact_deliveries_total",
            &with(GOOD, &[("result", "upserted")])
        ),
        Some(0.0),
        "{before}"
    );

    // Both shops import N items; the good one delivers them, the bad one's
    // key is refused and it pauses.
    let catalog = square_catalog(N, 1);
    for shop in &daemon.shops {
        daemon::import(&daemon.store, shop, &catalog, "application/json", |_, _| {})
            .await
            .expect("import");
        daemon.relays.notify(&shop.config.id);
    }
    let store = Arc::clone(&daemon.store);
    wait_for(
        "delivery to settle",
        PATIENCE,
        Duration::from_millis(50),
        || {
            let store = Arc::clone(&store);
            async move {
                let good = store.status(Some(GOOD)).await?;
                let bad = store.status(Some(BAD)).await?;
                let done = good.first().is_some_and(|s| s.pending == 0)
                    && bad.first().is_some_and(|s| s.paused.is_some());
                Ok(done.then_some(()))
            }
        },
    )
    .await
    .expect("the good shop delivers and the bad one pauses");

    // A forged SnapAct webhook, a Square webhook with a wrong signature,
    // and a webhook for a shop this host does not serve.
    let t = signing::unix_seconds(std::time::SystemTime::now());
    let forged = http
        .post(format!("{url}/webhooks/snapact/{GOOD}"))
        .header(signing::TIMESTAMP_HEADER, t.to_string())
        .header(signing::SIGNATURE_HEADER, format!("v1={}", "ab".repeat(32)))
        .body(r#"{"id":"evt_1","type":"order.paid","created_at":"2026-11-27T10:00:00Z","data":{}}"#)
        .send()
        .await
        .expect("test setup");
    assert_eq!(forged.status().as_u16(), 401);
    let vector = square_vector("inventory_count_updated_signed");
    let pos = http
        .post(format!("{url}/webhooks/pos/{GOOD}"))
        .header("content-type", "application/json")
        .header("x-square-hmacsha256-signature", "AAAA")
        .body(vector["body"].as_str().expect("test setup").to_owned())
        .send()
        .await
        .expect("test setup");
    assert_eq!(pos.status().as_u16(), 401);
    let stranger = http
        .post(format!("{url}/webhooks/snapact/nobody"))
        .body("{}")
        .send()
        .await
        .expect("test setup");
    assert_eq!(stranger.status().as_u16(), 401);

    let (code, content_type, metrics) = get(&http, &format!("{url}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{content_type:?}"
    );
    let n = N as f64;
    let expect = [
        // What the relays did.
        (
            "snapact_deliveries_total",
            with(GOOD, &[("result", "upserted")]),
            n,
        ),
        (
            "snapact_deliveries_total",
            with(GOOD, &[("result", "retry")]),
            0.0,
        ),
        (
            "snapact_deliveries_total",
            with(BAD, &[("result", "upserted")]),
            0.0,
        ),
        // A refused key leaves the changes due as they were: not a retry
        // of theirs, a failed request and a paused shop.
        (
            "snapact_deliveries_total",
            with(BAD, &[("result", "retry")]),
            0.0,
        ),
        (
            "snapact_delivery_request_failures_total",
            with(BAD, &[("reason", "unauthorized")]),
            1.0,
        ),
        // What the store holds now.
        ("snapact_outbox_pending", with(GOOD, &[]), 0.0),
        ("snapact_outbox_pending", with(BAD, &[]), n),
        ("snapact_outbox_parked", with(GOOD, &[]), 0.0),
        ("snapact_shop_paused", with(GOOD, &[]), 0.0),
        ("snapact_shop_paused", with(BAD, &[]), 1.0),
        (
            "snapact_outbox_oldest_pending_age_seconds",
            with(GOOD, &[]),
            0.0,
        ),
        ("snapact_store_up", vec![], 1.0),
        // What the adapter did.
        (
            "snapact_changes_mapped_total",
            with(GOOD, &[("op", "upsert")]),
            n,
        ),
        (
            "snapact_adapter_call_duration_seconds_count",
            with(GOOD, &[("function", "map-records")]),
            1.0,
        ),
        (
            "snapact_adapter_call_duration_seconds_count",
            with(GOOD, &[("function", "handle-webhook")]),
            1.0,
        ),
        (
            "snapact_adapter_errors_total",
            with(
                GOOD,
                &[("function", "handle-webhook"), ("kind", "unauthenticated")],
            ),
            1.0,
        ),
        // The refused webhooks.
        (
            "snapact_webhook_verification_failures_total",
            with(GOOD, &[("source", "snapact")]),
            1.0,
        ),
        (
            "snapact_webhook_verification_failures_total",
            with(GOOD, &[("source", "pos")]),
            1.0,
        ),
        (
            "snapact_webhook_verification_failures_total",
            with(BAD, &[("source", "snapact")]),
            0.0,
        ),
        (
            "snapact_webhook_unknown_shop_total",
            vec![("source", "snapact")],
            1.0,
        ),
    ];
    for (name, labels, want) in &expect {
        assert_eq!(
            sample(&metrics, name, labels),
            Some(*want),
            "{name}{labels:?}\n{metrics}"
        );
    }
    let version = daemon.shops[0].adapter.current().version().to_string();
    assert_eq!(
        sample(
            &metrics,
            "snapact_adapter_info",
            &with(GOOD, &[("version", &version)])
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "snapact_last_success_timestamp_seconds",
            &with(GOOD, &[])
        )
        .is_some_and(|t| t > 1.7e9),
        "{metrics}"
    );
    assert!(
        !metrics.contains("snapact_last_success_timestamp_seconds{shop=\"ops-bad\""),
        "the bad shop never delivered:\n{metrics}"
    );
    assert!(metrics.contains("snapact_host_build_info{version=\""));
    assert!(!metrics.contains("nobody"), "caller text became a label");
    assert_holds_no_secret("/metrics", &metrics, SECRETS);

    // `status`, a separate process reading the live store.
    let out = status(&config_path, &["--json"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "a paused shop needs an operator\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("status --json is JSON");
    let rows = report["shops"].as_array().expect("shops");
    assert_eq!(rows.len(), 2, "{report}");
    let good = &rows[0];
    assert_eq!(good["shop"], GOOD);
    assert_eq!(good["adapter"], "square");
    assert_eq!(good["adapter_version"], version.as_str());
    assert_eq!(good["state"], "ok", "{good}");
    assert_eq!(good["pending"], 0);
    assert_eq!(good["parked"], 0);
    assert_eq!(good["lag_secs"], 0);
    assert_eq!(good["paused"], false);
    assert!(good["last_success_at"].as_str().is_some(), "{good}");
    assert_eq!(
        (
            good["orders_pending"].as_u64(),
            good["orders_parked"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let bad = &rows[1];
    assert_eq!(bad["shop"], BAD);
    assert_eq!(bad["state"], "paused", "{bad}");
    assert_eq!(bad["paused"], true);
    assert!(
        bad["paused_reason"]
            .as_str()
            .is_some_and(|r| r.contains("HTTP 401") && r.contains("snapact_key")),
        "{bad}"
    );
    assert_eq!(bad["pending"], N);
    assert!(bad["last_success_at"].is_null(), "{bad}");
    assert_eq!(report["store_found"], true);
    assert_holds_no_secret("status --json", &format!("{stdout}{stderr}"), SECRETS);

    let out = status(&config_path, &[]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{table}");
    let line = |shop: &str| {
        table
            .lines()
            .find(|l| l.starts_with(shop))
            .unwrap_or_else(|| panic!("no line for {shop}:\n{table}"))
            .to_owned()
    };
    assert!(line(GOOD).contains(" OK "), "{table}");
    assert!(line(BAD).contains(" PAUSED "), "{table}");
    assert!(table.contains("ops-bad PAUSED: SnapAct refused"), "{table}");
    assert_holds_no_secret(
        "status",
        &format!("{table}{}", String::from_utf8_lossy(&out.stderr)),
        SECRETS,
    );

    // Another process holds the store's write lock: not ready, and says why.
    let holder = rusqlite::Connection::open(dir.path().join("host.db")).expect("open the store");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let (code, _, body) = get(&http, &format!("{url}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("the store is unavailable"), "{body}");
    assert_eq!(
        get(&http, &format!("{url}/healthz")).await.0,
        200,
        "liveness does not depend on the store"
    );
    holder.execute_batch("ROLLBACK").expect("release the lock");
    drop(holder);
    let ready = wait_for("ready again", PATIENCE, Duration::from_millis(100), || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let (code, _, _) = get(&http, &format!("{url}/readyz")).await;
            Ok((code == 200).then_some(code))
        }
    })
    .await;
    assert_eq!(ready.expect("ready once the lock is released"), 200);

    daemon.shutdown().await.expect("clean shutdown");
    sandbox.stop().await;
    assert_logs_hold_no_secret(SECRETS);
}

#[tokio::test]
async fn a_host_without_shops_is_live_but_not_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(dir.path(), "http://127.0.0.1:9", &[]);
    let config =
        Config::from_toml(&text, "ops.toml", &Overrides::default(), &env()).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let daemon = Daemon::start(&config, listener).await.expect("starts");
    let http = reqwest::Client::new();
    assert_eq!(get(&http, &format!("{url}/healthz")).await.0, 200);
    let (code, _, body) = get(&http, &format!("{url}/readyz")).await;
    assert_eq!(code, 503);
    assert!(body.contains("no adapter loaded"), "{body}");
    daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn json_log_lines_of_a_running_host_carry_shop_and_adapter() {
    tokio::task::spawn_blocking(|| build_adapter("adapters/square"))
        .await
        .expect("adapter build task");
    let sandbox = Served::start(sandbox_config(&[&format!("{GOOD}={GOOD_KEY}")])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("snapact.toml");
    // The shop also polls its POS, which does not answer: the poller's and
    // the POS client's lines (inside the adapter's call) are checked too.
    let mut text = config_text(dir.path(), &sandbox.url, &[(GOOD, "OPS_GOOD_KEY")]);
    text.push_str("poll = { every = \"1h\" }\n");
    std::fs::write(&config_path, text).expect("write the config");
    let catalog = dir.path().join("catalog.json");
    std::fs::write(&catalog, square_catalog(N, 1)).expect("write the catalog");
    let log_path = dir.path().join("run.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut run = tokio::process::Command::new(BIN)
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config_path)
        .envs(env())
        .env("RUST_LOG", "info,snapact_host=debug")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("run starts");
    let import = tokio::process::Command::new(BIN)
        .args(["import", "--shop", GOOD, "--config"])
        .arg(&config_path)
        .arg(&catalog)
        .envs(env())
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("import runs");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let delivered = wait_for(
        "the import delivered",
        PATIENCE,
        Duration::from_millis(100),
        || {
            let stored = sandbox.sandbox.items(Some(GOOD)).len();
            async move { Ok((stored == N).then_some(stored)) }
        },
    )
    .await;
    let delivered = delivered.unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log_path, 40)));
    assert_eq!(delivered, N);
    // The relay logs its recorded round at debug level; the poller its failure.
    let lines = wait_for(
        "the round's log line",
        PATIENCE,
        Duration::from_millis(100),
        || {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            async move {
                Ok(
                    (text.contains("round recorded") && text.contains("poll failed"))
                        .then_some(text),
                )
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log_path, 40)));
    let _ = run.start_kill();
    let _ = run.wait().await;

    let parsed: Vec<Value> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let find = |message: &str| {
        parsed
            .iter()
            .find(|l| l["message"].as_str().is_some_and(|m| m.contains(message)))
            .unwrap_or_else(|| panic!("no line {message:?} in\n{lines}"))
    };
    for message in [
        "relay started",
        "round recorded",
        "polling started",
        "POS request failed",
        "poll failed",
    ] {
        let line = find(message);
        assert_eq!(line["shop"], GOOD, "{line}");
        assert_eq!(line["adapter"], "square", "{line}");
    }
    assert_eq!(find("round recorded")["upserted"], N, "{lines}");
    // Every line about a shop says which adapter it runs.
    for line in &parsed {
        if line.get("shop").is_some() {
            assert_eq!(line["adapter"], "square", "{line}");
        }
    }
    assert_holds_no_secret("the run log", &lines, SECRETS);
    sandbox.stop().await;
}
