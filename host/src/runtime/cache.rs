//! Compiled adapters on disk, so a restart does not recompile.
//!
//! A cache file `<wasm sha256>-<engine key>.cwasm` holds exactly what
//! `Component::serialize` wrote, so it can be mapped into memory rather than
//! read (`Component::deserialize_file`): its code pages are file-backed,
//! shared and loaded on first use, instead of a private copy of every
//! compiled component (tens of MiB for a Python or JavaScript adapter). Next
//! to it, `<same name>.sha256` holds the hex sha256 of the file; a file that
//! is altered, half-written or has no digest is ignored (logged) and
//! rewritten. Both are written to a temporary name and renamed, the code
//! first, so a reader never sees a partial file.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct CodeCache {
    dir: PathBuf,
    engine_key: String,
}

impl CodeCache {
    pub(crate) fn new(dir: PathBuf, engine_key: String) -> Self {
        CodeCache { dir, engine_key }
    }

    pub(crate) fn path(&self, wasm_digest_hex: &str) -> PathBuf {
        self.dir
            .join(format!("{wasm_digest_hex}-{}.cwasm", self.engine_key))
    }

    /// The cached component, or `None` (logged when a file was there but
    /// unusable).
    pub(crate) fn load(&self, engine: &Engine, wasm_digest_hex: &str) -> Option<Component> {
        let path = self.path(wasm_digest_hex);
        let expected = match std::fs::read_to_string(digest_path(&path)) {
            Ok(hex) => hex.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read compiled-code cache digest; recompiling");
                return None;
            }
        };
        match file_sha256_hex(&path) {
            Ok(actual) if actual == expected => {}
            Ok(_) => {
                tracing::warn!(path = %path.display(), "compiled-code cache file is corrupt; recompiling and rewriting it");
                return None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read compiled-code cache file; recompiling");
                return None;
            }
        }
        // SAFETY: `Component::deserialize_file` runs the machine code it is
        // given, so the file must come from `Component::serialize` of a
        // compatible engine, and must not change while mapped. It does not:
        // this host is the only writer of the cache folder, replaces files
        // only by renaming new ones over them (a mapping keeps the old
        // inode), and the sha256 just checked proves the bytes are the ones
        // it wrote. Engine compatibility is part of the file name and is
        // checked again by wasmtime, which returns an error (not undefined
        // behaviour) on a mismatch.
        let component = unsafe { Component::deserialize_file(engine, &path) };
        match component {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "compiled-code cache file is incompatible with this engine; recompiling and rewriting it");
                None
            }
        }
    }

    /// Write `component`'s compiled code. Failure only costs a recompile
    /// next time, so it is logged, not returned.
    pub(crate) fn store(&self, wasm_digest_hex: &str, component: &Component) {
        if let Err(e) = self.try_store(wasm_digest_hex, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write compiled-code cache; the next start will recompile");
        }
    }

    fn try_store(&self, wasm_digest_hex: &str, component: &Component) -> anyhow::Result<()> {
        let code = component
            .serialize()
            .map_err(|e| anyhow::anyhow!("failed to serialize compiled code: {e:#}"))?;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(wasm_digest_hex);
        let digest = hex::encode(Sha256::digest(&code));
        self.replace(wasm_digest_hex, &path, &code)?;
        self.replace(wasm_digest_hex, &digest_path(&path), digest.as_bytes())?;
        Ok(())
    }

    /// Write `bytes` to `path` through a synced temporary file and a rename.
    fn replace(&self, wasm_digest_hex: &str, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(
            ".{wasm_digest_hex}.{}.{}.tmp",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
        if result.is_err() {
            // Best effort: the temporary file is ours; the error is reported.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Where the digest of the cache file at `path` is kept.
fn digest_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The hex sha256 of a file, read in chunks (no copy of the whole file).
fn file_sha256_hex(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_used_only_with_its_digest_and_only_unaltered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CodeCache::new(dir.path().to_path_buf(), "engine".into());
        let path = cache.path("abc");
        cache.replace("abc", &path, b"compiled").expect("write");
        let engine = Engine::default();
        assert!(cache.load(&engine, "abc").is_none(), "no digest: not used");

        let digest = hex::encode(Sha256::digest(b"compiled"));
        cache
            .replace("abc", &digest_path(&path), digest.as_bytes())
            .expect("write digest");
        assert_eq!(file_sha256_hex(&path).expect("hash"), digest);
        std::fs::write(&path, b"compiles").expect("alter");
        assert_ne!(file_sha256_hex(&path).expect("hash"), digest);
        assert!(cache.load(&engine, "abc").is_none(), "altered: not used");
        assert!(
            digest_path(&path)
                .to_string_lossy()
                .ends_with("abc-engine.cwasm.sha256"),
            "{}",
            digest_path(&path).display()
        );
    }
}
