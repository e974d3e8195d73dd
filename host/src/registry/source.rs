//! Where a registry is: a folder, or any static HTTP host serving one
//! (`https://`; plain `http://` only to this machine). Reading fetches
//! `index.json` and the package archives it points at; a folder registry
//! can also be written: publish, yank and revoke.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;
use sha2::{Digest, Sha256};

use super::archive::{MAX_WASM_BYTES, PackageFiles};
use super::index::{CapabilitySummary, INDEX_FILE, Index, IndexError, Status, VersionEntry};
use super::installed::{save_cached_index, write_file_atomic};
use super::signature::verify_signature_file;
use super::{Package, SignatureFile};

/// Largest `index.json` accepted.
const MAX_INDEX_BYTES: u64 = 32 << 20;
/// Largest package archive accepted (the wasm cap plus room for the rest).
const MAX_ARCHIVE_BYTES: u64 = MAX_WASM_BYTES + (4 << 20);

/// A registry location, as given on the command line or in
/// `[adapters] registry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrySource {
    /// A folder holding `index.json`.
    Dir(PathBuf),
    /// The URL of the folder holding `index.json` (always ends in `/`).
    Http(url::Url),
}

/// Why a registry cannot be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not a folder or usable URL.
    #[error("registry {given:?}: {message}")]
    BadLocation {
        /// What was given.
        given: String,
        /// What is wrong.
        message: String,
    },
    /// A file cannot be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// A download failed.
    #[error("{url}: {message}")]
    Http {
        /// What was fetched.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The index is not valid.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The adapters folder cannot take the cached index.
    #[error(transparent)]
    Installed(Box<super::installed::InstalledError>),
    /// A download does not match what the index says.
    #[error(
        "{origin}: the download's sha256 is {actual}, but the index says {expected}: \
         the registry or the connection altered it; try again, and do not install it if this repeats"
    )]
    ArchiveMismatch {
        /// What was fetched.
        origin: String,
        /// What the index says.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// A change to a folder registry was refused.
    #[error("{0}")]
    Refused(String),
}

impl From<super::installed::InstalledError> for RegistryError {
    fn from(e: super::installed::InstalledError) -> Self {
        RegistryError::Installed(Box::new(e))
    }
}

impl std::str::FromStr for RegistrySource {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, RegistryError> {
        let bad = |message: String| RegistryError::BadLocation {
            given: s.to_string(),
            message,
        };
        let lower = s.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            if lower.contains("://") {
                return Err(bad(
                    "only folders, https:// and (to this machine) http:// registries are supported"
                        .into(),
                ));
            }
            if s.is_empty() {
                return Err(bad("empty: give a folder or an https:// URL".into()));
            }
            return Ok(RegistrySource::Dir(PathBuf::from(s)));
        }
        let mut url = url::Url::parse(s).map_err(|e| bad(format!("not a URL: {e}")))?;
        if url.scheme() == "http" && !crate::pos::is_loopback(&url) {
            return Err(bad(
                "plain http is allowed only to this machine (localhost, 127.0.0.1, [::1]); use https"
                    .into(),
            ));
        }
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad(
                "give the registry's base URL without credentials, query or fragment".into(),
            ));
        }
        // `.../index.json` and `.../` both name the folder holding it.
        if url.path().ends_with(&format!("/{INDEX_FILE}")) {
            url = url.join("./").map_err(|e| bad(format!("not a URL: {e}")))?;
        } else if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(RegistrySource::Http(url))
    }
}

impl fmt::Display for RegistrySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrySource::Dir(d) => write!(f, "{}", d.display()),
            RegistrySource::Http(u) => write!(f, "{u}"),
        }
    }
}

impl RegistrySource {
    /// Where `index.json` is, for messages.
    pub fn index_location(&self) -> String {
        self.location_of(INDEX_FILE)
    }

    fn location_of(&self, rel: &str) -> String {
        match self {
            RegistrySource::Dir(d) => d.join(rel).display().to_string(),
            RegistrySource::Http(u) => u
                .join(rel)
                .map_or_else(|_| format!("{u}{rel}"), |u| u.to_string()),
        }
    }

    /// Fetch and check the index.
    pub async fn fetch_index(&self) -> Result<Index, RegistryError> {
        let bytes = self.fetch(INDEX_FILE, MAX_INDEX_BYTES).await?;
        Ok(Index::parse(&bytes, &self.index_location())?)
    }

