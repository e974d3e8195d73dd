//! A package as one file: a tar of `adapter.toml`, `adapter.wasm`,
//! `adapter.sig` (when signed) and `adapter.sha256` (the wasm's digest, so
//! a damaged download is caught before anything else is read).
//!
//! Packing is deterministic: the same package always gives the same bytes
//! (fixed order, mode 0644, mtime 0, uid/gid 0, no user names), so a
//! registry can tell a re-publish of the same package from a different one.
//! Unpacking accepts exactly those regular files, each at most once, and
//! nothing else: no directories, links or paths.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{MANIFEST_FILE, SIGNATURE_FILE, WASM_FILE};

/// The digest file inside an archive (not part of the package folder).
pub const DIGEST_FILE: &str = "adapter.sha256";

/// Largest `adapter.toml` accepted from an archive.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Largest `adapter.sig` accepted from an archive.
const MAX_SIGNATURE_BYTES: u64 = 64 << 10;
/// Largest `adapter.wasm` accepted from an archive.
pub const MAX_WASM_BYTES: u64 = 512 << 20;

/// The files of a package, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFiles {
    /// `adapter.toml`.
    pub manifest: Vec<u8>,
    /// `adapter.wasm`.
    pub wasm: Vec<u8>,
    /// `adapter.sig`, when signed.
    pub signature: Option<Vec<u8>>,
}

/// Why an archive or package folder cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file cannot be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// The archive is not a package archive.
    #[error("{origin}: not an adapter package archive: {message}")]
    Invalid {
        /// Where the archive came from (file or URL).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// `adapter.wasm` is not the file the archive's digest names.
    #[error(
        "{origin}: adapter.wasm has digest sha256:{actual} but the archive says {expected}: \
         the archive is damaged or was altered; download it again, and do not use it if this repeats"
    )]
    DigestMismatch {
        /// Where the archive came from.
        origin: String,
        /// What `adapter.sha256` says.
        expected: String,
        /// What the wasm hashes to.
        actual: String,
    },
}

impl PackageFiles {
    /// Read a package folder's files (`adapter.sig` if present).
    pub fn read_dir(dir: &Path) -> Result<PackageFiles, ArchiveError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|error| ArchiveError::Io { path, error })
        };
        let signature = match std::fs::read(dir.join(SIGNATURE_FILE)) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(ArchiveError::Io {
                    path: dir.join(SIGNATURE_FILE),
                    error,
                });
            }
        };
        Ok(PackageFiles {
            manifest: read(MANIFEST_FILE)?,
            wasm: read(WASM_FILE)?,
            signature,
        })
    }

    /// Write the files into `dir` (which must exist) and flush them to disk.
    pub fn write_dir(&self, dir: &Path) -> Result<(), ArchiveError> {
        let mut files = vec![(MANIFEST_FILE, &self.manifest), (WASM_FILE, &self.wasm)];
        if let Some(sig) = &self.signature {
            files.push((SIGNATURE_FILE, sig));
        }
        for (name, bytes) in files {
            let path = dir.join(name);
            write_synced(&path, bytes).map_err(|error| ArchiveError::Io { path, error })?;
        }
        Ok(())
    }

    /// sha256 of `adapter.wasm`, hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.wasm))
    }

    /// The deterministic tar of these files.
    pub fn pack(&self) -> Vec<u8> {
        let digest_line = format!("sha256:{}\n", self.digest_hex());
        let mut entries: Vec<(&str, &[u8])> =
            vec![(MANIFEST_FILE, &self.manifest), (WASM_FILE, &self.wasm)];
        if let Some(sig) = &self.signature {
            entries.push((SIGNATURE_FILE, sig));
        }
        entries.push((DIGEST_FILE, digest_line.as_bytes()));

        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in entries {
            let mut header = tar::Header::new_ustar();
            // Names are fixed, short ASCII: setting them cannot fail.
            if let Err(e) = header.set_path(name) {
                unreachable!("tar path {name}: {e}");
            }
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            if let Err(e) = builder.append(&header, bytes) {
                unreachable!("writing a tar into memory failed: {e}");
            }
        }
        match builder.into_inner() {
            Ok(bytes) => bytes,
            Err(e) => unreachable!("finishing a tar in memory failed: {e}"),
        }
    }

    /// Read a package archive; `origin` names it in errors. The wasm must
    /// match the archive's digest.
    pub fn unpack(bytes: &[u8], origin: &str) -> Result<PackageFiles, ArchiveError> {
        let invalid = |message: String| ArchiveError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let mut manifest = None;
        let mut wasm = None;
        let mut signature = None;
        let mut digest = None;
        let mut archive = tar::Archive::new(bytes);
        let entries = archive
            .entries()
            .map_err(|e| invalid(format!("unreadable tar ({e})")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| invalid(format!("unreadable tar entry ({e})")))?;
            let path = entry
                .path()
                .map_err(|e| invalid(format!("unreadable entry name ({e})")))?
                .into_owned();
            let name = path.to_string_lossy().into_owned();
            let (slot, max) = match name.as_str() {
                MANIFEST_FILE => (&mut manifest, MAX_MANIFEST_BYTES),
                WASM_FILE => (&mut wasm, MAX_WASM_BYTES),
                SIGNATURE_FILE => (&mut signature, MAX_SIGNATURE_BYTES),
                DIGEST_FILE => (&mut digest, 1024),
                _ => {
                    return Err(invalid(format!(
                        "unexpected entry {name:?} (a package archive holds only \
                         {MANIFEST_FILE}, {WASM_FILE}, {SIGNATURE_FILE} and {DIGEST_FILE})"
                    )));
                }
            };
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(invalid(format!("{name} is not a regular file")));
            }
            if slot.is_some() {
                return Err(invalid(format!("{name} appears twice")));
            }
            let size = entry.size();
            if size > max {
                return Err(invalid(format!(
                    "{name} is {size} bytes, more than the {max} accepted"
                )));
            }
            let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            std::io::Read::read_to_end(&mut entry, &mut buf)
                .map_err(|e| invalid(format!("cannot read {name} ({e})")))?;
            *slot = Some(buf);
        }
        let missing = |name: &str| invalid(format!("{name} is missing"));
        let files = PackageFiles {
            manifest: manifest.ok_or_else(|| missing(MANIFEST_FILE))?,
            wasm: wasm.ok_or_else(|| missing(WASM_FILE))?,
            signature,
        };
        let digest = digest.ok_or_else(|| missing(DIGEST_FILE))?;
        let expected = String::from_utf8_lossy(&digest).trim().to_string();
        let actual = files.digest_hex();
        if expected != format!("sha256:{actual}") {
            return Err(ArchiveError::DigestMismatch {
                origin: origin.to_string(),
                expected,
                actual,
            });
        }
        Ok(files)
    }
}

