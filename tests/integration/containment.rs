//! A hostile adapter is contained: every escape attempt is stopped within
//! its limit with a typed error naming adapter, version, function and cause,
//! and the next call to a well-behaved adapter succeeds.

use secrecy::SecretString;
use snapact_host::catalog::{Change, Mapped};
use snapact_host::runtime::{
    AdapterError, CallError, Function, LoadedAdapter, Runtime, RuntimeConfig, ShopContext,
    TrapCause,
};
use snapact_tests::{RecordingPos, hostile_package};
use std::sync::{Arc, OnceLock};

/// The host's output cap in these tests; the hostile `big-output` mode
/// returns 100 MB, well above it, while its memory limit lets it build that.
const OUTPUT_LIMIT: usize = 8 * 1024 * 1024;

fn hostile() -> Arc<LoadedAdapter> {
    static ADAPTER: OnceLock<Arc<LoadedAdapter>> = OnceLock::new();
    ADAPTER
        .get_or_init(|| {
            let runtime = Runtime::new(RuntimeConfig {
                max_output_bytes: OUTPUT_LIMIT,
                ..RuntimeConfig::default()
            })
            .expect("runtime");
            runtime
                .load(&hostile_package())
                .expect("load hostile adapter")
        })
        .clone()
}

/// Secret values the hostile adapter must never learn (and the host never log).
pub const DECLARED_SECRET: &str = "declared-secret-value-5e1f";
/// A secret the hostile adapter's manifest does not declare.
pub const UNDECLARED_SECRET: &str = "undeclared-secret-value-a93c";

fn shop() -> ShopContext {
    let mut ctx = ShopContext::new("test-shop");
    ctx.settings.insert("currency".into(), "NGN".into());
    ctx.secrets
        .insert("webhook_key".into(), SecretString::from(DECLARED_SECRET));
    ctx.secrets.insert(
        "admin_password".into(),
        SecretString::from(UNDECLARED_SECRET),
    );
    ctx
}

async fn map(adapter: &LoadedAdapter, ctx: &ShopContext, mode: &str) -> Result<Mapped, CallError> {
    adapter
        .map_records(ctx, mode.as_bytes(), "text/plain")
        .await
}

/// The well-behaved call every hostile test makes afterwards.
async fn assert_good_call_succeeds(adapter: &LoadedAdapter) {
    let mapped = map(adapter, &shop(), "good")
        .await
        .expect("the good call succeeds");
    assert_eq!(mapped.changes.len(), 1);
    let json = serde_json::to_value(&mapped.changes[0]).expect("serializes");
    assert_eq!(json["item"]["external_ref"], "good-1");
    assert_eq!(json["item"]["price_minor"], 150_000);
    assert_eq!(json["item"]["currency"], "NGN");
}

/// The trap cause, after checking the error names adapter, version and
/// function and prints as one line.
fn trap_cause(result: Result<Mapped, CallError>) -> (TrapCause, String) {
    let err = result.expect_err("the hostile call must fail");
    let shown = err.to_string();
    assert!(!shown.contains('\n'), "one line: {shown}");
    match err {
        CallError::Trap {
            adapter,
            version,
            function,
            cause,
        } => {
            assert_eq!(adapter, "hostile");
            assert_eq!(version.to_string(), "0.1.0");
            assert_eq!(function, Function::MapRecords);
            (cause, shown)
        }
        other => panic!("expected a trap, got {other}"),
    }
}

/// Probe observations by probe name.
fn observations(mapped: &Mapped) -> Vec<(String, String)> {
    mapped
        .changes
        .iter()
        .map(|c| match c {
            Change::Upsert { item } => (item.external_ref.clone(), item.name.clone()),
            other => panic!("unexpected change {other:?}"),
        })
        .collect()
}

fn observation(mapped: &Mapped, probe: &str) -> String {
    observations(mapped)
        .into_iter()
        .find(|(name, _)| name == probe)
        .map(|(_, seen)| seen)
        .unwrap_or_else(|| panic!("no observation for {probe}"))
}