    /// Fetch a version's archive and check it against the index entry.
    pub async fn fetch_archive(&self, entry: &VersionEntry) -> Result<Vec<u8>, RegistryError> {
        let max = entry.size.min(MAX_ARCHIVE_BYTES);
        let bytes = self.fetch(&entry.path, max).await?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != entry.archive_digest {
            return Err(RegistryError::ArchiveMismatch {
                origin: self.location_of(&entry.path),
                expected: entry.archive_digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// `rel` (checked by the index to stay inside the registry), at most
    /// `max` bytes.
    async fn fetch(&self, rel: &str, max: u64) -> Result<Vec<u8>, RegistryError> {
        match self {
            RegistrySource::Dir(dir) => {
                let path = dir.join(rel);
                let io = |error| RegistryError::Io {
                    path: path.clone(),
                    error,
                };
                let meta = tokio::fs::metadata(&path).await.map_err(io)?;
                if meta.len() > max {
                    return Err(RegistryError::Refused(format!(
                        "{}: {} bytes, more than the {max} expected",
                        path.display(),
                        meta.len()
                    )));
                }
                tokio::fs::read(&path).await.map_err(io)
            }
            RegistrySource::Http(base) => {
                let url = base.join(rel).map_err(|e| RegistryError::Http {
                    url: format!("{base}{rel}"),
                    message: format!("not a URL: {e}"),
                })?;
                download(&url, max).await
            }
        }
    }
}

async fn download(url: &url::Url, max: u64) -> Result<Vec<u8>, RegistryError> {
    let err = |message: String| RegistryError::Http {
        url: url.to_string(),
        message,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        // A registry that redirects elsewhere is named by its final
        // location: refuse, so `http://` to this machine cannot turn into
        // plain http to another.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("snapact-host/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| err(format!("cannot set up the HTTP client: {e}")))?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| err(format!("request failed: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(err(format!(
            "answered {status}{}",
            if status.is_redirection() {
                " (redirects are not followed: give the final URL)"
            } else {
                ""
            }
        )));
    }
    if response.content_length().is_some_and(|n| n > max) {
        return Err(err(format!("larger than the {max} bytes expected")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| err(format!("download failed: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > max {
            return Err(err(format!("larger than the {max} bytes expected")));
        }
    }
    Ok(body)
}

/// Fetch `registry`'s index and keep it as `<dir>/.registry/index.json`,
/// where [`resolve`](super::resolve) reads revocations. Call it
/// periodically from a running host to pick up revocations.
pub async fn refresh_index(dir: &Path, registry: &RegistrySource) -> Result<Index, RegistryError> {
    let index = registry.fetch_index().await?;
    save_cached_index(dir, &index)?;
    Ok(index)
}

// ---------- writing a folder registry ----------

/// A registry folder being changed: holds its lock file until dropped, so
/// two publishers never write the index at once.
pub struct RegistryDir {
    dir: PathBuf,
    index: Index,
    _lock: std::fs::File,
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new version was added.
    Added(VersionEntry),
    /// The same bytes were published already; nothing changed.
    AlreadyPublished(VersionEntry),
}

impl RegistryDir {
    /// Open (creating it if needed) the registry folder `dir` for changes.
    pub fn open(dir: &Path) -> Result<RegistryDir, RegistryError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| RegistryError::Io { path, error }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let index_path = dir.join(INDEX_FILE);
        let index = match std::fs::read(&index_path) {
            Ok(bytes) => Index::parse(&bytes, &index_path.display().to_string())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::default(),
            Err(e) => return Err(io(&index_path)(e)),
        };
        Ok(RegistryDir {
            dir: dir.to_path_buf(),
            index,
            _lock: lock,
        })
    }

    /// The index as it stands.
    pub fn index(&self) -> &Index {
        &self.index
    }

    fn save(&self) -> Result<(), RegistryError> {
        let path = self.dir.join(INDEX_FILE);
        write_file_atomic(&path, &self.index.to_json())
            .map_err(|error| RegistryError::Io { path, error })
    }

    /// Add a package (its folder, already opened and checked with
    /// [`Package::open`], and its files) as a new version. Unsigned
    /// packages only with `allow_unsigned`; a signature must verify. A
    /// version already published with other bytes is refused.
    pub fn publish(
        &mut self,
        pkg: &Package,
        files: &PackageFiles,
        allow_unsigned: bool,
    ) -> Result<Published, RegistryError> {
        let m = pkg.manifest();
        let signature = match &files.signature {
            Some(bytes) => {
                let file = SignatureFile::parse(bytes, &pkg.dir().join(super::SIGNATURE_FILE))
                    .map_err(|e| RegistryError::Refused(e.to_string()))?;
                Some(
                    verify_signature_file(pkg, file)
                        .map_err(|e| RegistryError::Refused(e.for_publisher(pkg.dir())))?,
                )
            }
            None if allow_unsigned => None,
            None => {
                return Err(RegistryError::Refused(format!(
                    "{}@{} is not signed: sign it with `snapact-host adapter sign {} --key KEY` \
                     (hosts require signatures by default), or pass --allow-unsigned",
                    m.id,
                    m.version,
                    pkg.dir().display()
                )));
            }
        };
        let archive = files.pack();
        let archive_digest = format!("sha256:{}", hex::encode(Sha256::digest(&archive)));
        if let Some(existing) = self.index.entry(&m.id, &m.version) {
            if existing.archive_digest == archive_digest {
                return Ok(Published::AlreadyPublished(existing.clone()));
            }
            return Err(RegistryError::Refused(format!(
                "{}@{} is already published with different bytes (digest {}, archive {}); \
                 a published version never changes: bump the version in adapter.toml and publish that",
                m.id, m.version, existing.digest, existing.archive_digest
            )));
        }
        let rel = format!("packages/{}/{}-{}.tar", m.id, m.id, m.version);
        let path = self.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| RegistryError::Io {
                path: parent.to_path_buf(),
                error,
            })?;
        }
        // The archive first, then the index naming it: a reader never
        // sees an index entry without its file.
        write_file_atomic(&path, &archive).map_err(|error| RegistryError::Io {
            path: path.clone(),
            error,
        })?;
        let entry = VersionEntry {
            version: m.version.clone(),
            wit: m.wit.to_string(),
            digest: format!("sha256:{}", pkg.digest_hex()),
            archive_digest,
            size: archive.len() as u64,
            path: rel,
            key_id: signature.as_ref().map(|s| s.key.id().to_string()),
            signature: signature.as_ref().map(|s| s.file.signature.clone()),
            vendor: m.vendor.clone(),
            description: m.description.clone(),
            capabilities: CapabilitySummary::of(m),
            status: Status::Listed,
            reason: None,
            replacement: None,
        };
        let adapter = self.index.adapters.entry(m.id.clone()).or_default();
        adapter.versions.push(entry.clone());
        adapter.versions.sort_by(|a, b| a.version.cmp(&b.version));
        self.save()?;
        Ok(Published::Added(entry))
    }

    /// Mark `id@version` yanked (no new installs) or revoked (hosts refuse
    /// to run it). Revoking a yanked version is allowed; un-revoking is not.
    pub fn set_status(
        &mut self,
        id: &str,
        version: &Version,
        status: Status,
        reason: Option<String>,
        replacement: Option<Version>,
    ) -> Result<VersionEntry, RegistryError> {
        if let Some(r) = &replacement {
            match self.index.entry(id, r) {
                Some(e) if e.status == Status::Listed && r != version => {}
                _ => {
                    return Err(RegistryError::Refused(format!(
                        "replacement {id}@{r} is not a listed version in this registry: \
                         publish it first, or leave --replacement out"
                    )));
                }
            }
        }
        let known = self
            .index
            .versions(id)
            .iter()
            .map(|v| v.version.to_string())
            .collect::<Vec<_>>();
        let Some(entry) = self
            .index
            .adapters
            .get_mut(id)
            .and_then(|a| a.versions.iter_mut().find(|v| &v.version == version))
        else {
            return Err(RegistryError::Refused(format!(
                "{id}@{version} is not in this registry (versions of `{id}`: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        if entry.status == Status::Revoked && status != Status::Revoked {
            return Err(RegistryError::Refused(format!(
                "{id}@{version} is revoked; a revocation is never undone (hosts may have acted on it): \
                 publish a new version instead"
            )));
        }
        entry.status = status;
        if reason.is_some() {
            entry.reason = reason;
        }
        if replacement.is_some() {
            entry.replacement = replacement;
        }
        let entry = entry.clone();
        self.save()?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let p = |s: &str| s.parse::<RegistrySource>();
        assert_eq!(
            p("registry").expect("dir"),
            RegistrySource::Dir("registry".into())
        );
        for (given, base) in [
            (
                "https://adapters.example.com/r",
                "https://adapters.example.com/r/",
            ),
            (
                "https://adapters.example.com/r/",
                "https://adapters.example.com/r/",
            ),
            (
                "https://adapters.example.com/r/index.json",
                "https://adapters.example.com/r/",
            ),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ] {
            match p(given).expect(given) {
                RegistrySource::Http(u) => assert_eq!(u.as_str(), base, "{given}"),
                other => panic!("{given}: {other:?}"),
            }
        }
        for (bad, says) in [
            ("http://adapters.example.com/r", "only to this machine"),
            ("ftp://x/y", "only folders"),
            ("https://u:p@adapters.example.com/", "without credentials"),
            ("", "empty"),
        ] {
            let e = p(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
