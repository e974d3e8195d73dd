//! The conformance suite every adapter under `adapters/` must pass, whatever
//! its language: golden fixtures, typed errors for malformed input, no trap
//! on random input, determinism, no floats in money, and scale within the
//! adapter's own default limits.
//!
//! Each check is a function of one [`Subject`], so an adapter built
//! elsewhere (`adapter new`'s output, in `scaffold.rs`) runs the same checks
//! through [`check_all`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use snapact_host::catalog::Mapped;
use snapact_host::cli::fixtures;
use snapact_host::registry::Package;
use snapact_host::runtime::{AdapterError, CallError, LoadedAdapter, Runtime, ShopContext};
use snapact_tests::{adapter_dirs, block_on, load_adapter, workspace_root};

fn ctx(settings: BTreeMap<String, String>) -> ShopContext {
    let mut ctx = ShopContext::new("conformance");
    ctx.settings = settings;
    ctx
}

/// An adapter under test: loaded, with its source folder and golden fixtures.
pub struct Subject {
    /// The adapter id.
    pub id: String,
    /// The loaded package.
    pub adapter: Arc<LoadedAdapter>,
    /// The source folder (scanned for floating point).
    pub source: PathBuf,
    /// The golden fixture folder.
    pub fixtures: PathBuf,
    /// Fixture names (`NAME` of `NAME.input.json`), sorted.
    pub names: Vec<String>,
}

impl Subject {
    /// A subject for `adapter`, built from `source`. Its fixtures are in
    /// `tests/fixtures/<id>`, else in the adapter's own `fixtures/` (where
    /// `adapter new` puts them).
    pub fn new(adapter: Arc<LoadedAdapter>, source: &Path) -> Subject {
        let id = adapter.id().to_string();
        let shared = workspace_root().join("tests/fixtures").join(&id);
        let fixtures = if shared.is_dir() {
            shared
        } else {
            source.join("fixtures")
        };
        let names = fixtures::names(&fixtures).unwrap_or_default();
        Subject {
            id,
            adapter,
            source: source.to_path_buf(),
            fixtures,
            names,
        }
    }

    /// Load `package` (built from `source`) into `runtime`.
    pub fn load(runtime: &Runtime, package: &Package, source: &Path) -> Subject {
        let adapter = runtime
            .load(package)
            .unwrap_or_else(|e| panic!("loading {}: {e}", package.dir().display()));
        Subject::new(adapter, source)
    }
}

/// Every check of the suite, on one adapter.
pub fn check_all(s: &Subject) {
    golden_fixtures(s);
    malformed_input(s);
    deterministic(s);
    let floats = floating_point_lines(&s.source);
    assert!(
        floats.is_empty(),
        "{}: floating point in adapter code (money must be exact):\n{}",
        s.id,
        floats.join("\n")
    );
    maps_10000_records(s);
    random_json_never_traps(s);
    random_bytes_never_trap(s);
}

fn subjects() -> Vec<Subject> {
    let dirs = adapter_dirs();
    assert!(!dirs.is_empty(), "no adapters found under adapters/");
    dirs.iter()
        .map(|dir| Subject::new(load_adapter(dir), dir))
        .collect()
}

fn map(
    adapter: &LoadedAdapter,
    settings: BTreeMap<String, String>,
    payload: &[u8],
) -> Result<Mapped, CallError> {
    block_on(adapter.map_records(&ctx(settings), payload, "application/json"))
}

fn settings(s: &Subject, name: &str) -> BTreeMap<String, String> {
    fixtures::settings(&s.fixtures, name).unwrap_or_else(|e| panic!("{}: {e:#}", s.id))
}

/// A call may fail with a typed adapter error, never a trap.
fn assert_no_trap(id: &str, what: &str, r: &Result<Mapped, CallError>) {
    if let Err(e @ CallError::Trap { .. }) = r {
        panic!("{id}: {what} trapped instead of returning a typed error: {e}");
    }
}

#[test]
fn every_adapter_has_golden_fixtures_and_passes_them() {
    subjects_cached().iter().for_each(golden_fixtures);
}

