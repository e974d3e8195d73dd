//! Installing a version from a registry: choose it, download it, check it
//! (archive digest, manifest, WIT, exports, signature) in a staging folder
//! inside the adapters folder, and only then, once the operator has seen
//! what it asks for, move it into place in one rename.

use std::path::Path;

use anyhow::{Context, bail};
use semver::{Version, VersionReq};

use super::archive::PackageFiles;
use super::index::{Index, Status, VersionEntry};
use super::installed::{Staging, save_cached_index};
use super::signature::{SignatureError, SignatureStatus, TrustPolicy};
use super::source::RegistrySource;
use super::{Package, SignatureFile};

/// A checked package waiting in its staging folder for the operator's yes.
#[derive(Debug)]
pub struct StagedInstall {
    staging: Staging,
    /// The package, opened from the staging folder.
    pub package: Package,
    /// Its index entry.
    pub entry: VersionEntry,
    /// Its signature, checked under the operator's policy.
    pub signature: SignatureStatus,
    /// The index it came from (already saved as the cached index).
    pub index: Index,
}

impl StagedInstall {
    /// Move it into `<dir>/<id>/<version>/`; `Ok(None)` when that exact
    /// package was installed already.
    pub fn commit(self) -> anyhow::Result<Option<std::path::PathBuf>> {
        let m = self.package.manifest();
        Ok(self
            .staging
            .commit(&m.id, &m.version, &self.package.digest_hex())?)
    }
}

/// The newest version of `id` matching `req` that may be installed, or
/// why there is none: yanked and revoked versions are never installed
/// (yanked: no new installs), and the error names the version to move to.
pub fn choose<'a>(
    index: &'a Index,
    id: &str,
    req: &VersionReq,
    registry: &RegistrySource,
) -> anyhow::Result<&'a VersionEntry> {
    let versions = index.versions(id);
    if versions.is_empty() {
        let mut similar: Vec<&str> = index
            .adapters
            .keys()
            .filter(|k| k.contains(id) || id.contains(k.as_str()))
            .map(String::as_str)
            .collect();
        similar.truncate(5);
        bail!(
            "adapter `{id}` is not in the registry {registry}{}: see what it offers with \
             `snapact-host adapter search --registry {registry}`",
            if similar.is_empty() {
                String::new()
            } else {
                format!(" (similar: {})", similar.join(", "))
            }
        );
    }
    let mut matching: Vec<&VersionEntry> = versions
        .iter()
        .filter(|v| req.matches(&v.version))
        .collect();
    matching.sort_by(|a, b| b.version.cmp(&a.version));
    let listed: Vec<&VersionEntry> = matching
        .iter()
        .copied()
        .filter(|v| v.status == Status::Listed)
        .collect();
    if !listed.is_empty() && !listed.iter().any(|v| runs_here(v)) {
        let needs: Vec<String> = listed
            .iter()
            .map(|v| format!("{id}@{} needs {}", v.version, v.wit))
            .collect();
        bail!(
            "no version of `{id}` matching `{req}` in the registry {registry} runs on this host: {}, \
             but this host supports {}; install a version built for {} (see `snapact-host adapter search {id} \
             --registry {registry}`), or upgrade snapact-host",
            needs.join(", "),
            super::SUPPORTED_WIT,
            super::SUPPORTED_WIT
        );
    }
    if let Some(v) = matching
        .iter()
        .find(|v| v.status == Status::Listed && runs_here(v))
    {
        // Say what newer matching versions were skipped, and why.
        for skipped in matching.iter().take_while(|s| s.version > v.version) {
            let why = match skipped.status {
                Status::Listed => format!("it needs {}", skipped.wit),
                s => format!(
                    "{s}: {}",
                    skipped.reason.as_deref().unwrap_or("no reason given")
                ),
            };
            tracing::warn!(
                adapter = %id,
                "not installing {id}@{} ({why}); the newest that can be installed is {}",
                skipped.version,
                v.version
            );
        }
        return Ok(v);
    }
    let all: Vec<String> = versions
        .iter()
        .rev()
        .map(|v| match v.status {
            Status::Listed => v.version.to_string(),
            s => format!("{} ({s})", v.version),
        })
        .collect();
    if matching.is_empty() {
        bail!(
            "no version of `{id}` in the registry {registry} matches `{req}` (it has: {})",
            all.join(", ")
        );
    }
    let refused: Vec<String> = matching
        .iter()
        .map(|v| {
            let what = match v.status {
                Status::Yanked => "yanked: no new installs",
                _ => "revoked: it must not run",
            };
            let reason = v
                .reason
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            let to = index
                .replacement_for(id, &v.version)
                .map(|r| format!("; move to {r} (`snapact-host adapter install {id}@={r} --registry {registry}`)"))
                .unwrap_or_else(|| "; no listed version to move to".into());
            format!("{} is {what}{reason}{to}", v.version)
        })
        .collect();
    bail!(
        "no installable version of `{id}` matches `{req}` in the registry {registry}: {}",
        refused.join("; ")
    )
}