#[tokio::test]
async fn good_mode_maps() {
    assert_good_call_succeeds(&hostile()).await;
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline() {
    let adapter = hostile();
    let (cause, shown) = trap_cause(map(&adapter, &shop(), "loop").await);
    assert_eq!(cause, TrapCause::Deadline { timeout_ms: 4000 });
    assert!(
        shown.starts_with(
            "adapter hostile@0.1.0 map-records was stopped: it ran past its 4000 ms deadline"
        ),
        "{shown}"
    );
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit() {
    let adapter = hostile();
    let (cause, shown) = trap_cause(map(&adapter, &shop(), "alloc").await);
    assert_eq!(cause, TrapCause::Memory { limit_mb: 192 });
    assert!(
        shown.contains("more than its 192 MB memory limit"),
        "{shown}"
    );
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn panic_is_reported_with_its_message() {
    let adapter = hostile();
    let (cause, shown) = trap_cause(map(&adapter, &shop(), "panic").await);
    match cause {
        TrapCause::Panic(message) => {
            assert!(
                message.contains("hostile adapter panics on purpose"),
                "{message}"
            )
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(
        shown.contains("report this to the adapter's vendor"),
        "{shown}"
    );
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn oversized_result_hits_the_output_cap() {
    let adapter = hostile();
    let (cause, shown) = trap_cause(map(&adapter, &shop(), "big-output").await);
    match cause {
        TrapCause::OutputTooLarge { bytes, limit } => {
            assert!(bytes > 100 * 1024 * 1024, "{bytes}");
            assert_eq!(limit, OUTPUT_LIMIT);
        }
        other => panic!("expected output too large, got {other:?}"),
    }
    assert!(shown.contains("output limit"), "{shown}");
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn sockets_and_name_lookups_are_denied() {
    let adapter = hostile();
    let mapped = map(&adapter, &shop(), "socket")
        .await
        .expect("probes report");
    for probe in ["tcp", "dns", "udp"] {
        let seen = observation(&mapped, probe);
        assert!(seen.starts_with("denied:"), "{probe}: {seen}");
    }
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn files_are_invisible() {
    let adapter = hostile();
    let mapped = map(&adapter, &shop(), "file").await.expect("probes report");
    for probe in ["passwd", "root-dir", "create"] {
        let seen = observation(&mapped, probe);
        assert!(seen.starts_with("denied:"), "{probe}: {seen}");
    }
    assert!(!std::path::Path::new("planted.txt").exists());
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn environment_and_arguments_are_empty() {
    // SAFETY-free way to make sure there is something to leak: the test
    // process always has PATH or CARGO set.
    assert!(std::env::vars().count() > 0);
    let adapter = hostile();
    let mapped = map(&adapter, &shop(), "env").await.expect("probes report");
    assert_eq!(observation(&mapped, "env"), "0 vars: ");
    assert_eq!(observation(&mapped, "args"), "0 args: ");
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn pos_http_refuses_escapes_and_strips_credentials() {
    let adapter = hostile();
    let pos = RecordingPos::new();
    let mut ctx = shop();
    ctx.pos_base_url = Some("https://pos.example.com".into());
    ctx.pos = Some(pos.clone());
    let mapped = map(&adapter, &ctx, "http").await.expect("probes report");
    for probe in [
        "scheme",
        "authority",
        "dotdot",
        "encoded-dotdot",
        "relative",
    ] {
        let seen = observation(&mapped, probe);
        assert!(seen.starts_with("denied:"), "{probe}: {seen}");
    }
    assert_eq!(observation(&mapped, "allowed"), "OPEN: status 200");
    let seen = pos.seen();
    assert_eq!(seen.len(), 1, "only the allowed request went out");
    assert_eq!(
        seen[0].url.as_str(),
        "https://pos.example.com/v2/catalog/list"
    );
    let headers: Vec<&str> = seen[0].headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(headers, ["accept"], "credential headers stripped");
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn pos_http_refuses_a_shop_base_url_outside_the_allowlist() {
    let adapter = hostile();
    let pos = RecordingPos::new();
    let mut ctx = shop();
    ctx.pos_base_url = Some("https://evil.example".into());
    ctx.pos = Some(pos.clone());
    let mapped = map(&adapter, &ctx, "http").await.expect("probes report");
    assert_eq!(
        observation(&mapped, "allowed"),
        "denied: host `evil.example` is not in the adapter's [capabilities] http_hosts (pos.example.com)"
    );
    assert!(pos.seen().is_empty(), "nothing went out");

    // A shop without a POS connection: allowed paths are not-configured.
    let mut ctx = shop();
    ctx.pos_base_url = Some("https://pos.example.com".into());
    let mapped = map(&adapter, &ctx, "http").await.expect("probes report");
    assert!(
        observation(&mapped, "allowed").starts_with("not-configured:"),
        "{mapped:?}"
    );
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn undeclared_secret_is_refused() {
    let adapter = hostile();
    let err = map(&adapter, &shop(), "secret").await.expect_err("refused");
    assert_eq!(
        err.adapter_error(),
        Some(&AdapterError::NotConfigured(
            "secret `admin_password` is not declared in adapter.toml [capabilities] secrets".into()
        ))
    );
    assert_eq!(
        err.to_string(),
        "adapter hostile@0.1.0 map-records: not configured: secret `admin_password` is not declared in adapter.toml [capabilities] secrets"
    );
    assert_good_call_succeeds(&adapter).await;
}

#[tokio::test]
async fn many_shops_at_once_do_not_interfere() {
    let adapter = hostile();
    let mut calls = Vec::new();
    for i in 0..16 {
        let adapter = adapter.clone();
        calls.push(tokio::spawn(async move {
            let mode = if i % 4 == 0 { "panic" } else { "good" };
            (mode, map(&adapter, &shop(), mode).await)
        }));
    }
    for call in calls {
        let (mode, result) = call.await.expect("task");
        match mode {
            "good" => assert_eq!(result.expect("good").changes.len(), 1),
            _ => assert!(matches!(
                result.expect_err("panics").trap_cause(),
                Some(TrapCause::Panic(_))
            )),
        }
    }
}
