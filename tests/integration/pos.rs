//! Host-mediated POS HTTP end to end: a real adapter call through
//! `pos-http`, the shop's config, its `HttpPosTransport` and a fake POS on
//! 127.0.0.1. The adapter (the hostile test adapter) sends its own
//! credentials and tries a host it did not declare; the POS must see the
//! shop's credential and nothing the adapter tried.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use snapact_host::catalog::Change;
use snapact_host::config::{Config, Overrides};
use snapact_host::daemon;
use snapact_tests::{build_adapter, shared_runtime};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

const HOST_TOKEN: &str = "host-pos-token-e2e-4411";

/// (method, path and query, headers) of each request the fake POS got.
type Seen = Arc<Mutex<Vec<(String, String, HeaderMap)>>>;

async fn fake_pos() -> (u16, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .fallback(
            |State(seen): State<Seen>, req: axum::extract::Request| async move {
                seen.lock().expect("lock").push((
                    req.method().to_string(),
                    req.uri().to_string(),
                    req.headers().clone(),
                ));
                if req.uri().path().ends_with("/echo") {
                    // Reflects the credential it received, as some debug endpoints do.
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    return format!(r#"{{"you_sent":"{auth}"}}"#);
                }
                r#"{"ok":true}"#.to_string()
            },
        )
        .with_state(Arc::clone(&seen));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, seen)
}