/// Whether the WIT an index entry names is one this host runs.
fn runs_here(entry: &VersionEntry) -> bool {
    entry
        .wit
        .parse::<super::WitRef>()
        .is_ok_and(|w| w.package == super::WIT_PACKAGE && super::SUPPORTED_WIT.supports(&w.version))
}

/// Fetch the index (saving it as the cached index in `dir`), choose the
/// version, download and check it into a staging folder in `dir`.
pub async fn stage(
    dir: &Path,
    registry: &RegistrySource,
    id: &str,
    req: &VersionReq,
    policy: &TrustPolicy,
) -> anyhow::Result<StagedInstall> {
    let index = registry
        .fetch_index()
        .await
        .with_context(|| format!("failed to read the registry {registry}"))?;
    save_cached_index(dir, &index).context("failed to save the registry index")?;
    let entry = choose(&index, id, req, registry)?.clone();
    let what = format!("{id}@{} from {registry}", entry.version);
    let archive = registry
        .fetch_archive(&entry)
        .await
        .with_context(|| format!("failed to download {what}"))?;
    let files = PackageFiles::unpack(&archive, &what)?;
    let staging = Staging::new(dir, id)?;
    files.write_dir(staging.path())?;
    // Messages name the download, not the staging folder it sits in.
    let shown = |e: &dyn std::fmt::Display| {
        let place = staging.path().display().to_string();
        e.to_string()
            .replace(&format!("{place}/"), "")
            .replace(&place, &what)
    };
    let package = Package::open(staging.path())
        .map_err(|e| anyhow::anyhow!("{what} cannot run on this host: {}", shown(&e)))?;
    check_matches_index(&package, &files, &entry, id, &what)?;
    let signature = policy.check(&package).map_err(|e| {
        let alternative = signed_alternative(&index, id, &entry.version, policy)
            .map(|v| format!("snapact-host adapter install {id}@={v} --registry {registry}"));
        signature_refusal(&e, &what, alternative.as_deref(), &shown(&e))
    })?;
    Ok(StagedInstall {
        staging,
        package,
        entry,
        signature,
        index,
    })
}

/// The newest other version of `id` the registry lists for this host's WIT
/// whose signer the operator trusts: what to install instead of an
/// unsigned one.
fn signed_alternative(
    index: &Index,
    id: &str,
    refused: &Version,
    policy: &TrustPolicy,
) -> Option<Version> {
    let trusted = |key_id: &str| policy.trusted_keys.iter().any(|k| k.id() == key_id);
    index
        .versions(id)
        .iter()
        .filter(|v| {
            &v.version != refused
                && v.status == Status::Listed
                && runs_here(v)
                && v.key_id.as_deref().is_some_and(trusted)
        })
        .map(|v| &v.version)
        .max()
        .cloned()
}

