//! `snapact-host adapter new`, for each language, as an adapter author
//! meets it: scaffold into a fresh folder, run the generated unit tests,
//! build the package the way `adapter build` does, then map the golden
//! fixtures (the sample first) through the host and run the whole
//! conformance suite on it.

use std::path::Path;
use std::process::Command;

use snapact_host::registry::Package;
use snapact_host::registry::build::{self, Language};
use snapact_host::registry::scaffold::{self, NewAdapter};
use snapact_host::runtime::{Runtime, RuntimeConfig};
use snapact_tests::{target_dir, workspace_root};

use crate::conformance::{self, Subject};

/// Run `program args` in `dir`; a failure shows its output.
fn run_in(dir: &Path, program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "`{program} {}` failed in {} ({}):\n{}\n{}",
        args.join(" "),
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn new_adapter_conforms(language: Language) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let name = format!("feed-{}", scaffold::lang_flag(language));
    let dir = tmp.path().join(&name);
    let created = scaffold::new_adapter(&NewAdapter {
        name: name.clone(),
        language,
        dir: dir.clone(),
        // Outside the repository: the SDK is named explicitly, as an
        // author outside a checkout does.
        sdk_path: (language == Language::Rust).then(|| workspace_root().join("sdk")),
    })
    .expect("adapter new");
    assert_eq!(created.dir, dir);

    // The language's own unit tests pass as generated. Rust shares the
    // workspace's target directory, so the SDK's dependencies build once.
    let target = target_dir();
    let out = tmp.path().join("packages");
    let package_dir = match language {
        Language::Rust => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let target = target.to_string_lossy().into_owned();
            run_in(&dir, &cargo, &["test", "--quiet", "--target-dir", &target]);
            build::build_rust_adapter_with_target_dir(&dir, &out, Some(Path::new(&target)))
        }
        Language::Python => {
            run_in(&dir, "python3", &["-m", "unittest", "--quiet"]);
            build::build_adapter(&dir, &out)
        }
        Language::JavaScript => {
            run_in(&dir, "node", &["--test", "test/"]);
            build::build_adapter(&dir, &out)
        }
    }
    .unwrap_or_else(|e| panic!("building the new {name} adapter failed: {e:#}"));
    assert_eq!(package_dir, out.join(&name));

    // No compiled-code cache: these components are built afresh each run,
    // and their digests differ every time.
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let package = Package::open(&package_dir).expect("a valid package");
    let subject = Subject::load(&runtime, &package, &dir);
    assert_eq!(subject.fixtures, dir.join("fixtures"));
    assert!(
        subject.names.contains(&name),
        "the sample fixture {name} is missing: {:?}",
        subject.names
    );
    conformance::check_all(&subject);
}

#[test]
fn a_new_rust_adapter_builds_maps_its_sample_and_conforms() {
    new_adapter_conforms(Language::Rust);
}

#[test]
fn a_new_python_adapter_builds_maps_its_sample_and_conforms() {
    new_adapter_conforms(Language::Python);
}

#[test]
fn a_new_javascript_adapter_builds_maps_its_sample_and_conforms() {
    new_adapter_conforms(Language::JavaScript);
}