/// Write `bytes` to a new or truncated file and flush it to disk.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> PackageFiles {
        PackageFiles {
            manifest: b"id = \"demo\"\n".to_vec(),
            wasm: b"\0asm\x0d\0\x01\0".to_vec(),
            signature: Some(b"{}".to_vec()),
        }
    }

    #[test]
    fn packing_is_deterministic_and_round_trips() {
        let a = files().pack();
        let b = files().pack();
        assert_eq!(a, b);
        assert_eq!(PackageFiles::unpack(&a, "t.tar").expect("unpack"), files());
        let unsigned = PackageFiles {
            signature: None,
            ..files()
        };
        let c = unsigned.pack();
        assert_eq!(PackageFiles::unpack(&c, "t.tar").expect("unpack"), unsigned);
        // Names and order are fixed.
        let mut archive = tar::Archive::new(&a[..]);
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                assert_eq!(e.header().mtime().expect("mtime"), 0);
                assert_eq!(e.header().mode().expect("mode"), 0o644);
                e.path().expect("path").to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [MANIFEST_FILE, WASM_FILE, SIGNATURE_FILE, DIGEST_FILE]
        );
    }

    fn tar_of(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes, kind) in entries {
            let mut header = tar::Header::new_gnu();
            // Raw name bytes: `set_path` itself refuses `..`, and the
            // point is to see that unpacking does too.
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_size(bytes.len() as u64);
            header.set_entry_type(*kind);
            header.set_cksum();
            builder.append(&header, *bytes).expect("append");
        }
        builder.into_inner().expect("finish")
    }

    #[test]
    fn a_changed_wasm_is_a_digest_mismatch() {
        let f = files();
        let digest = format!("sha256:{}\n", f.digest_hex());
        let bytes = tar_of(&[
            (MANIFEST_FILE, &f.manifest, tar::EntryType::Regular),
            (
                WASM_FILE,
                b"\0asm\x0d\0\x01\0 tampered",
                tar::EntryType::Regular,
            ),
            (DIGEST_FILE, digest.as_bytes(), tar::EntryType::Regular),
        ]);
        let e = PackageFiles::unpack(&bytes, "demo.tar").expect_err("tampered");
        assert!(matches!(e, ArchiveError::DigestMismatch { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("demo.tar: adapter.wasm has digest"),
            "{e}"
        );
    }

    #[test]
    fn anything_but_the_package_files_is_refused() {
        let r = tar::EntryType::Regular;
        for (entries, says) in [
            (
                vec![("../adapter.toml", &b"x"[..], r)],
                "unexpected entry \"../adapter.toml\"",
            ),
            (vec![("x/adapter.wasm", &b"x"[..], r)], "unexpected entry"),
            (
                vec![(MANIFEST_FILE, &b""[..], tar::EntryType::Symlink)],
                "not a regular file",
            ),
            (
                vec![(MANIFEST_FILE, &b"a"[..], r), (MANIFEST_FILE, &b"b"[..], r)],
                "appears twice",
            ),
            (
                vec![(MANIFEST_FILE, &b"a"[..], r)],
                "adapter.wasm is missing",
            ),
        ] {
            let e = PackageFiles::unpack(&tar_of(&entries), "p.tar")
                .expect_err(says)
                .to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        let e = PackageFiles::unpack(b"not a tar at all, just text", "p.tar").expect_err("text");
        assert!(
            e.to_string().contains("not an adapter package archive"),
            "{e}"
        );
    }
}
