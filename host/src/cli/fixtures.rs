//! Golden fixtures: `NAME.input.json` -> `NAME.expected.json`, with optional
//! `NAME.settings.json` (a flat object of shop settings). Shared by
//! `adapter test` and the conformance suite.
//!
//! `NAME.expected.json` is one of: an array of changes (exactly these, and
//! the rejections listed in `NAME.rejected.json`, or none); `{"changes": [...], "rejected": [...]}` (rejections compared
//! by the fields the fixture names); `{"error": {"kind": ..., "path": ...}}`
//! (the whole call fails so).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::diff;
use crate::catalog::Mapped;
use crate::runtime::{AdapterError, CallError};

/// A golden fixture's expectation.
enum Expected {
    /// An array: exactly these changes, no rejections.
    Changes(Value),
    /// `{"changes": [...], "rejected": [...]}`.
    WithRejections {
        changes: Value,
        rejected: Vec<Value>,
    },
    /// `{"error": {"kind": "...", "path": "..."}}`: the whole call fails so.
    Error(Value),
}

fn parse_expected(v: Value, file: &Path) -> anyhow::Result<Expected> {
    match v {
        Value::Array(_) => Ok(Expected::Changes(v)),
        Value::Object(mut o) if o.contains_key("error") => {
            Ok(Expected::Error(o.remove("error").unwrap_or(Value::Null)))
        }
        Value::Object(mut o) if o.contains_key("changes") => Ok(Expected::WithRejections {
            changes: o.remove("changes").unwrap_or(Value::Null),
            rejected: match o.remove("rejected") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
        }),
        _ => bail!(
            "{}: expected a JSON array of changes, {{\"changes\": [...], \"rejected\": [...]}} or {{\"error\": {{...}}}}",
            file.display()
        ),
    }
}

/// One fixture's outcome: the lines that differ (empty = pass).
pub fn check(
    expected: &Value,
    file: &Path,
    result: &Result<Mapped, CallError>,
) -> anyhow::Result<Vec<String>> {
    let mut expected = parse_expected(expected.clone(), file)?;
    // A sidecar `NAME.rejected.json` lists the rejections an array fixture expects.
    if let Expected::Changes(changes) = &expected {
        let sidecar = file
            .to_string_lossy()
            .replace(".expected.json", ".rejected.json");
        if let Ok(bytes) = std::fs::read(&sidecar) {
            let rejected = match serde_json::from_slice(&bytes) {
                Ok(Value::Array(a)) => a,
                _ => bail!("{sidecar} must be a JSON array of expected rejections"),
            };
            expected = Expected::WithRejections {
                changes: changes.clone(),
                rejected,
            };
        }
    }
    let mut problems = Vec::new();
    match (expected, result) {
        (Expected::Changes(changes), Ok(m)) => {
            problems.extend(diff::json_diff(
                &changes,
                &serde_json::to_value(&m.changes)?,
                20,
            ));
            for r in &m.rejected {
                problems.push(format!("unexpected rejection: {r}"));
            }
        }
        (Expected::WithRejections { changes, rejected }, Ok(m)) => {
            problems.extend(diff::json_diff(
                &changes,
                &serde_json::to_value(&m.changes)?,
                20,
            ));
            if rejected.len() != m.rejected.len() {
                problems.push(format!(
                    "expected {} rejections, got {}: {}",
                    rejected.len(),
                    m.rejected.len(),
                    m.rejected
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            for (i, (want, got)) in rejected.iter().zip(&m.rejected).enumerate() {
                let got = serde_json::to_value(got)?;
                // Only the fields the fixture names are compared: messages may be reworded.
                if let Value::Object(w) = want {
                    for (k, wv) in w {
                        let gv = got.get(k).unwrap_or(&Value::Null);
                        if gv != wv {
                            problems.push(format!("rejected[{i}].{k}: expected {wv}, got {gv}"));
                        }
                    }
                }
            }
        }
        (Expected::Error(want), Err(CallError::Adapter { error, .. })) => {
            let got = error_json(error);
            if let Value::Object(w) = &want {
                for (k, wv) in w {
                    let gv = got.get(k).unwrap_or(&Value::Null);
                    if gv != wv {
                        problems.push(format!("error.{k}: expected {wv}, got {gv}"));
                    }
                }
            }
        }
        (Expected::Error(want), Ok(_)) => problems.push(format!(
            "expected the call to fail with {want}, but it succeeded"
        )),
        (_, Err(e)) => problems.push(format!("the call failed: {e}")),
    }
    Ok(problems)
}

/// Fixture names (`NAME` of `NAME.input.json`) in `dir`, sorted.
pub fn names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to read fixture directory {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".input.json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// A fixture's settings (`NAME.settings.json`, a flat object), or none.
pub fn settings(dir: &Path, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let path = dir.join(format!("{name}.settings.json"));
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let v: Value = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let Value::Object(o) = v else {
        bail!("{} must be a flat JSON object of settings", path.display());
    };
    o.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => bail!(
                "{}: setting {k:?} must be a string, got {other}",
                path.display()
            ),
        })
        .collect()
}

/// An adapter error as fixtures name it: `{"kind", "message", "path"?}`.
pub fn error_json(e: &AdapterError) -> Value {
    let (kind, message) = match e {
        AdapterError::InvalidInput { message, .. } => ("invalid-input", message.clone()),
        AdapterError::Unsupported(m) => ("unsupported", m.clone()),
        AdapterError::Upstream { message, .. } => ("upstream", message.clone()),
        AdapterError::NotConfigured(m) => ("not-configured", m.clone()),
        AdapterError::Unauthenticated(m) => ("unauthenticated", m.clone()),
    };
    let mut v = serde_json::json!({ "kind": kind, "message": message });
    if let Some(path) = e.path() {
        v["path"] = Value::String(path.to_string());
    }
    v
}