/// The hostile package installed under `dir/hostile/`, its manifest
/// declaring the fake POS (whose port is only known now) and a deadline
/// generous enough for a loaded machine.
fn install_hostile(dir: &std::path::Path, port: u16) {
    let built = build_adapter("tests/adapters/hostile");
    let target = dir.join("hostile");
    std::fs::create_dir_all(&target).expect("create package dir");
    std::fs::copy(built.join("adapter.wasm"), target.join("adapter.wasm")).expect("copy wasm");
    let manifest = std::fs::read_to_string(built.join("adapter.toml")).expect("manifest");
    let manifest = manifest
        .replace(
            r#"http_hosts = ["pos.example.com"]"#,
            &format!(r#"http_hosts = ["pos.example.com", "127.0.0.1:{port}"]"#),
        )
        .replace("timeout_ms = 4000", "timeout_ms = 30000");
    assert!(
        manifest.contains(&format!("127.0.0.1:{port}")),
        "{manifest}"
    );
    std::fs::write(target.join("adapter.toml"), manifest).expect("write manifest");
}

fn observation(changes: &[Change], probe: &str) -> String {
    changes
        .iter()
        .find_map(|c| match c {
            Change::Upsert { item } if item.external_ref == probe => Some(item.name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no observation for {probe}: {changes:?}"))
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

#[tokio::test]
async fn the_pos_gets_the_shops_credential_and_never_the_adapters() {
    let (port, seen) = fake_pos().await;
    let adapters = tempfile::tempdir().expect("tempdir");
    install_hostile(adapters.path(), port);
    let toml = format!(
        r#"
[adapters]
dir = "{dir}"
require_signatures = false
[[shop]]
id = "lagos-main"
adapter = "hostile"
snapact_key = {{ env = "SNAPACT_KEY" }}
pos_base_url = "http://127.0.0.1:{port}/api"
allow_insecure_http = true
pos_auth = {{ bearer = {{ env = "POS_TOKEN" }} }}
pos_limits = {{ requests_per_sec = 50, burst = 5, concurrency = 2, timeout_ms = 20000 }}
settings = {{ currency = "NGN" }}
"#,
        dir = adapters.path().display()
    );
    let env = BTreeMap::from([
        ("SNAPACT_KEY".to_string(), "sk_test_e2e".to_string()),
        ("POS_TOKEN".to_string(), HOST_TOKEN.to_string()),
    ]);
    let config = Config::from_toml(&toml, "e2e.toml", &Overrides::default(), &env).expect("config");
    let shops = daemon::load_shops(&config, shared_runtime())
        .await
        .expect("load the shop");
    let shop = &shops[0];
    assert!(
        shop.pos.is_some(),
        "a shop with pos_base_url gets a transport"
    );

    let mapped = shop
        .adapter
        .current()
        .map_records(&shop.context(), b"pos-credentials", "text/plain")
        .await
        .expect("probes report");

    assert_eq!(
        observation(&mapped.changes, "allowed-get"),
        "OPEN: status 200"
    );
    assert_eq!(
        observation(&mapped.changes, "allowed-post"),
        "OPEN: status 200"
    );
    let undeclared = observation(&mapped.changes, "undeclared-host");
    assert!(
        undeclared.starts_with(
            "denied: host `evil.example` is not in the adapter's [capabilities] http_hosts"
        ),
        "{undeclared}"
    );

    let seen = seen.lock().expect("lock").clone();
    let requests: Vec<(&str, &str)> = seen
        .iter()
        .map(|(method, uri, _)| (method.as_str(), uri.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            ("GET", "/api/v2/catalog/list?page=1"),
            ("POST", "/api/v2/orders?page=1"),
        ],
        "only the allowed requests reached the POS"
    );
    for (method, _, headers) in &seen {
        assert_eq!(
            values(headers, "authorization"),
            [format!("Bearer {HOST_TOKEN}")],
            "{method}: the shop's credential, once"
        );
        for name in ["cookie", "x-api-key", "x-shopify-access-token"] {
            assert!(
                values(headers, name).is_empty(),
                "{method}: {name} reached the POS"
            );
        }
        assert_eq!(values(headers, "accept"), ["application/json"], "{method}");
    }
    // Nothing the adapter got back holds the host's credential.
    let returned = format!("{mapped:?}");
    assert!(!returned.contains(HOST_TOKEN), "{returned}");
}

#[tokio::test]
async fn no_import_reveals_a_secret_value_to_the_adapter() {
    const WEBHOOK_KEY: &str = "declared-webhook-key-value-61";
    let (port, _seen) = fake_pos().await;
    let adapters = tempfile::tempdir().expect("tempdir");
    install_hostile(adapters.path(), port);
    let toml = format!(
        r#"
[adapters]
dir = "{dir}"
require_signatures = false
[[shop]]
id = "lagos-main"
adapter = "hostile"
snapact_key = {{ env = "SNAPACT_KEY" }}
pos_base_url = "http://127.0.0.1:{port}/api"
allow_insecure_http = true
pos_auth = {{ bearer = {{ env = "POS_TOKEN" }} }}
secrets = {{ webhook_key = {{ env = "WH" }} }}
settings = {{ currency = "NGN" }}
"#,
        dir = adapters.path().display()
    );
    let env = BTreeMap::from([
        ("SNAPACT_KEY".to_string(), "sk_test_e2e".to_string()),
        ("POS_TOKEN".to_string(), HOST_TOKEN.to_string()),
        ("WH".to_string(), WEBHOOK_KEY.to_string()),
    ]);
    let config = Config::from_toml(&toml, "e2e.toml", &Overrides::default(), &env).expect("config");
    let shops = daemon::load_shops(&config, shared_runtime())
        .await
        .expect("load the shop");
    let mapped = shops[0]
        .adapter
        .current()
        .map_records(&shops[0].context(), b"learn-secrets", "text/plain")
        .await
        .expect("probes report");
    for name in [
        "settings-webhook_key",
        "settings-admin_password",
        "settings-pos_auth",
    ] {
        assert_eq!(observation(&mapped.changes, name), "none", "{name}");
    }
    assert_eq!(observation(&mapped.changes, "secret-equals"), "false");
    let echo = observation(&mapped.changes, "echo");
    assert_eq!(echo, r#"{"you_sent":"Bearer [redacted]"}"#);
    let everything = format!("{mapped:?}");
    for secret in [HOST_TOKEN, WEBHOOK_KEY, "sk_test_e2e"] {
        assert!(!everything.contains(secret), "{everything}");
    }
}
