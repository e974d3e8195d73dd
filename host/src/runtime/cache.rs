//! Compiled adapters on disk, so a restart does not recompile.
//!
//! A cache file is named by the component's sha256 and the engine's
//! compatibility key. It holds a magic line, the sha256 of the compiled
//! bytes, and the bytes; a file that is short, altered or from another
//! engine is ignored (logged) and rewritten. Files are written to a temporary
//! name and renamed, so a reader never sees a partial file.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 16] = b"SNAPACT-CWASM-1\n";

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
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read compiled-code cache file; recompiling");
                return None;
            }
        };
        let Some(code) = verified_payload(&bytes) else {
            tracing::warn!(path = %path.display(), "compiled-code cache file is corrupt; recompiling and rewriting it");
            return None;
        };
        // SAFETY: `Component::deserialize` runs the machine code it is given,
        // so the bytes must come from `Component::serialize` of a compatible
        // engine. They do: this host is the only writer of the cache folder,
        // writes whole files atomically, and the sha256 just checked proves
        // the bytes are the ones it wrote. Engine compatibility is part of
        // the file name and is checked again by wasmtime, which returns an
        // error (not undefined behaviour) on a mismatch.
        let component = unsafe { Component::deserialize(engine, code) };
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
        let tmp = self.dir.join(format!(
            ".{wasm_digest_hex}.{}.{}.tmp",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let mut file_bytes = Vec::with_capacity(MAGIC.len() + 32 + code.len());
        file_bytes.extend_from_slice(MAGIC);
        file_bytes.extend_from_slice(&Sha256::digest(&code));
        file_bytes.extend_from_slice(&code);
        let result = write_synced(&tmp, &file_bytes).and_then(|()| std::fs::rename(&tmp, &path));
        if result.is_err() {
            // Best effort: the temporary file is ours; the error is reported.
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(result?)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn verified_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 32 {
        return None;
    }
    let (digest, code) = rest.split_at(32);
    (Sha256::digest(code).as_slice() == digest).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_must_match_its_digest() {
        let code = b"compiled";
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&Sha256::digest(code));
        file.extend_from_slice(code);
        assert_eq!(verified_payload(&file), Some(code.as_slice()));

        let mut altered = file.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(verified_payload(&altered), None);
        assert_eq!(verified_payload(&file[..40]), None);
        assert_eq!(verified_payload(b"garbage"), None);
    }
}
