//! Installed adapters: the layout of `[adapters] dir`, choosing the
//! version a shop runs ([`resolve`]), and listing, removing and rolling
//! back versions.
//!
//! ```text
//! <dir>/<id>/<version>/{adapter.toml, adapter.wasm, adapter.sig}  installed (adapter install)
//! <dir>/<id>/{adapter.toml, adapter.wasm[, adapter.sig]}           a local build (adapter build): one more version
//! <dir>/<id>/.rolled-back/<version>/                              set aside by rollback, never selected
//! <dir>/.registry/index.json                                      the last registry index seen (revocations)
//! <dir>/.cache/                                                   compiled code (the runtime's)
//! ```
//!
//! Every change is a rename within `<dir>`, so a reader sees a version
//! whole or not at all; names starting with `.` are never versions.
#![expect(
    clippy::result_large_err,
    reason = "resolve errors are built once per load and carry what the operator needs to read"
)]

use std::fmt;
use std::path::{Path, PathBuf};

use semver::Version;

use super::index::{Index, Status};
use super::signature::{SignatureError, SignatureStatus, TrustPolicy};
use super::{MANIFEST_FILE, Manifest, Package, PackageError, SIGNATURE_FILE, WASM_FILE};
use crate::config::AdapterSpec;

/// Versions set aside by `adapter rollback`, inside `<dir>/<id>/`.
pub const ROLLED_BACK_DIR: &str = ".rolled-back";
/// The cached registry index, inside `<dir>`.
pub const REGISTRY_CACHE_DIR: &str = ".registry";
/// Install staging folders inside `<dir>` start with this.
const STAGING_PREFIX: &str = ".installing-";
/// Folders being deleted inside `<dir>` start with this.
const REMOVING_PREFIX: &str = ".removing-";
/// A staging folder older than this is a leftover of an install that died.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where a version of an adapter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// `<dir>/<id>/<version>/`, put there by `adapter install`.
    Installed,
    /// `<dir>/<id>/` itself, written by `adapter build`.
    LocalBuild,
    /// `<dir>/<id>/.rolled-back/<version>/`: never selected.
    RolledBack,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Location::Installed => "installed",
            Location::LocalBuild => "local build",
            Location::RolledBack => "rolled back",
        })
    }
}

/// One version of an adapter on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledVersion {
    /// Its version (the folder name, or the local build's manifest).
    pub version: Version,
    /// Its package folder.
    pub dir: PathBuf,
    /// Where it lives.
    pub location: Location,
}

/// A problem with the adapters folder.
#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    /// A file or folder cannot be read or changed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// A local build's manifest is unreadable, so its version is unknown.
    #[error("{0}; rebuild it with `snapact-host adapter build` or remove it")]
    BrokenLocalBuild(super::ManifestError),
    /// The cached registry index is unreadable.
    #[error(
        "{0}; run `snapact-host adapter refresh --registry URL` to fetch it again \
         (revocations cannot be checked until then)"
    )]
    BrokenCache(super::index::IndexError),
    /// Nothing of the adapter is there.
    #[error("adapter `{id}` is not installed in {}", dir.display())]
    NotInstalled {
        /// The adapter id.
        id: String,
        /// The adapters folder.
        dir: PathBuf,
    },
    /// The version asked for is not there.
    #[error("adapter `{id}` has no version {version} in {} (it has: {})", dir.display(), list_versions(found))]
    VersionNotInstalled {
        /// The adapter id.
        id: String,
        /// The version asked for.
        version: Version,
        /// The adapters folder.
        dir: PathBuf,
        /// The versions there are.
        found: Vec<Version>,
    },
    /// Rollback with a single version.
    #[error(
        "adapter `{id}` has only version {version} in {}: there is no previous version to roll back to; \
         install an older one with `snapact-host adapter install {id}@=VERSION --registry URL`",
        dir.display()
    )]
    NothingToRollBackTo {
        /// The adapter id.
        id: String,
        /// Its only version.
        version: Version,
        /// The adapters folder.
        dir: PathBuf,
    },
    /// An install would replace a different package of the same version.
    #[error(
        "adapter {id}@{version} is already installed in {} with a different digest \
         (installed sha256:{installed}, new sha256:{new}): a published version never changes, so one \
         of them did not come from the registry; remove it with \
         `snapact-host adapter remove {id}@{version}` first if you mean to replace it",
        dir.display()
    )]
    DifferentCopyInstalled {
        /// The adapter id.
        id: String,
        /// The version.
        version: Version,
        /// The installed copy.
        dir: PathBuf,
        /// Its digest.
        installed: String,
        /// The digest of the package being installed.
        new: String,
    },
}