/// At least 3 golden fixtures, and every one passes.
pub fn golden_fixtures(s: &Subject) {
    assert!(
        s.names.len() >= 3,
        "{}: needs at least 3 golden fixtures in {} (NAME.input.json + NAME.expected.json), found {}",
        s.id,
        s.fixtures.display(),
        s.names.len()
    );
    let mut failures = Vec::new();
    for name in &s.names {
        let input =
            std::fs::read(s.fixtures.join(format!("{name}.input.json"))).expect("input readable");
        let expected_path = s.fixtures.join(format!("{name}.expected.json"));
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected_path)
                .unwrap_or_else(|_| panic!("{}: {name}.expected.json is missing", s.id)),
        )
        .expect("expected is JSON");
        let result = map(&s.adapter, settings(s, name), &input);
        let problems =
            fixtures::check(&expected, &expected_path, &result).expect("fixture readable");
        if !problems.is_empty() {
            failures.push(format!("{name}:\n    {}", problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{}: golden fixtures differ:\n{}",
        s.id,
        failures.join("\n")
    );
}

#[test]
fn truncated_and_malformed_input_gives_typed_errors_with_paths() {
    subjects_cached().iter().for_each(malformed_input);
}

/// Truncated and malformed input gives typed errors with paths, never a trap.
pub fn malformed_input(s: &Subject) {
    let name = s
        .names
        .first()
        .unwrap_or_else(|| panic!("{}: no fixtures", s.id));
    let raw = std::fs::read(s.fixtures.join(format!("{name}.input.json"))).expect("input");
    // Cut inside the JSON text itself, not in trailing white space.
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let input = &raw[..end];
    let settings = settings(s, name);
    for cut in [input.len() / 2, input.len() - 1, 1] {
        let r = map(&s.adapter, settings.clone(), &input[..cut]);
        match r {
            Err(CallError::Adapter {
                error: AdapterError::InvalidInput { path, .. },
                ..
            }) => assert!(
                path.is_some(),
                "{}: truncated input error has no field path",
                s.id
            ),
            other => panic!(
                "{}: input truncated to {cut} bytes should be invalid-input, got {other:?}",
                s.id
            ),
        }
    }
    for shape in [
        "{}",
        "[]",
        "42",
        "\"x\"",
        "null",
        "true",
        "{\"objects\":5}",
        "[1,2,3]",
        "[{}]",
        "{\"items\":{}}",
    ] {
        let r = map(&s.adapter, settings.clone(), shape.as_bytes());
        assert_no_trap(&s.id, shape, &r);
        if let Err(CallError::Adapter {
            error: AdapterError::InvalidInput { path, .. },
            ..
        }) = &r
        {
            assert!(
                path.is_some(),
                "{}: error for {shape} has no field path",
                s.id
            );
        }
    }
}

#[test]
fn the_same_input_always_gives_the_same_output() {
    subjects_cached().iter().for_each(deterministic);
}

/// The same input always gives the same output.
pub fn deterministic(s: &Subject) {
    for name in &s.names {
        let input = std::fs::read(s.fixtures.join(format!("{name}.input.json"))).expect("input");
        let a = map(&s.adapter, settings(s, name), &input);
        let b = map(&s.adapter, settings(s, name), &input);
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{}: {name} is not deterministic",
            s.id
        );
    }
}

/// Money must be exact: no floating point in any adapter's source.
#[test]
fn no_floating_point_in_adapter_sources() {
    let hits: Vec<String> = adapter_dirs()
        .iter()
        .flat_map(|dir| floating_point_lines(dir))
        .collect();
    assert!(
        hits.is_empty(),
        "floating point in adapter code (money must be exact):\n{}",
        hits.join("\n")
    );
}

/// Lines of the adapter sources under `dir` that use floating point.
pub fn floating_point_lines(dir: &Path) -> Vec<String> {
    let float_markers: &[(&str, &[&str])] = &[
        ("rs", &["f32", "f64", "as_f64"]),
        ("py", &["float(", "Decimal(float"]),
        ("js", &["parseFloat", "Number.parseFloat", "toFixed("]),
    ];
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable").flatten() {
            let p = entry.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if !["target", "node_modules", "__pycache__", "tests", "sample"].contains(&name) {
                    stack.push(p);
                }
                continue;
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            let Some((_, markers)) = float_markers.iter().find(|(e, _)| *e == ext) else {
                continue;
            };
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                let code = line
                    .split("//")
                    .next()
                    .unwrap_or("")
                    .split('#')
                    .next()
                    .unwrap_or("");
                if markers.iter().any(|m| code.contains(m)) {
                    hits.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                }
            }
        }
    }
    hits
}

/// The longest array of objects at the root or one level down: the records.
fn records_path(v: &Value) -> Option<Option<String>> {
    let mut best: Option<(usize, Option<String>)> = None;
    let mut consider = |len: usize, key: Option<String>| {
        if best.as_ref().is_none_or(|(l, _)| len > *l) {
            best = Some((len, key));
        }
    };
    match v {
        Value::Array(a) if a.iter().all(Value::is_object) && !a.is_empty() => {
            consider(a.len(), None)
        }
        Value::Object(o) => {
            for (k, x) in o {
                if let Value::Array(a) = x
                    && !a.is_empty()
                    && a.iter().all(Value::is_object)
                {
                    consider(a.len(), Some(k.clone()));
                }
            }
        }
        _ => {}
    }
    best.map(|(_, k)| k)
}

