//! `index.json`: what a registry offers (docs/packages.md, "Registry index").
//!
//! One file, schema-versioned, listing per adapter id every published
//! version with its WIT, digests, signer, download path (relative to the
//! index), a capabilities summary and its status: `listed`, `yanked` (no
//! new installs; installed copies keep running) or `revoked` (must not run;
//! hosts refuse to load it). Readers accept fields they do not know, so a
//! registry can add information without breaking older hosts; a change
//! older hosts would misread bumps `schema`.

use std::collections::BTreeMap;
use std::fmt;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::Manifest;

/// The index file name, at the registry's root.
pub const INDEX_FILE: &str = "index.json";
/// The schema this host writes and the newest it reads.
pub const INDEX_SCHEMA: u32 = 1;

/// A registry index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Schema version ([`INDEX_SCHEMA`]).
    pub schema: u32,
    /// Per adapter id.
    #[serde(default)]
    pub adapters: BTreeMap<String, AdapterEntry>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema: INDEX_SCHEMA,
            adapters: BTreeMap::new(),
        }
    }
}

/// One adapter in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterEntry {
    /// Its versions, oldest first.
    #[serde(default)]
    pub versions: Vec<VersionEntry>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// The adapter's version.
    pub version: Version,
    /// The WIT it was built against, `snapact:adapter@0.1.0`.
    pub wit: String,
    /// `sha256:<hex>` of `adapter.wasm`.
    pub digest: String,
    /// `sha256:<hex>` of the package archive the index points at.
    pub archive_digest: String,
    /// Size of the archive, bytes.
    pub size: u64,
    /// Where the archive is, relative to the index (`packages/square/square-1.2.0.tar`).
    pub path: String,
    /// The publisher's key id; `None` for an unsigned package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The ed25519 signature from `adapter.sig`, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Who publishes it (the manifest's `vendor`).
    #[serde(default)]
    pub vendor: String,
    /// One line (the manifest's `description`).
    #[serde(default)]
    pub description: String,
    /// What it asks for.
    #[serde(default)]
    pub capabilities: CapabilitySummary,
    /// `listed`, `yanked` or `revoked`.
    #[serde(default)]
    pub status: Status,
    /// Why it was yanked or revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version to move to, when the registry names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Version>,
}

/// What a version may touch and asks for, from its manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySummary {
    /// Hosts it may call through `pos-http`.
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Secret names it may verify with.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Setting names it reads.
    #[serde(default)]
    pub settings: Vec<String>,
    /// Memory per call, MiB.
    #[serde(default)]
    pub memory_mb: u64,
    /// Deadline per call, ms.
    #[serde(default)]
    pub timeout_ms: u64,
}

impl CapabilitySummary {
    /// The summary of a manifest.
    pub fn of(manifest: &Manifest) -> CapabilitySummary {
        CapabilitySummary {
            http_hosts: manifest.capabilities.http_hosts.clone(),
            secrets: manifest.capabilities.secrets.clone(),
            settings: manifest.capabilities.settings.clone(),
            memory_mb: manifest.limits.memory_mb,
            timeout_ms: manifest.limits.timeout_ms,
        }
    }
}

/// Whether a version may be installed and run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Installable.
    #[default]
    Listed,
    /// No new installs; installed copies keep running.
    Yanked,
    /// Must not run: hosts refuse to load it.
    Revoked,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Listed => "listed",
            Status::Yanked => "yanked",
            Status::Revoked => "revoked",
        })
    }
}

/// What is wrong with an index.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct IndexError {
    /// Where the index came from (file or URL).
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl Index {
    /// Parse and check index bytes; `origin` names them in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Index, IndexError> {
        let err = |message: String| IndexError {
            origin: origin.to_string(),
            message,
        };
        #[derive(Deserialize)]
        struct Schema {
            schema: u32,
        }
        let schema: Schema = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("not a registry index (index.json): {e}")))?;
        if schema.schema == 0 || schema.schema > INDEX_SCHEMA {
            return Err(err(format!(
                "index schema {} is not one this host reads (it reads 1 to {INDEX_SCHEMA}): upgrade snapact-host",
                schema.schema
            )));
        }
        let index: Index = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("not a valid registry index: {e}")))?;
        for (id, entry) in &index.adapters {
            if !super::manifest::is_id(id) {
                return Err(err(format!("{id:?} is not a valid adapter id")));
            }
            let mut seen = std::collections::BTreeSet::new();
            for v in &entry.versions {
                if !seen.insert(&v.version) {
                    return Err(err(format!("{id}@{} is listed twice", v.version)));
                }
                check_download_path(&v.path)
                    .map_err(|m| err(format!("{id}@{}: `path` {:?}: {m}", v.version, v.path)))?;
            }
        }
        Ok(index)
    }

    /// The JSON written to `index.json` (pretty, stable order).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .unwrap_or_else(|e| unreachable!("index serialisation failed: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// The versions of `id`, oldest first (empty when unknown).
    pub fn versions(&self, id: &str) -> &[VersionEntry] {
        self.adapters.get(id).map_or(&[], |a| a.versions.as_slice())
    }

    /// One version's entry.
    pub fn entry(&self, id: &str, version: &Version) -> Option<&VersionEntry> {
        self.versions(id).iter().find(|v| &v.version == version)
    }

    /// The version to move to from `id@version` (yanked or revoked): the
    /// registry's named replacement while it is listed, else the newest
    /// listed version above it in the same major, else the newest listed in
    /// that major, else the newest listed.
    pub fn replacement_for(&self, id: &str, version: &Version) -> Option<Version> {
        let listed = |v: &Version| {
            self.entry(id, v)
                .is_some_and(|e| e.status == Status::Listed)
        };
        if let Some(r) = self.entry(id, version).and_then(|e| e.replacement.as_ref())
            && listed(r)
        {
            return Some(r.clone());
        }
        let mut candidates: Vec<&Version> = self
            .versions(id)
            .iter()
            .filter(|e| {
                e.status == Status::Listed && e.version.pre.is_empty() && &e.version != version
            })
            .map(|e| &e.version)
            .collect();
        candidates.sort();
        candidates
            .iter()
            .rev()
            .find(|v| v.major == version.major && **v > version)
            .or_else(|| candidates.iter().rev().find(|v| v.major == version.major))
            .or(candidates.last())
            .map(|v| (*v).clone())
    }
}