fn list_versions(versions: &[Version]) -> String {
    if versions.is_empty() {
        return "none".into();
    }
    versions
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstalledError + '_ {
    move |error| InstalledError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The ids with anything installed in `dir`, sorted.
pub fn adapter_ids(dir: &Path) -> Result<Vec<String>, InstalledError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Ids never start with '.', so staging, cache and registry
        // folders are never taken for adapters.
        if super::manifest::is_id(&name) && entry.path().is_dir() {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

/// The versions of `id` that can be selected: installed ones and the local
/// build, newest first; for equal versions the installed copy comes first.
pub fn versions(dir: &Path, id: &str) -> Result<Vec<InstalledVersion>, InstalledError> {
    let id_dir = dir.join(id);
    let entries = match std::fs::read_dir(&id_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&id_dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(&id_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') || !path.join(MANIFEST_FILE).is_file() {
            continue;
        }
        if let Ok(version) = Version::parse(&name) {
            found.push(InstalledVersion {
                version,
                dir: path,
                location: Location::Installed,
            });
        }
    }
    let local_manifest = id_dir.join(MANIFEST_FILE);
    if local_manifest.is_file() {
        let manifest = Manifest::load(&local_manifest).map_err(InstalledError::BrokenLocalBuild)?;
        found.push(InstalledVersion {
            version: manifest.version,
            dir: id_dir.clone(),
            location: Location::LocalBuild,
        });
    }
    sort_newest_first(&mut found);
    Ok(found)
}

/// The versions of `id` set aside by rollback, newest first.
pub fn rolled_back(dir: &Path, id: &str) -> Result<Vec<InstalledVersion>, InstalledError> {
    let rb = dir.join(id).join(ROLLED_BACK_DIR);
    let entries = match std::fs::read_dir(&rb) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&rb)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(&rb))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // The manifest says the version: a set-aside local build's folder
        // is named `<version>.local`.
        if let Ok(m) = Manifest::load(&path.join(MANIFEST_FILE)) {
            found.push(InstalledVersion {
                version: m.version,
                dir: path,
                location: Location::RolledBack,
            });
        }
    }
    sort_newest_first(&mut found);
    Ok(found)
}

fn sort_newest_first(versions: &mut [InstalledVersion]) {
    versions.sort_by(|a, b| b.version.cmp(&a.version).then(a.location.cmp(&b.location)));
}

// ---------- the cached registry index ----------

/// `<dir>/.registry/index.json`.
pub fn cached_index_path(dir: &Path) -> PathBuf {
    dir.join(REGISTRY_CACHE_DIR).join(super::index::INDEX_FILE)
}

/// The last registry index seen, if any.
pub fn load_cached_index(dir: &Path) -> Result<Option<Index>, InstalledError> {
    let path = cached_index_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    Index::parse(&bytes, &path.display().to_string())
        .map(Some)
        .map_err(InstalledError::BrokenCache)
}

/// Keep `index` as the last registry index seen.
pub fn save_cached_index(dir: &Path, index: &Index) -> Result<(), InstalledError> {
    let cache = dir.join(REGISTRY_CACHE_DIR);
    std::fs::create_dir_all(&cache).map_err(io(&cache))?;
    let path = cached_index_path(dir);
    write_file_atomic(&path, &index.to_json()).map_err(io(&path))
}

// ---------- resolve ----------

/// The package a shop's adapter spec selects.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The checked package.
    pub package: Package,
    /// The signer's key id, when the package has a valid signature.
    pub publisher: Option<String>,
    /// The signature check's outcome.
    pub signature: SignatureStatus,
    /// Where the package lives.
    pub location: Location,
    /// Newer matching versions passed over because they are revoked.
    pub passed_over: Vec<Version>,
}

/// Why one version was not selected.
#[derive(Debug)]
pub enum Refusal {
    /// The registry revoked it.
    Revoked {
        /// Why.
        reason: Option<String>,
        /// The version to move to.
        replacement: Option<Version>,
    },
    /// The package itself is unusable (manifest, WIT, component).
    Package(Box<PackageError>),
    /// Its signature is missing, untrusted or wrong.
    Signature(Box<SignatureError>),
    /// The folder and the manifest disagree.
    Mismatch(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Revoked {
                reason,
                replacement,
            } => {
                f.write_str("revoked by the registry")?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                match replacement {
                    Some(v) => write!(f, "; move to {v}"),
                    None => f.write_str("; no replacement is listed"),
                }
            }
            Refusal::Package(e) => write!(f, "{e}"),
            Refusal::Signature(e) => write!(f, "{e}"),
            Refusal::Mismatch(m) => f.write_str(m),
        }
    }
}

/// Why no version of a shop's adapter can be loaded ([`ResolveError::kind`]
/// says which case; boxed, so a `Result` carrying it stays small).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ResolveError(Box<ResolveErrorKind>);

impl ResolveError {
    /// The case, with its details.
    pub fn kind(&self) -> &ResolveErrorKind {
        &self.0
    }
}

impl From<ResolveErrorKind> for ResolveError {
    fn from(kind: ResolveErrorKind) -> Self {
        ResolveError(Box::new(kind))
    }
}

impl From<InstalledError> for ResolveError {
    fn from(e: InstalledError) -> Self {
        ResolveErrorKind::Installed(e).into()
    }
}

/// The cases of [`ResolveError`].
#[derive(Debug, thiserror::Error)]
pub enum ResolveErrorKind {
    /// Nothing of the adapter is installed.
    #[error(
        "adapter `{id}` (wanted: {requirement}) is not installed in {}: install it with \
         `snapact-host adapter install {spec} --registry URL`, or build it with \
         `snapact-host adapter build adapters/{id}`{}",
        dir.display(),
        if rolled_back.is_empty() { String::new() } else {
            format!(" (versions set aside by rollback: {}; install one again to use it)", list_versions(rolled_back))
        }
    )]
    NotInstalled {
        /// The adapter id.
        id: String,
        /// The shop's version requirement.
        requirement: String,
        /// `id@requirement`, as the install command takes it.
        spec: String,
        /// The adapters folder.
        dir: PathBuf,
        /// Versions set aside by rollback.
        rolled_back: Vec<Version>,
    },
    /// Versions are installed, none matches.
    #[error(
        "adapter `{id}`: no installed version matches `{requirement}` (installed in {}: {}): \
         install one with `snapact-host adapter install {spec} --registry URL`, or change the shop's `adapter`",
        dir.display(),
        list_versions(found)
    )]
    NoMatch {
        /// The adapter id.
        id: String,
        /// The shop's version requirement.
        requirement: String,
        /// `id@requirement`.
        spec: String,
        /// The adapters folder.
        dir: PathBuf,
        /// The versions installed.
        found: Vec<Version>,
    },
    /// Matching versions are installed, each was refused.
    #[error(
        "adapter `{id}` (wanted: {requirement}; installed in {}: {}): no version can be loaded: {}{}",
        dir.display(),
        list_versions(found),
        refusals.iter().map(|(v, r)| format!("{v}: {r}")).collect::<Vec<_>>().join("; "),
        hint
    )]
    Refused {
        /// The adapter id.
        id: String,
        /// The shop's version requirement.
        requirement: String,
        /// The adapters folder.
        dir: PathBuf,
        /// Every version installed.
        found: Vec<Version>,
        /// Each version tried, newest first, and why it was refused.
        refusals: Vec<(Version, Refusal)>,
        /// What to do next.
        hint: String,
    },
    /// The adapters folder or the cached index cannot be read.
    #[error(transparent)]
    Installed(InstalledError),
}

