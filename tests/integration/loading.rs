//! Loading packages: the compiled-code cache, and refusals before
//! instantiation.

use snapact_host::registry::Package;
use snapact_host::runtime::{Runtime, RuntimeConfig};
use snapact_tests::build_adapter;

fn cached_runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

#[test]
fn second_load_comes_from_the_cache_and_a_corrupt_cache_is_rewritten() {
    let package = Package::open(&build_adapter("tests/adapters/hostile")).expect("package");
    let cache = tempfile::tempdir().expect("tempdir");

    let first = cached_runtime(cache.path());
    let loaded = first.load(&package).expect("load");
    assert!(!loaded.load_report().from_cache);
    assert_eq!(first.compile_count(), 1);
    let file = loaded
        .load_report()
        .cache_file
        .clone()
        .expect("cache file path");
    assert!(file.is_file(), "{} written", file.display());
    assert!(
        file.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&package.digest_hex()))
    );

    let second = cached_runtime(cache.path());
    let loaded = second.load(&package).expect("load");
    assert!(loaded.load_report().from_cache, "a restart reads the cache");
    assert_eq!(second.compile_count(), 0, "and does not compile");

    // Flip a byte in the middle: detected, recompiled, rewritten.
    let mut bytes = std::fs::read(&file).expect("read cache");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).expect("corrupt cache");
    let third = cached_runtime(cache.path());
    assert!(!third.load(&package).expect("load").load_report().from_cache);
    assert_eq!(third.compile_count(), 1);
    let fourth = cached_runtime(cache.path());
    assert!(
        fourth
            .load(&package)
            .expect("load")
            .load_report()
            .from_cache,
        "rewritten"
    );
}

#[test]
fn an_adapter_for_another_wit_version_is_refused_before_it_runs() {
    let built = build_adapter("tests/adapters/hostile");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(built.join("adapter.wasm"), dir.path().join("adapter.wasm")).expect("copy wasm");
    let manifest = std::fs::read_to_string(built.join("adapter.toml")).expect("manifest");
    std::fs::write(
        dir.path().join("adapter.toml"),
        manifest.replace("snapact:adapter@0.1.0", "snapact:adapter@0.2.0"),
    )
    .expect("write manifest");
    let err = Package::open(dir.path()).expect_err("refused");
    assert!(
        err.to_string().contains("adapter hostile@0.1.0 needs snapact:adapter@0.2.0, but this host supports snapact:adapter@0.1.x"),
        "{err}"
    );
}

#[test]
fn package_reports_its_exports_and_digest() {
    let package = Package::open(&build_adapter("tests/adapters/hostile")).expect("package");
    assert!(
        package
            .exports()
            .iter()
            .any(|e| e == "snapact:adapter/pos-adapter@0.1.0"),
        "{:?}",
        package.exports()
    );
    assert!(
        package
            .imports()
            .iter()
            .any(|i| i == "snapact:adapter/pos-http@0.1.0"),
        "{:?}",
        package.imports()
    );
    assert_eq!(package.digest_hex().len(), 64);
    assert_eq!(package.manifest().limits.timeout_ms, 4000);
}

/// A copy of the package at `built` whose component and manifest say
/// `snapact:adapter@{wit}` instead of `@0.1.0`, as if it had been built
/// against that WIT version; `rename` then replaces other (same-length)
/// names in the component.
fn rebuilt_for(built: &std::path::Path, wit: &str, rename: &[(&str, &str)]) -> tempfile::TempDir {
    fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
        assert_eq!(from.len(), to.len(), "same length keeps the binary valid");
        let mut n = 0;
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
                n += 1;
                i += from.len();
            } else {
                i += 1;
            }
        }
        n
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wasm = std::fs::read(built.join("adapter.wasm")).expect("read wasm");
    let versions = replace_all(
        &mut wasm,
        b"snapact:adapter/pos-adapter@0.1.0",
        format!("snapact:adapter/pos-adapter@{wit}").as_bytes(),
    );
    assert!(versions > 0, "the export is named with its version");
    for interface in ["types", "pos-http", "signatures", "settings", "log"] {
        replace_all(
            &mut wasm,
            format!("snapact:adapter/{interface}@0.1.0").as_bytes(),
            format!("snapact:adapter/{interface}@{wit}").as_bytes(),
        );
    }
    for (from, to) in rename {
        assert!(
            replace_all(&mut wasm, from.as_bytes(), to.as_bytes()) > 0,
            "{from} is in the component"
        );
    }
    std::fs::write(dir.path().join("adapter.wasm"), wasm).expect("write wasm");
    let manifest = std::fs::read_to_string(built.join("adapter.toml")).expect("manifest");
    std::fs::write(
        dir.path().join("adapter.toml"),
        manifest.replace("snapact:adapter@0.1.0", &format!("snapact:adapter@{wit}")),
    )
    .expect("write manifest");
    dir
}

#[test]
fn an_adapter_built_for_a_newer_compatible_wit_loads_and_maps_the_same() {
    let built = build_adapter("adapters/square");
    let newer = rebuilt_for(&built, "0.1.9", &[]);
    let package = Package::open(newer.path()).expect("0.1.9 is within 0.1.x");
    assert_eq!(package.manifest().wit.version.to_string(), "0.1.9");
    assert!(
        package
            .imports()
            .iter()
            .any(|i| i == "snapact:adapter/signatures@0.1.9"),
        "the component really imports the newer version: {:?}",
        package.imports()
    );
    let runtime = cached_runtime(tempfile::tempdir().expect("tempdir").path());
    let newer = runtime
        .load(&package)
        .expect("a newer minor that uses nothing new loads");
    let original = runtime
        .load(&Package::open(&built).expect("package"))
        .expect("load");

    let fixtures = snapact_tests::fixtures_dir().join("square");
    let input = std::fs::read(fixtures.join("search_catalog_objects.input.json")).expect("input");
    let settings: std::collections::BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(fixtures.join("search_catalog_objects.settings.json")).expect("settings"),
    )
    .expect("settings json");
    let mut ctx = snapact_host::runtime::ShopContext::new("wit-compat");
    ctx.settings = settings;
    let (a, b) = snapact_tests::block_on(async {
        (
            newer
                .map_records(&ctx, &input, "application/json")
                .await
                .expect("newer maps"),
            original
                .map_records(&ctx, &input, "application/json")
                .await
                .expect("original maps"),
        )
    });
    assert!(!a.changes.is_empty());
    assert_eq!(
        a, b,
        "the same component under a newer WIT version maps the same"
    );
}

#[test]
fn an_adapter_using_a_function_this_host_lacks_is_refused_naming_it_and_both_versions() {
    let built = build_adapter("adapters/square");
    // As if WIT 0.1.9 had renamed... rather: added `verify-hmaz`, which the
    // adapter calls and this host (0.1.0) does not have.
    let newer = rebuilt_for(&built, "0.1.9", &[("verify-hmac", "verify-hmaz")]);
    let package = Package::open(newer.path()).expect("the manifest's version is accepted");
    let runtime = cached_runtime(tempfile::tempdir().expect("tempdir").path());
    let Err(err) = runtime.load(&package) else {
        panic!("refused at load, before any call");
    };
    let text = err.to_string();
    for needle in [
        "square@",
        "snapact:adapter@0.1.9",
        "snapact:adapter/signatures@0.1.9",
        "verify-hmaz",
        "snapact:adapter@0.1.0",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
}
