//! Building a Python adapter into a component with componentize-py.
//!
//! A directory holding `app.py` (and optionally `requirements.txt`) is a
//! Python adapter. `app.py` defines the class `PosAdapter` implementing the
//! `pos-adapter` export; componentize-py generates the `wit_world` bindings
//! from the WIT package at build time, so none are committed. Dependencies
//! from `requirements.txt` must be pure Python; they are installed into a
//! directory next to the output and put on the component's Python path.
//!
//! The component is built with `--stub-wasi`: every WASI import is replaced
//! by a trapping stub, so the adapter needs nothing from the host but the
//! `snapact:adapter` world (the host links WASI with an empty context anyway).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// The componentize-py release adapters are built and tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// What to run when the tool is missing or has another version.
pub const INSTALL_HINT: &str = "pip install componentize-py==0.25.1";

const TOOL: &str = "componentize-py";

/// Build the Python adapter in `adapter_dir` against the WIT package in
/// `wit_dir` (world `adapter`), writing the component to `out_wasm`.
pub fn build_python_adapter(
    adapter_dir: &Path,
    wit_dir: &Path,
    out_wasm: &Path,
) -> anyhow::Result<()> {
    let adapter_dir = std::path::absolute(adapter_dir)
        .with_context(|| format!("failed to resolve {}", adapter_dir.display()))?;
    let wit_dir = std::path::absolute(wit_dir)
        .with_context(|| format!("failed to resolve {}", wit_dir.display()))?;
    let out_wasm = std::path::absolute(out_wasm)
        .with_context(|| format!("failed to resolve {}", out_wasm.display()))?;
    if !adapter_dir.join("app.py").is_file() {
        bail!(
            "{} is not a Python adapter: it has no app.py (the module defining `class PosAdapter`)",
            adapter_dir.display()
        );
    }
    if !wit_dir.is_dir() {
        bail!("WIT directory {} does not exist", wit_dir.display());
    }
    let tool = locate(TOOL, std::env::var_os("PATH"))?;
    check_version(&tool)?;
    let out_dir = out_wasm
        .parent()
        .with_context(|| format!("output path {} has no parent directory", out_wasm.display()))?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create {}", out_dir.display()))?;

    let mut python_path = vec![adapter_dir.clone()];
    let requirements = adapter_dir.join("requirements.txt");
    if requirements.is_file() {
        python_path.push(install_requirements(&requirements, out_dir)?);
    }

    let mut cmd = Command::new(&tool);
    cmd.arg("-q")
        .arg("-d")
        .arg(&wit_dir)
        .arg("-w")
        .arg("adapter")
        .arg("componentize")
        .arg("--stub-wasi");
    for dir in &python_path {
        cmd.arg("-p").arg(dir);
    }
    cmd.arg("-o")
        .arg(&out_wasm)
        .arg("app")
        .current_dir(&adapter_dir);
    // A developer's active virtualenv must not leak packages into the component.
    cmd.env_remove("VIRTUAL_ENV");
    let output = cmd
        .output()
        .with_context(|| format!("failed to run {}", tool.display()))?;
    if !output.status.success() {
        bail!(
            "componentize-py failed to build {} ({}):\n{}",
            adapter_dir.display(),
            output.status,
            tail(&output, 40)
        );
    }
    if !out_wasm.is_file() {
        bail!(
            "componentize-py reported success but wrote no {}",
            out_wasm.display()
        );
    }
    Ok(())
}

/// The executable `name` in the directories of `path_var` (the `PATH`).
fn locate(name: &str, path_var: Option<OsString>) -> anyhow::Result<PathBuf> {
    let path_var = path_var.unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        for candidate in candidates(&dir, name) {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!("{name} is not installed (not found on PATH); install it with `{INSTALL_HINT}`")
}

fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = vec![dir.join(name)];
    if cfg!(windows) {
        out.push(dir.join(format!("{name}.exe")));
    }
    out
}

fn check_version(tool: &Path) -> anyhow::Result<()> {
    let output = Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "failed to run {} --version; reinstall it with `{INSTALL_HINT}`",
                tool.display()
            )
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(1).unwrap_or("");
    if !output.status.success() || version != COMPONENTIZE_PY_VERSION {
        bail!(
            "{} is version {:?}, adapters are built with {COMPONENTIZE_PY_VERSION}; install it with `{INSTALL_HINT}`",
            tool.display(),
            text.trim()
        );
    }
    Ok(())
}

/// `pip install --target` the adapter's pure-Python dependencies.
fn install_requirements(requirements: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let python = locate("python3", std::env::var_os("PATH"))
        .context("requirements.txt needs python3 with pip to install the adapter's dependencies")?;
    let target = out_dir.join("python-deps");
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("failed to clear {}", target.display()))?;
    }
    let output = Command::new(python)
        .args([
            OsStr::new("-m"),
            OsStr::new("pip"),
            OsStr::new("install"),
            OsStr::new("--quiet"),
            OsStr::new("--disable-pip-version-check"),
            OsStr::new("--no-compile"),
            OsStr::new("--target"),
            target.as_os_str(),
            OsStr::new("-r"),
            requirements.as_os_str(),
        ])
        .output()
        .context("failed to run python3 -m pip")?;
    if !output.status.success() {
        bail!(
            "installing {} failed ({}); dependencies must be pure-Python packages:\n{}",
            requirements.display(),
            output.status,
            tail(&output, 40)
        );
    }
    Ok(target)
}

/// The last `lines` lines of a tool's stderr (or stdout when stderr is empty).
fn tail(output: &Output, lines: usize) -> String {
    let text = if output.stderr.is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    let text = String::from_utf8_lossy(text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = locate(TOOL, Some(empty.path().as_os_str().to_owned()))
            .expect_err("nothing on this PATH");
        assert_eq!(
            err.to_string(),
            "componentize-py is not installed (not found on PATH); install it with `pip install componentize-py==0.25.1`"
        );
    }

    #[test]
    fn a_directory_without_app_py_is_not_a_python_adapter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err =
            build_python_adapter(dir.path(), dir.path(), &dir.path().join("out/adapter.wasm"))
                .expect_err("no app.py");
        assert!(err.to_string().contains("has no app.py"), "{err:#}");
    }
}