/// The newest installed version of `spec.id` that matches its requirement
/// and is not revoked in the cached registry index, opened and checked
/// ([`Package::open`]) and its signature verified under `policy`.
///
/// A revoked version is passed over for the next older match, with a
/// warning naming both. Any other problem with the newest candidate (a
/// broken package, an incompatible WIT, a missing, untrusted or wrong
/// signature) is an error rather than a silent fall-back: the operator
/// fixes it, removes the version, or rolls back.
pub fn resolve(
    dir: &Path,
    spec: &AdapterSpec,
    policy: &TrustPolicy,
) -> Result<Resolved, ResolveError> {
    let id = &spec.id;
    let requirement = spec.version.to_string();
    let all = versions(dir, id)?;
    if all.is_empty() {
        return Err(ResolveError::from(ResolveErrorKind::NotInstalled {
            id: id.clone(),
            requirement,
            spec: spec.to_string(),
            dir: dir.to_path_buf(),
            rolled_back: rolled_back(dir, id)?
                .into_iter()
                .map(|v| v.version)
                .collect(),
        }));
    }
    let found: Vec<Version> = all.iter().map(|v| v.version.clone()).collect();
    let matching: Vec<&InstalledVersion> = all
        .iter()
        .filter(|v| spec.version.matches(&v.version))
        .collect();
    if matching.is_empty() {
        return Err(ResolveError::from(ResolveErrorKind::NoMatch {
            id: id.clone(),
            requirement,
            spec: spec.to_string(),
            dir: dir.to_path_buf(),
            found,
        }));
    }
    let index = load_cached_index(dir)?;
    let mut refusals: Vec<(Version, Refusal)> = Vec::new();
    let mut tried = std::collections::BTreeSet::new();
    for candidate in &matching {
        let version = &candidate.version;
        if let Some(entry) = index.as_ref().and_then(|i| i.entry(id, version))
            && entry.status == Status::Revoked
        {
            if tried.insert(version.clone()) {
                refusals.push((
                    version.clone(),
                    Refusal::Revoked {
                        reason: entry.reason.clone(),
                        replacement: index.as_ref().and_then(|i| i.replacement_for(id, version)),
                    },
                ));
            }
            continue;
        }
        match open_checked(candidate, id, policy) {
            Ok((package, signature)) => {
                let passed_over: Vec<Version> = refusals.iter().map(|(v, _)| v.clone()).collect();
                if !passed_over.is_empty() {
                    tracing::warn!(
                        adapter = %id,
                        revoked = %list_versions(&passed_over),
                        selected = %version,
                        "revoked adapter version(s) passed over; running {id}@{version} instead: {}",
                        passed_over_advice(id, version, &refusals)
                    );
                }
                if let SignatureStatus::Untrusted { key_id, .. } = &signature {
                    tracing::warn!(
                        adapter = %id, version = %version, key_id = %key_id,
                        "adapter signed by a key that is not in [adapters] trusted_keys; \
                         loaded only because require_signatures is off"
                    );
                }
                return Ok(Resolved {
                    publisher: signature.key_id().map(str::to_string),
                    signature,
                    package,
                    location: candidate.location,
                    passed_over,
                });
            }
            Err(refusal) => {
                refusals.push((version.clone(), refusal));
                // What rollback would select: an older match that is not
                // revoked (a revoked one would be passed over in turn).
                let revoked = |v: &Version| {
                    index
                        .as_ref()
                        .and_then(|i| i.entry(id, v))
                        .is_some_and(|e| e.status == Status::Revoked)
                };
                let older: Vec<&Version> = matching
                    .iter()
                    .map(|v| &v.version)
                    .filter(|v| *v < version && !tried.contains(*v) && !revoked(v))
                    .collect();
                let hint = match older.first() {
                    Some(prev) => format!(
                        "; fix or remove {id}@{version} (`snapact-host adapter remove {id}@{version}`), \
                         or run `snapact-host adapter rollback {id}` to select {prev}"
                    ),
                    None => String::new(),
                };
                return Err(ResolveError::from(ResolveErrorKind::Refused {
                    id: id.clone(),
                    requirement,
                    dir: dir.to_path_buf(),
                    found,
                    refusals,
                    hint,
                }));
            }
        }
    }
    Err(ResolveError::from(ResolveErrorKind::Refused {
        id: id.clone(),
        requirement: requirement.clone(),
        dir: dir.to_path_buf(),
        found,
        refusals,
        hint: format!(
            "; install a version that is not revoked with `snapact-host adapter install {spec} --registry URL`"
        ),
    }))
}