fn replicate(v: &Value, key: &Option<String>, times: usize) -> Value {
    let grow =
        |a: &Vec<Value>| Value::Array(a.iter().cycle().take(a.len() * times).cloned().collect());
    match (v, key) {
        (Value::Array(a), None) => grow(a),
        (Value::Object(o), Some(k)) => {
            let mut o = o.clone();
            if let Some(Value::Array(a)) = o.get(k).cloned() {
                o.insert(k.clone(), grow(&a));
            }
            Value::Object(o)
        }
        _ => v.clone(),
    }
}

#[test]
fn each_adapter_maps_10000_records_within_its_default_limits() {
    subjects_cached().iter().for_each(maps_10000_records);
}

/// 10,000 mapped records within the adapter's own default limits.
pub fn maps_10000_records(s: &Subject) {
    // The fixture whose records map to the most changes, scaled up.
    let mut best: Option<(usize, String, Value, Option<String>, usize)> = None;
    for name in &s.names {
        let input: Value = serde_json::from_slice(
            &std::fs::read(s.fixtures.join(format!("{name}.input.json"))).expect("input"),
        )
        .expect("json");
        let Some(key) = records_path(&input) else {
            continue;
        };
        let records = match (&input, &key) {
            (Value::Array(a), None) => a.len(),
            (Value::Object(o), Some(k)) => o.get(k).and_then(Value::as_array).map_or(0, Vec::len),
            _ => 0,
        };
        let Ok(m) = map(
            &s.adapter,
            settings(s, name),
            &serde_json::to_vec(&input).expect("json"),
        ) else {
            continue;
        };
        if !m.changes.is_empty()
            && best
                .as_ref()
                .is_none_or(|b| m.changes.len() * 1000 / records > b.4)
        {
            best = Some((
                m.changes.len(),
                name.clone(),
                input,
                key,
                m.changes.len() * 1000 / records,
            ));
        }
    }
    let (base_changes, name, input, key, _) =
        best.unwrap_or_else(|| panic!("{}: no fixture with an array of records to scale", s.id));
    let records = match (&input, &key) {
        (Value::Array(a), None) => a.len(),
        (Value::Object(o), Some(k)) => o.get(k).and_then(Value::as_array).map_or(0, Vec::len),
        _ => 1,
    };
    // 10,000 mapped records (items), however many the POS nests per document.
    let times = 10_000usize.div_ceil(base_changes);
    let big = serde_json::to_vec(&replicate(&input, &key, times)).expect("json");
    let m = map(&s.adapter, settings(s, &name), &big).unwrap_or_else(|e| {
        panic!(
            "{}: {} records from {name} failed within default limits: {e}",
            s.id,
            records * times
        )
    });
    assert_eq!(
        m.changes.len(),
        base_changes * times,
        "{}: scaling {name} x{times} changed the number of changes per record",
        s.id
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 ._-]{0,12}".prop_map(Value::String),
        Just(Value::String("ITEM_VARIATION".into())),
        Just(Value::String("ITEM".into())),
        Just(Value::String("19.99".into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("type".to_string()),
                    Just("objects".to_string()),
                    Just("items".to_string()),
                    Just("variants".to_string()),
                    Just("price".to_string()),
                    Just("elements".to_string()),
                    Just("products".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn random_json_never_traps_any_adapter() {
    subjects_cached().iter().for_each(random_json_never_traps);
}

#[test]
fn random_bytes_never_trap_any_adapter() {
    subjects_cached().iter().for_each(random_bytes_never_trap);
}

/// Random JSON documents, shaped like POS payloads: a typed error or a
/// result, never a trap.
pub fn random_json_never_traps(s: &Subject) {
    let settings = BTreeMap::from([("currency".to_string(), "NGN".to_string())]);
    let result = TestRunner::new(proptest_config()).run(&arb_json(), |doc| {
        let r = map(
            &s.adapter,
            settings.clone(),
            &serde_json::to_vec(&doc).expect("json"),
        );
        prop_assert!(
            !matches!(r, Err(CallError::Trap { .. })),
            "{} trapped on {doc}: {r:?}",
            s.id
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{}: {e}", s.id);
    }
}

/// Random bytes: a typed error or a result, never a trap.
pub fn random_bytes_never_trap(s: &Subject) {
    let result = TestRunner::new(proptest_config()).run(
        &prop::collection::vec(any::<u8>(), 0..512),
        |bytes| {
            let r = map(&s.adapter, BTreeMap::new(), &bytes);
            prop_assert!(
                !matches!(r, Err(CallError::Trap { .. })),
                "{} trapped on random bytes: {r:?}",
                s.id
            );
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{}: {e}", s.id);
    }
}

/// Loading every adapter once per test process, not once per proptest case.
fn subjects_cached() -> &'static [Subject] {
    static SUBJECTS: std::sync::OnceLock<Vec<Subject>> = std::sync::OnceLock::new();
    SUBJECTS.get_or_init(subjects)
}
