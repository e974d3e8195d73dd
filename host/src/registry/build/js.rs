//! Building a JavaScript adapter into a component with componentize-js.
//!
//! A JavaScript adapter is a folder holding `adapter.toml`, `package.json`
//! (with a lockfile pinning `@bytecodealliance/componentize-js`) and
//! `src/adapter.js`, the module that exports the `pos-adapter` interface.
//! The build installs the locked dependencies with `npm ci` when
//! `node_modules` is missing, then runs the componentize-js CLI from
//! `node_modules` against the repository's WIT.
//!
//! Every WASI feature StarlingMonkey can embed is disabled (`-d`): the host
//! links WASI with an empty context, and `http`/`fetch-event` would make the
//! component import and export `wasi:http`, which adapters may not use.
//! (`jco componentize` cannot pass these flags through, hence the CLI.)

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The world every adapter targets.
const WORLD: &str = "adapter";
/// The adapter's entry module, relative to its folder.
pub const ENTRY: &str = "src/adapter.js";
/// The componentize-js release adapters are built with: the version
/// `snapact-host adapter new` pins in a new adapter's `package.json`.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
/// The WASI features componentize-js can embed; all are disabled.
const DISABLED_FEATURES: [&str; 5] = ["stdio", "random", "clocks", "http", "fetch-event"];

/// True when `dir` looks like a JavaScript adapter: `package.json` and `src/adapter.js`.
pub fn is_js_adapter(dir: &Path) -> bool {
    dir.join("package.json").is_file() && dir.join(ENTRY).is_file()
}

/// Build the JavaScript adapter in `adapter_dir` against the WIT package in
/// `wit_dir`, writing the component to `out_wasm` (its parent folder is
/// created). Runs `npm ci` first when `node_modules` is missing.
pub fn build_js_adapter(adapter_dir: &Path, wit_dir: &Path, out_wasm: &Path) -> anyhow::Result<()> {
    // npm and node run in the adapter's folder: resolve it against ours first.
    let adapter_dir = &std::path::absolute(adapter_dir)
        .with_context(|| format!("failed to resolve {}", adapter_dir.display()))?;
    if !is_js_adapter(adapter_dir) {
        bail!(
            "{} is not a JavaScript adapter: it needs package.json and {ENTRY}",
            adapter_dir.display()
        );
    }
    if !wit_dir.is_dir() {
        bail!("WIT folder {} does not exist", wit_dir.display());
    }
    require_tool("node", &["--version"])?;
    require_tool(npm(), &["--version"])?;

    if !adapter_dir.join("node_modules").is_dir() {
        if !adapter_dir.join("package-lock.json").is_file() {
            bail!(
                "{} has no package-lock.json: run `npm install` there once and commit the lockfile, so builds use pinned versions",
                adapter_dir.display()
            );
        }
        let output = Command::new(npm())
            .current_dir(adapter_dir)
            // Packages already in npm's cache (checked against the
            // lockfile's integrity hashes) are not downloaded again.
            .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
            .output()
            .with_context(|| format!("failed to run `npm ci` in {}", adapter_dir.display()))?;
        check(&output, &format!("`npm ci` in {}", adapter_dir.display()))?;
    }

    let cli = componentize_cli(adapter_dir)?;
    if let Some(parent) = out_wasm.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    let mut cmd = Command::new("node");
    cmd.current_dir(adapter_dir)
        .arg(&cli)
        .arg(ENTRY)
        .arg("--wit")
        .arg(absolute(wit_dir)?)
        .args(["--world-name", WORLD]);
    for feature in DISABLED_FEATURES {
        cmd.args(["-d", feature]);
    }
    cmd.arg("--out").arg(absolute_out(out_wasm)?);
    let output = cmd.output().with_context(|| {
        format!(
            "failed to run componentize-js for {}",
            adapter_dir.display()
        )
    })?;
    check(
        &output,
        &format!("componentize-js for {}", adapter_dir.display()),
    )?;
    let size = std::fs::metadata(out_wasm).map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        bail!(
            "componentize-js reported success but wrote no component to {}",
            out_wasm.display()
        );
    }
    Ok(())
}

fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

/// A tool the build needs; a missing one says how to install it.
fn require_tool(tool: &str, args: &[&str]) -> anyhow::Result<()> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => bail!(
            "`{tool} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{tool}` is not installed, and building a JavaScript adapter needs Node.js 20 or newer with npm: \
             install it (Debian/Ubuntu: `apt-get install nodejs npm`; otherwise https://nodejs.org), then build again"
        ),
        Err(e) => Err(e).with_context(|| format!("failed to run `{tool}`")),
    }
}

/// The componentize-js CLI script installed in the adapter's `node_modules`.
fn componentize_cli(adapter_dir: &Path) -> anyhow::Result<PathBuf> {
    let cli = adapter_dir.join("node_modules/@bytecodealliance/componentize-js/src/cli.js");
    if cli.is_file() {
        return Ok(cli);
    }
    bail!(
        "{} is missing: add `@bytecodealliance/componentize-js` to the adapter's devDependencies, \
         then delete node_modules and build again (the build runs `npm ci`)",
        cli.display()
    )
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("failed to resolve {}", p.display()))
}

/// `out_wasm` may not exist yet: resolve its folder instead.
fn absolute_out(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().context("failed to read the current directory")?;
    Ok(cwd.join(p))
}

fn check(output: &Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    bail!("{what} failed ({}):\n{}", output.status, tail(&text, 40))
}

/// The last `lines` lines: the error is at the end of a tool's output.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_js_adapter_by_package_json_and_entry_module() {
        let dir = std::env::temp_dir().join(format!("snapact-js-detect-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).expect("temp dir");
        assert!(!is_js_adapter(&dir));
        std::fs::write(dir.join("package.json"), "{}").expect("write");
        assert!(!is_js_adapter(&dir), "package.json alone is not enough");
        std::fs::write(dir.join(ENTRY), "export const posAdapter = {};").expect("write");
        assert!(is_js_adapter(&dir));
        let err = build_js_adapter(&dir, &dir.join("no-such-wit"), &dir.join("out.wasm"))
            .expect_err("a missing WIT folder is an error");
        assert!(err.to_string().contains("no-such-wit"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_missing_tool_says_how_to_install_node() {
        let err = require_tool("snapact-no-such-node-binary", &["--version"]).expect_err("missing");
        let msg = err.to_string();
        assert!(
            msg.contains("Node.js 20") && msg.contains("apt-get install nodejs npm"),
            "{msg}"
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
