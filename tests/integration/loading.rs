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