/// Why each revoked version was passed over, and what to do: install the
/// registry's replacement when it is not what runs now, remove the revoked
/// copies.
fn passed_over_advice(id: &str, selected: &Version, refusals: &[(Version, Refusal)]) -> String {
    let mut parts = Vec::new();
    for (version, refusal) in refusals {
        let Refusal::Revoked {
            reason,
            replacement,
        } = refusal
        else {
            continue;
        };
        let why = reason.as_deref().unwrap_or("no reason given");
        let next = match replacement {
            Some(r) if r == selected => {
                format!("{id}@{r}, the registry's replacement, runs now")
            }
            Some(r) => format!(
                "the registry's replacement is {r}: install it with \
                 `snapact-host adapter install {id}@={r}`"
            ),
            None => "the registry lists no replacement".to_string(),
        };
        parts.push(format!(
            "{id}@{version} was revoked by the registry ({why}); {next}; remove it with \
             `snapact-host adapter remove {id}@{version}`"
        ));
    }
    parts.join("; ")
}

/// Open a candidate and check it is what its place says and signed as the
/// policy wants.
fn open_checked(
    candidate: &InstalledVersion,
    id: &str,
    policy: &TrustPolicy,
) -> Result<(Package, SignatureStatus), Refusal> {
    let package = Package::open(&candidate.dir).map_err(|e| Refusal::Package(Box::new(e)))?;
    let m = package.manifest();
    if m.id != id || m.version != candidate.version {
        return Err(Refusal::Mismatch(format!(
            "{} holds {}@{}, not {id}@{}: a package belongs in <adapters dir>/<id>/<version>/; \
             remove it or install it again",
            candidate.dir.display(),
            m.id,
            m.version,
            candidate.version
        )));
    }
    let signature = policy
        .check(&package)
        .map_err(|e| Refusal::Signature(Box::new(e)))?;
    Ok((package, signature))
}

// ---------- list ----------

/// One version in `adapter list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionListing {
    /// The version.
    pub version: Version,
    /// Where it lives.
    pub location: Location,
    /// Its folder.
    pub path: PathBuf,
    /// `sha256:<hex>` of its wasm, when it opens.
    pub digest: Option<String>,
    /// The signer's key id, when the signature is valid.
    pub signed_by: Option<String>,
    /// Whether that key is trusted.
    pub trusted: bool,
    /// Why it cannot be loaded, if it cannot (rolled-back versions are not checked).
    pub problem: Option<String>,
    /// Its status in the cached registry index (`None`: not in it).
    pub registry_status: Option<Status>,
    /// The registry's reason for a yank or revocation.
    pub reason: Option<String>,
    /// Whether a shop asking for any version (`<id>`) gets this one.
    pub selected: bool,
}

/// One adapter in `adapter list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterListing {
    /// The adapter id.
    pub id: String,
    /// Its versions, newest first, rolled-back ones last.
    pub versions: Vec<VersionListing>,
    /// Why no version is selected, when none is.
    pub selection_error: Option<String>,
}