/// A signature refusal, said for an install: the package is the
/// registry's, so the advice is about the registry and the publisher, not
/// about a folder on this machine. `shown` is the policy's own message,
/// for the cases with nothing more to say.
fn signature_refusal(
    e: &SignatureError,
    what: &str,
    alternative: Option<&str>,
    shown: &str,
) -> anyhow::Error {
    match e {
        SignatureError::Unsigned { .. } => anyhow::anyhow!(
            "refusing to install {what}: it is not signed, and [adapters] require_signatures is on: {}",
            match alternative {
                Some(cmd) => format!(
                    "install a signed version instead (`{cmd}`), or ask the publisher to sign this one"
                ),
                None => "ask the publisher for a signed release".to_string(),
            }
        ),
        SignatureError::UntrustedKey {
            key_id, public_key, ..
        } => anyhow::anyhow!(
            "refusing to install {what}: it is signed by key {key_id}, which is not in [adapters] \
             trusted_keys: if you trust this publisher, add \"{public_key}\" to trusted_keys (check \
             the key with them first); otherwise do not use this package"
        ),
        SignatureError::DigestMismatch {
            key_id,
            signed,
            actual,
            ..
        } => anyhow::anyhow!(
            "refusing to install {what}: adapter.wasm was changed after it was signed by key {key_id} \
             (its digest is sha256:{actual}, the signature covers {signed}): the registry or the \
             connection altered it; do not install it, and tell the publisher"
        ),
        SignatureError::BadSignature { key_id, .. } => anyhow::anyhow!(
            "refusing to install {what}: the signature by key {key_id} does not match adapter.toml \
             and adapter.wasm: the registry or the connection altered the package; do not install \
             it, and tell the publisher"
        ),
        SignatureError::Malformed { .. } | SignatureError::Io { .. } => {
            anyhow::anyhow!("refusing to install {what}: {shown}")
        }
    }
}

/// The package must be what the index says it is.
fn check_matches_index(
    package: &Package,
    files: &PackageFiles,
    entry: &VersionEntry,
    id: &str,
    what: &str,
) -> anyhow::Result<()> {
    let m = package.manifest();
    if m.id != id || m.version != entry.version {
        bail!(
            "{what}: the archive holds {}@{}, not {id}@{}: the registry is inconsistent; do not install it",
            m.id,
            m.version,
            entry.version
        );
    }
    let digest = format!("sha256:{}", package.digest_hex());
    if digest != entry.digest {
        bail!(
            "{what}: adapter.wasm has digest {digest} but the index says {}: the registry is inconsistent; \
             do not install it",
            entry.digest
        );
    }
    let sig = match &files.signature {
        Some(bytes) => Some(SignatureFile::parse(
            bytes,
            &package.dir().join(super::SIGNATURE_FILE),
        )?),
        None => None,
    };
    let signer = sig.as_ref().map(|s| s.key_id.clone());
    // The index's copy of the signature is informational, but it must not
    // disagree with the package's.
    if let (Some(listed), Some(sig)) = (&entry.signature, &sig)
        && listed != &sig.signature
    {
        bail!(
            "{what}: the signature in the index is not the package's: the registry is inconsistent; \
             do not install it"
        );
    }
    if signer != entry.key_id {
        bail!(
            "{what}: the index says it is signed by {} but the package is signed by {}: \
             the registry is inconsistent; do not install it",
            entry.key_id.as_deref().unwrap_or("nobody"),
            signer.as_deref().unwrap_or("nobody")
        );
    }
    Ok(())
}

/// `id@REQ`, `id@=VERSION` or `id` (any version).
pub fn parse_request(text: &str) -> anyhow::Result<(String, VersionReq)> {
    let spec: crate::config::AdapterSpec = text
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{text:?}: {e}"))?;
    Ok((spec.id, spec.version))
}

/// `id@VERSION` (an exact version, `=` optional) or `id`.
pub fn parse_exact(text: &str) -> anyhow::Result<(String, Option<Version>)> {
    let (id, version) = match text.split_once('@') {
        Some((id, v)) => (id, Some(v.trim_start_matches('='))),
        None => (text, None),
    };
    if !super::manifest::is_id(id) {
        bail!(
            "{id:?} is not an adapter id: use a-z, 0-9 and '-' (e.g. \"square\" or \"square@1.2.0\")"
        );
    }
    let version = version
        .map(|v| {
            Version::parse(v)
                .with_context(|| format!("{v:?} is not an exact version: write e.g. {id}@1.2.0"))
        })
        .transpose()?;
    Ok((id.to_string(), version))
}
