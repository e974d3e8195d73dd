//! Golden fixtures and Shopify's webhook HMAC vectors, natively.
//!
//! Every `NAME.input.json` in `tests/fixtures/shopify/` is mapped with its
//! `NAME.settings.json` and must give exactly `NAME.expected.json` (the
//! `snapact-host adapter map` form). `SNAPACT_BLESS=1` rewrites the expected
//! files; check every value by hand before committing them.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use snapact_adapter_sdk::json;
use snapact_adapter_sdk::testing::changes_to_json;
use snapact_adapter_shopify::catalog::map_document;
use snapact_adapter_shopify::config::Settings;
use snapact_adapter_shopify::webhook;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/shopify")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn settings_for(path: &Path) -> Settings {
    let flat: HashMap<String, String> = match read_json(path) {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => panic!(
                    "{}: setting {k} must be a string, got {other}",
                    path.display()
                ),
            })
            .collect(),
        other => panic!("{}: expected a flat object, got {other}", path.display()),
    };
    Settings::from_lookup(|k| flat.get(k).cloned())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

#[test]
fn every_golden_fixture_maps_to_its_expected_changes() {
    let dir = fixtures_dir();
    let bless = std::env::var_os("SNAPACT_BLESS").is_some();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("fixture dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".input.json").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 7,
        "expected the Shopify fixtures, found {names:?}"
    );
    for name in &names {
        let input = fs::read(dir.join(format!("{name}.input.json"))).expect("input");
        let settings = settings_for(&dir.join(format!("{name}.settings.json")));
        let doc = json::parse(&input).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mapped = map_document(&doc, &settings).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            mapped.rejected.is_empty(),
            "{name}: unexpected rejections {:?}",
            mapped.rejected
        );
        let got = changes_to_json(&mapped.changes);
        let expected_path = dir.join(format!("{name}.expected.json"));
        if bless {
            let text = serde_json::to_string_pretty(&got).expect("render") + "\n";
            fs::write(&expected_path, text).expect("write expected");
            continue;
        }
        let expected = read_json(&expected_path);
        assert_eq!(
            got,
            expected,
            "{name}: mapped changes differ from {}",
            expected_path.display()
        );
    }
}

#[test]
fn every_fixture_is_named_in_sources() {
    let dir = fixtures_dir();
    let sources = fs::read_to_string(dir.join("SOURCES.md")).expect("SOURCES.md");
    for entry in fs::read_dir(&dir).expect("dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf8");
        if name.ends_with(".input.json") || name == "webhook-vectors.json" {
            assert!(sources.contains(&name), "SOURCES.md does not name {name}");
        }
    }
}

fn base64_hmac(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[test]
fn shopify_library_hmac_vectors_verify_with_our_message_and_header() {
    let vectors = read_json(&fixtures_dir().join("webhook-vectors.json"));
    let vectors = vectors.as_array().expect("array");
    assert!(vectors.len() >= 5);
    for v in vectors {
        let name = v["name"].as_str().expect("name");
        let body = v["body"].as_str().expect("body").as_bytes();
        let secret = v["secret"].as_str().expect("secret");
        // The host hands the adapter lower-cased header names.
        let headers = vec![
            (
                v["header_name"]
                    .as_str()
                    .expect("header_name")
                    .to_ascii_lowercase(),
                v["header_value"]
                    .as_str()
                    .expect("header_value")
                    .to_string(),
            ),
            ("x-shopify-topic".to_string(), "products/create".to_string()),
        ];
        let signature = webhook::signature(&headers).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let computed = base64_hmac(secret, webhook::signed_message(body));
        assert_eq!(
            computed == signature,
            v["valid"].as_bool().expect("valid"),
            "{name}: computed {computed}, header {signature:?}"
        );
    }
}