/// Everything installed in `dir`, checked under `policy`.
pub fn list(dir: &Path, policy: &TrustPolicy) -> Result<Vec<AdapterListing>, InstalledError> {
    let index = load_cached_index(dir)?;
    let mut out = Vec::new();
    for id in adapter_ids(dir)? {
        let spec = AdapterSpec {
            id: id.clone(),
            version: semver::VersionReq::STAR,
        };
        let (selected, selection_error) = match resolve(dir, &spec, policy) {
            Ok(r) => (Some(r.package.dir().to_path_buf()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut listed = Vec::new();
        for v in versions(dir, &id)?
            .into_iter()
            .chain(rolled_back(dir, &id)?)
        {
            let entry = index.as_ref().and_then(|i| i.entry(&id, &v.version));
            let mut item = VersionListing {
                selected: selected.as_deref() == Some(v.dir.as_path()),
                version: v.version.clone(),
                location: v.location,
                path: v.dir.clone(),
                digest: None,
                signed_by: None,
                trusted: false,
                problem: None,
                registry_status: entry.map(|e| e.status),
                reason: entry.and_then(|e| e.reason.clone()),
            };
            match Package::open(&v.dir) {
                Ok(pkg) => {
                    item.digest = Some(format!("sha256:{}", pkg.digest_hex()));
                    match super::signature::verify_package(&pkg) {
                        Ok(Some(sig)) => {
                            item.trusted = policy.trusts(&sig.key);
                            item.signed_by = Some(sig.key.id().to_string());
                        }
                        Ok(None) => {}
                        Err(e) => item.problem = Some(e.to_string()),
                    }
                    if item.problem.is_none()
                        && v.location != Location::RolledBack
                        && let Err(e) = policy.check(&pkg)
                    {
                        item.problem = Some(e.to_string());
                    }
                }
                Err(e) => item.problem = Some(e.to_string()),
            }
            if item.registry_status == Some(Status::Revoked) && v.location != Location::RolledBack {
                let to = index
                    .as_ref()
                    .and_then(|i| i.replacement_for(&id, &v.version))
                    .map(|r| format!("; move to {r}"))
                    .unwrap_or_default();
                item.problem = Some(format!("revoked by the registry, never loaded{to}"));
            }
            listed.push(item);
        }
        out.push(AdapterListing {
            id,
            versions: listed,
            selection_error,
        });
    }
    Ok(out)
}

// ---------- remove and rollback ----------

/// Remove `id` entirely (`version` = `None`) or every copy of one version
/// (installed, local build, rolled back). Returns the versions removed.
pub fn remove(
    dir: &Path,
    id: &str,
    version: Option<&Version>,
) -> Result<Vec<InstalledVersion>, InstalledError> {
    let id_dir = dir.join(id);
    let present: Vec<InstalledVersion> = versions(dir, id)?
        .into_iter()
        .chain(rolled_back(dir, id)?)
        .collect();
    if !id_dir.is_dir() {
        return Err(InstalledError::NotInstalled {
            id: id.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    let Some(version) = version else {
        let trash = set_aside_path(dir, id);
        std::fs::rename(&id_dir, &trash).map_err(io(&id_dir))?;
        sync_dir(dir).map_err(io(dir))?;
        std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        return Ok(present);
    };
    let doomed: Vec<InstalledVersion> = present
        .iter()
        .filter(|v| &v.version == version)
        .cloned()
        .collect();
    if doomed.is_empty() {
        return Err(InstalledError::VersionNotInstalled {
            id: id.to_string(),
            version: version.clone(),
            dir: dir.to_path_buf(),
            found: present.into_iter().map(|v| v.version).collect(),
        });
    }
    for v in &doomed {
        let trash = set_aside_path(dir, id);
        move_package(v, &trash)?;
        std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
    }
    // Leave no empty `<id>/` behind.
    if versions(dir, id)?.is_empty() && rolled_back(dir, id)?.is_empty() {
        let trash = set_aside_path(dir, id);
        std::fs::rename(&id_dir, &trash).map_err(io(&id_dir))?;
        std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
    }
    sync_dir(dir).map_err(io(dir))?;
    Ok(doomed)
}

/// What `rollback` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The version set aside.
    pub set_aside: Version,
    /// The newest version left.
    pub now_newest: Version,
}

/// Set the newest version of `id` aside in `.rolled-back/`, so the
/// previous one is selected. Refuses when there is no previous version.
pub fn rollback(dir: &Path, id: &str) -> Result<RolledBack, InstalledError> {
    let all = versions(dir, id)?;
    let Some(newest) = all.first().map(|v| v.version.clone()) else {
        return Err(InstalledError::NotInstalled {
            id: id.to_string(),
            dir: dir.to_path_buf(),
        });
    };
    let Some(previous) = all
        .iter()
        .find(|v| v.version < newest)
        .map(|v| v.version.clone())
    else {
        return Err(InstalledError::NothingToRollBackTo {
            id: id.to_string(),
            version: newest,
            dir: dir.to_path_buf(),
        });
    };
    let rb = dir.join(id).join(ROLLED_BACK_DIR);
    std::fs::create_dir_all(&rb).map_err(io(&rb))?;
    for v in all.iter().filter(|v| v.version == newest) {
        let name = match v.location {
            Location::LocalBuild => format!("{newest}.local"),
            _ => newest.to_string(),
        };
        let target = rb.join(name);
        if target.exists() {
            let trash = set_aside_path(dir, id);
            std::fs::rename(&target, &trash).map_err(io(&target))?;
            std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        }
        move_package(v, &target)?;
    }
    sync_dir(&rb).map_err(io(&rb))?;
    Ok(RolledBack {
        set_aside: newest,
        now_newest: previous,
    })
}

/// A fresh name inside `<dir>` for a folder on its way out.
fn set_aside_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!(
        "{REMOVING_PREFIX}{id}-{:016x}",
        rand::random::<u64>()
    ))
}

/// Move a version's package folder to `to` (which must not exist). An
/// installed or rolled-back version is one rename; a local build's files
/// are moved manifest first, so the local build stops being a version at
/// once.
fn move_package(v: &InstalledVersion, to: &Path) -> Result<(), InstalledError> {
    match v.location {
        Location::Installed | Location::RolledBack => {
            std::fs::rename(&v.dir, to).map_err(io(&v.dir))?;
        }
        Location::LocalBuild => {
            std::fs::create_dir(to).map_err(io(to))?;
            for name in [MANIFEST_FILE, WASM_FILE, SIGNATURE_FILE] {
                let from = v.dir.join(name);
                match std::fs::rename(&from, to.join(name)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&from)(e)),
                }
            }
        }
    }
    if let Some(parent) = v.dir.parent() {
        sync_dir(parent).map_err(io(parent))?;
    }
    Ok(())
}

// ---------- installing ----------

/// A folder inside `<dir>` a package is written into before it is moved
/// into place in one rename. Dropped without [`Staging::commit`], it is
/// deleted; if the process dies, its `.installing-` name keeps it from
/// ever being listed or loaded, and a later install deletes it.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    adapters_dir: PathBuf,
    done: bool,
}