/// A download path must stay inside the registry: relative, `/`-separated,
/// no `..`, no empty or hidden parts, plain characters.
fn check_download_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > 512 {
        return Err("must be 1 to 512 characters");
    }
    for part in path.split('/') {
        if part.is_empty() || part.starts_with('.') {
            return Err("must be a relative path without empty, `.` or `..` parts");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
        {
            return Err("may hold only letters, digits, '-', '_', '.', '+' and '/'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, status: Status) -> VersionEntry {
        VersionEntry {
            version: Version::parse(version).expect("version"),
            wit: "snapact:adapter@0.1.0".into(),
            digest: "sha256:00".into(),
            archive_digest: "sha256:11".into(),
            size: 1,
            path: format!("packages/demo/demo-{version}.tar"),
            key_id: None,
            signature: None,
            vendor: "Demo".into(),
            description: String::new(),
            capabilities: CapabilitySummary::default(),
            status,
            reason: None,
            replacement: None,
        }
    }

    fn index(versions: Vec<VersionEntry>) -> Index {
        let mut i = Index::default();
        i.adapters.insert("demo".into(), AdapterEntry { versions });
        i
    }

    #[test]
    fn round_trips_and_accepts_unknown_fields() {
        let i = index(vec![entry("1.0.0", Status::Listed)]);
        let again = Index::parse(&i.to_json(), "index.json").expect("parse");
        assert_eq!(again, i);
        let mut v: serde_json::Value = serde_json::from_slice(&i.to_json()).expect("json");
        v["adapters"]["demo"]["versions"][0]["homepage"] = "https://x".into();
        v["mirrors"] = serde_json::json!([]);
        Index::parse(&serde_json::to_vec(&v).expect("json"), "index.json").expect("additive");
    }

    #[test]
    fn newer_schemas_and_escaping_paths_are_refused() {
        let e = Index::parse(br#"{"schema":2,"adapters":{}}"#, "https://r/index.json")
            .expect_err("schema 2");
        assert!(e.to_string().contains("upgrade snapact-host"), "{e}");
        for bad in [
            "../etc/passwd",
            "/abs.tar",
            "a//b.tar",
            "a/./b.tar",
            "https://x/a.tar",
            "a\\b.tar",
        ] {
            let mut e = entry("1.0.0", Status::Listed);
            e.path = bad.into();
            let err = Index::parse(&index(vec![e]).to_json(), "index.json").expect_err(bad);
            assert!(err.to_string().contains("`path`"), "{bad}: {err}");
        }
        let dup = index(vec![
            entry("1.0.0", Status::Listed),
            entry("1.0.0", Status::Yanked),
        ]);
        let e = Index::parse(&dup.to_json(), "index.json").expect_err("dup");
        assert!(e.to_string().contains("demo@1.0.0 is listed twice"), "{e}");
    }

    #[test]
    fn replacement_prefers_the_named_one_then_the_newest_listed_in_the_major() {
        let mut revoked = entry("1.1.0", Status::Revoked);
        let mut i = index(vec![
            entry("1.0.0", Status::Listed),
            revoked.clone(),
            entry("1.2.0", Status::Listed),
            entry("1.3.0", Status::Yanked),
            entry("2.0.0", Status::Listed),
        ]);
        let v = |s: &str| Version::parse(s).expect("version");
        assert_eq!(i.replacement_for("demo", &v("1.1.0")), Some(v("1.2.0")));
        assert_eq!(i.replacement_for("demo", &v("1.3.0")), Some(v("1.2.0")));
        assert_eq!(i.replacement_for("demo", &v("2.0.0")), Some(v("1.2.0")));
        revoked.replacement = Some(v("1.0.0"));
        i.adapters.get_mut("demo").expect("demo").versions[1] = revoked;
        assert_eq!(i.replacement_for("demo", &v("1.1.0")), Some(v("1.0.0")));
        assert_eq!(i.replacement_for("other", &v("1.1.0")), None);
    }
}