impl Staging {
    /// A new, empty staging folder inside `adapters_dir` (created if needed).
    pub fn new(adapters_dir: &Path, id: &str) -> Result<Staging, InstalledError> {
        std::fs::create_dir_all(adapters_dir).map_err(io(adapters_dir))?;
        clean_stale_staging(adapters_dir);
        let dir = adapters_dir.join(format!(
            "{STAGING_PREFIX}{id}-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        Ok(Staging {
            dir,
            adapters_dir: adapters_dir.to_path_buf(),
            done: false,
        })
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Move the staged package into `<dir>/<id>/<version>/`. If that
    /// version is there already with the same digest, nothing changes and
    /// `Ok(None)` is returned; with a different digest the install is
    /// refused. A copy of the version set aside by rollback is deleted.
    pub fn commit(
        mut self,
        id: &str,
        version: &Version,
        digest_hex: &str,
    ) -> Result<Option<PathBuf>, InstalledError> {
        let id_dir = self.adapters_dir.join(id);
        let target = id_dir.join(version.to_string());
        if target.join(MANIFEST_FILE).is_file() {
            let installed = Package::open(&target)
                .map(|p| p.digest_hex())
                .unwrap_or_else(|_| "unreadable".into());
            if installed == digest_hex {
                return Ok(None);
            }
            return Err(InstalledError::DifferentCopyInstalled {
                id: id.to_string(),
                version: version.clone(),
                dir: target,
                installed,
                new: digest_hex.to_string(),
            });
        }
        sync_dir(&self.dir).map_err(io(&self.dir))?;
        std::fs::create_dir_all(&id_dir).map_err(io(&id_dir))?;
        if target.exists() {
            // A folder without a manifest is not a version: clear it.
            let trash = set_aside_path(&self.adapters_dir, id);
            std::fs::rename(&target, &trash).map_err(io(&target))?;
            std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        }
        std::fs::rename(&self.dir, &target).map_err(io(&target))?;
        self.done = true;
        sync_dir(&id_dir).map_err(io(&id_dir))?;
        sync_dir(&self.adapters_dir).map_err(io(&self.adapters_dir))?;
        for rb in rolled_back(&self.adapters_dir, id)? {
            if &rb.version == version {
                let trash = set_aside_path(&self.adapters_dir, id);
                std::fs::rename(&rb.dir, &trash).map_err(io(&rb.dir))?;
                std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
            }
        }
        Ok(Some(target))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Delete staging and removal folders left by processes that died more
/// than an hour ago (a younger one may belong to a running install).
fn clean_stale_staging(adapters_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(adapters_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(STAGING_PREFIX) || name.starts_with(REMOVING_PREFIX)) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGING);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Replace `path` with `bytes` in one rename: readers see the old file or
/// the new one, never a part.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let result = super::archive::write_synced(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_dir(parent));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Flush a folder's entries (renames, new files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::SecretKey;
    use crate::registry::index::{AdapterEntry, CapabilitySummary, VersionEntry};

    /// The smallest component `Package::open` accepts: one export named
    /// `snapact:adapter/pos-adapter@0.1.0` (never compiled here).
    fn component(tag: u8) -> Vec<u8> {
        let name = b"snapact:adapter/pos-adapter@0.1.0";
        let mut export = vec![0x01, 0x00, name.len() as u8];
        export.extend_from_slice(name);
        export.extend_from_slice(&[0x05, 0x00, 0x00]);
        let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
        wasm.push(0x0b);
        wasm.push(export.len() as u8);
        wasm.extend_from_slice(&export);
        // A custom section makes each build's bytes (and digest) distinct.
        wasm.extend_from_slice(&[0x00, 0x03, 0x01, b't', tag]);
        wasm
    }

    fn write_package(dir: &Path, id: &str, version: &str) {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(
            dir.join(MANIFEST_FILE),
            format!("id = \"{id}\"\nversion = \"{version}\"\nwit = \"snapact:adapter@0.1.0\"\nvendor = \"Demo\"\n"),
        )
        .expect("manifest");
        let tag = version
            .bytes()
            .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        std::fs::write(dir.join(WASM_FILE), component(tag)).expect("wasm");
    }

    fn install(root: &Path, id: &str, version: &str, key: Option<&SecretKey>) -> PathBuf {
        let dir = root.join(id).join(version);
        write_package(&dir, id, version);
        if let Some(key) = key {
            let pkg = Package::open(&dir).expect("open");
            key.sign_package(&pkg).write(&dir).expect("sign");
        }
        dir
    }

    fn spec(s: &str) -> AdapterSpec {
        s.parse().expect("spec")
    }

    fn trusting(key: &SecretKey) -> TrustPolicy {
        TrustPolicy {
            require_signatures: true,
            trusted_keys: vec![key.public()],
        }
    }

    fn revoke(root: &Path, id: &str, versions: &[(&str, Status)]) {
        let mut index = Index::default();
        index.adapters.insert(
            id.into(),
            AdapterEntry {
                versions: versions
                    .iter()
                    .map(|(v, status)| VersionEntry {
                        version: Version::parse(v).expect("version"),
                        wit: "snapact:adapter@0.1.0".into(),
                        digest: String::new(),
                        archive_digest: String::new(),
                        size: 0,
                        path: format!("packages/{id}/{v}.tar"),
                        key_id: None,
                        signature: None,
                        vendor: String::new(),
                        description: String::new(),
                        capabilities: CapabilitySummary::default(),
                        status: *status,
                        reason: (*status == Status::Revoked).then(|| "leaks tokens".into()),
                        replacement: None,
                    })
                    .collect(),
            },
        );
        save_cached_index(root, &index).expect("save index");
    }

    #[test]
    fn the_newest_version_matching_the_requirement_is_selected() {
        let root = tempfile::tempdir().expect("tempdir");
        let key = SecretKey::generate().expect("key");
        for v in ["1.0.0", "1.2.0", "1.10.0", "2.0.0"] {
            install(root.path(), "demo", v, Some(&key));
        }
        let policy = trusting(&key);
        let got = |s: &str| {
            resolve(root.path(), &spec(s), &policy)
                .expect(s)
                .package
                .manifest()
                .version
                .to_string()
        };
        assert_eq!(got("demo"), "2.0.0");
        assert_eq!(got("demo@^1"), "1.10.0");
        assert_eq!(got("demo@~1.2"), "1.2.0");
        assert_eq!(got("demo@=1.0.0"), "1.0.0");
        let r = resolve(root.path(), &spec("demo@^1"), &policy).expect("resolves");
        assert_eq!(r.publisher.as_deref(), Some(key.public().id()));
        assert_eq!(r.location, Location::Installed);

        let e = resolve(root.path(), &spec("demo@^3"), &policy).expect_err("no match");
        assert!(matches!(e.kind(), ResolveErrorKind::NoMatch { .. }), "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("no installed version matches `^3`"),
            "{shown}"
        );
        assert!(shown.contains("2.0.0, 1.10.0, 1.2.0, 1.0.0"), "{shown}");
        assert!(
            shown.contains("snapact-host adapter install demo@^3 --registry URL"),
            "{shown}"
        );

        let e = resolve(root.path(), &spec("other"), &policy).expect_err("missing");
        let shown = e.to_string();
        assert!(
            shown.contains("adapter `other` (wanted: *) is not installed"),
            "{shown}"
        );
        assert!(
            shown.contains("snapact-host adapter build adapters/other"),
            "{shown}"
        );
    }

    #[test]
    fn a_local_build_is_one_more_version_and_loses_ties() {
        let root = tempfile::tempdir().expect("tempdir");
        let policy = TrustPolicy::permissive();
        write_package(&root.path().join("demo"), "demo", "1.5.0");
        install(root.path(), "demo", "1.0.0", None);
        let r = resolve(root.path(), &spec("demo"), &policy).expect("resolves");
        assert_eq!(r.location, Location::LocalBuild);
        assert_eq!(r.package.manifest().version.to_string(), "1.5.0");
        install(root.path(), "demo", "1.5.0", None);
        let r = resolve(root.path(), &spec("demo"), &policy).expect("resolves");
        assert_eq!(r.location, Location::Installed);
        assert_eq!(r.package.dir(), root.path().join("demo").join("1.5.0"));
        // Signatures are required by default: the unsigned local build is
        // refused, naming what to do.
        let e = resolve(root.path(), &spec("demo"), &TrustPolicy::default()).expect_err("unsigned");
        let shown = e.to_string();
        assert!(shown.contains("1.5.0: adapter demo@1.5.0"), "{shown}");
        assert!(
            shown.contains("is not signed, and [adapters] require_signatures is on"),
            "{shown}"
        );
        assert!(
            shown.contains("`snapact-host adapter rollback demo` to select 1.0.0"),
            "{shown}"
        );
    }

    #[test]
    fn signatures_are_checked_against_the_trusted_keys() {
        let root = tempfile::tempdir().expect("tempdir");
        let publisher = SecretKey::generate().expect("key");
        let stranger = SecretKey::generate().expect("key");
        let dir = install(root.path(), "demo", "1.0.0", Some(&stranger));
        let e = resolve(root.path(), &spec("demo"), &trusting(&publisher)).expect_err("untrusted");
        let shown = e.to_string();
        assert!(
            shown.contains(&format!(
                "is signed by key {}, which is not in [adapters] trusted_keys",
                stranger.public().id()
            )),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("add \"{}\"", stranger.public())),
            "{shown}"
        );
        // Without required signatures an untrusted signer is let through
        // (with a warning), and reported.
        let r =
            resolve(root.path(), &spec("demo"), &TrustPolicy::permissive()).expect("permissive");
        assert_eq!(r.publisher.as_deref(), Some(stranger.public().id()));
        assert!(matches!(r.signature, SignatureStatus::Untrusted { .. }));

        // A changed wasm is refused whatever the policy.
        let mut wasm = std::fs::read(dir.join(WASM_FILE)).expect("read");
        wasm.extend_from_slice(&[0x00, 0x02, 0x01, b'x']);
        std::fs::write(dir.join(WASM_FILE), wasm).expect("tamper");
        for policy in [trusting(&stranger), TrustPolicy::permissive()] {
            let e = resolve(root.path(), &spec("demo"), &policy).expect_err("tampered");
            let shown = e.to_string();
            assert!(
                shown.contains("adapter.wasm was changed after it was signed by key"),
                "{shown}"
            );
        }
        // So is a widened manifest under an intact wasm.
        let dir = install(root.path(), "demo", "1.1.0", Some(&stranger));
        let manifest = std::fs::read_to_string(dir.join(MANIFEST_FILE)).expect("read");
        std::fs::write(
            dir.join(MANIFEST_FILE),
            format!("{manifest}[capabilities]\nhttp_hosts = [\"evil.example\"]\n"),
        )
        .expect("widen");
        let e =
            resolve(root.path(), &spec("demo@=1.1.0"), &trusting(&stranger)).expect_err("widened");
        assert!(
            e.to_string()
                .contains("does not match adapter.toml and adapter.wasm"),
            "{e}"
        );
    }

    #[test]
    fn a_revoked_version_is_passed_over_and_named() {
        let root = tempfile::tempdir().expect("tempdir");
        let key = SecretKey::generate().expect("key");
        for v in ["1.0.0", "1.1.0", "1.2.0"] {
            install(root.path(), "demo", v, Some(&key));
        }
        revoke(
            root.path(),
            "demo",
            &[
                ("1.0.0", Status::Listed),
                ("1.1.0", Status::Yanked),
                ("1.2.0", Status::Revoked),
                ("1.3.0", Status::Listed),
            ],
        );
        let r = resolve(root.path(), &spec("demo"), &trusting(&key)).expect("resolves");
        // Yanked still runs; revoked never does.
        assert_eq!(r.package.manifest().version.to_string(), "1.1.0");
        assert_eq!(r.passed_over, [Version::new(1, 2, 0)]);
        let e = resolve(root.path(), &spec("demo@=1.2.0"), &trusting(&key)).expect_err("revoked");
        let shown = e.to_string();
        assert!(
            shown.contains("1.2.0: revoked by the registry (leaks tokens); move to 1.3.0"),
            "{shown}"
        );
    }

    #[test]
    fn the_warning_about_a_passed_over_version_says_why_and_what_to_do() {
        let v = |s: &str| Version::parse(s).expect("version");
        let revoked = |replacement: Option<&str>| Refusal::Revoked {
            reason: Some("leaks tokens".into()),
            replacement: replacement.map(v),
        };
        // The replacement is not installed: install it, remove the revoked one.
        let advice =
            passed_over_advice("demo", &v("1.1.0"), &[(v("1.2.0"), revoked(Some("1.3.0")))]);
        assert_eq!(
            advice,
            "demo@1.2.0 was revoked by the registry (leaks tokens); the registry's replacement is \
             1.3.0: install it with `snapact-host adapter install demo@=1.3.0`; remove it with \
             `snapact-host adapter remove demo@1.2.0`"
        );
        // The replacement is what now runs: only the removal is left to do.
        let advice =
            passed_over_advice("demo", &v("1.1.0"), &[(v("1.2.0"), revoked(Some("1.1.0")))]);
        assert!(
            advice.contains("demo@1.1.0, the registry's replacement, runs now"),
            "{advice}"
        );
        assert!(!advice.contains("adapter install"), "{advice}");
        let advice = passed_over_advice("demo", &v("1.1.0"), &[(v("1.2.0"), revoked(None))]);
        assert!(
            advice.contains("the registry lists no replacement"),
            "{advice}"
        );
    }

    #[test]
    fn a_refused_newest_version_never_points_rollback_at_a_revoked_one() {
        let root = tempfile::tempdir().expect("tempdir");
        let key = SecretKey::generate().expect("key");
        for v in ["1.0.0", "1.1.0"] {
            install(root.path(), "demo", v, Some(&key));
        }
        // The newest is unsigned, the one below it revoked: rollback would
        // end on 1.0.0, so that is the version the hint names.
        install(root.path(), "demo", "1.2.0", None);
        revoke(
            root.path(),
            "demo",
            &[("1.0.0", Status::Listed), ("1.1.0", Status::Revoked)],
        );
        let e = resolve(root.path(), &spec("demo"), &trusting(&key)).expect_err("unsigned");
        let shown = e.to_string();
        assert!(
            shown.contains("`snapact-host adapter rollback demo` to select 1.0.0"),
            "{shown}"
        );
        assert!(!shown.contains("to select 1.1.0"), "{shown}");
    }

    #[test]
    fn rollback_sets_the_newest_aside_and_refuses_without_a_previous() {
        let root = tempfile::tempdir().expect("tempdir");
        let policy = TrustPolicy::permissive();
        install(root.path(), "demo", "1.0.0", None);
        let e = rollback(root.path(), "demo").expect_err("single");
        assert!(e.to_string().contains("has only version 1.0.0"), "{e}");
        install(root.path(), "demo", "1.1.0", None);
        write_package(&root.path().join("demo"), "demo", "1.2.0");
        let done = rollback(root.path(), "demo").expect("rollback");
        assert_eq!(done.set_aside, Version::new(1, 2, 0));
        assert_eq!(done.now_newest, Version::new(1, 1, 0));
        assert!(!root.path().join("demo").join(MANIFEST_FILE).exists());
        assert!(
            root.path()
                .join("demo/.rolled-back/1.2.0.local")
                .join(MANIFEST_FILE)
                .is_file()
        );
        let r = resolve(root.path(), &spec("demo"), &policy).expect("resolves");
        assert_eq!(r.package.manifest().version.to_string(), "1.1.0");
        rollback(root.path(), "demo").expect("again");
        let r = resolve(root.path(), &spec("demo"), &policy).expect("resolves");
        assert_eq!(r.package.manifest().version.to_string(), "1.0.0");
        let set_aside: Vec<String> = rolled_back(root.path(), "demo")
            .expect("rolled back")
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        assert_eq!(set_aside, ["1.2.0", "1.1.0"]);
        // Every copy of a version goes; the last version takes `<id>/` with it.
        let removed = remove(root.path(), "demo", Some(&Version::new(1, 2, 0))).expect("remove");
        assert_eq!(removed.len(), 1);
        let e = remove(root.path(), "demo", Some(&Version::new(9, 0, 0))).expect_err("absent");
        assert!(e.to_string().contains("has no version 9.0.0"), "{e}");
        remove(root.path(), "demo", None).expect("remove all");
        assert!(!root.path().join("demo").exists());
        assert!(adapter_ids(root.path()).expect("ids").is_empty());
    }

    #[test]
    fn staged_packages_are_invisible_until_committed() {
        let root = tempfile::tempdir().expect("tempdir");
        let policy = TrustPolicy::permissive();
        let staging = Staging::new(root.path(), "demo").expect("staging");
        write_package(staging.path(), "demo", "1.0.0");
        assert!(adapter_ids(root.path()).expect("ids").is_empty());
        assert!(resolve(root.path(), &spec("demo"), &policy).is_err());
        let digest = Package::open(staging.path()).expect("open").digest_hex();
        let placed = staging
            .commit("demo", &Version::new(1, 0, 0), &digest)
            .expect("commit")
            .expect("placed");
        assert_eq!(placed, root.path().join("demo/1.0.0"));
        assert!(resolve(root.path(), &spec("demo"), &policy).is_ok());
        // The same package again changes nothing; another one is refused.
        let again = Staging::new(root.path(), "demo").expect("staging");
        write_package(again.path(), "demo", "1.0.0");
        assert_eq!(
            again
                .commit("demo", &Version::new(1, 0, 0), &digest)
                .expect("same"),
            None
        );
        let other = Staging::new(root.path(), "demo").expect("staging");
        write_package(other.path(), "demo", "1.0.0");
        let e = other
            .commit("demo", &Version::new(1, 0, 0), "00")
            .expect_err("different");
        assert!(e.to_string().contains("already installed"), "{e}");
        // Dropped stagings leave nothing behind.
        let names: Vec<String> = std::fs::read_dir(root.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
