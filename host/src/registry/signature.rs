//! Publisher keys and package signatures (docs/packages.md, "Signatures").
//!
//! A publisher signs, with ed25519 (RFC 8032, pure), the bytes
//! [`signed_message`] builds from the package: a domain-separation line,
//! the sha256 of `adapter.wasm` and the manifest in canonical JSON. The
//! signature lives next to the package in `adapter.sig`; a host checks it
//! against the operator's trusted publisher keys ([`TrustPolicy`]).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Manifest, Package};

/// The signature file inside a package folder.
pub const SIGNATURE_FILE: &str = "adapter.sig";

/// The first bytes of every signed message: signatures made for anything
/// else (another program, another format version) never verify as a
/// package signature.
pub const SIGNED_PREFIX: &[u8] = b"snapact-adapter-signature-v1\n";

/// How a public key is written: `ed25519:<base64 of the 32 key bytes>`.
const PUBLIC_PREFIX: &str = "ed25519:";
/// How a private key file starts; the rest is the base64 32-byte seed.
const SECRET_PREFIX: &str = "snapact-ed25519-secret:";
/// Bytes of sha256(public key) in a key id (16 hex digits).
const KEY_ID_BYTES: usize = 8;
/// `format` of the `adapter.sig` this host writes and reads.
const SIGNATURE_FORMAT: u32 = 1;

/// A publisher's public key, as written in `[adapters] trusted_keys`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublisherKey {
    key: VerifyingKey,
    id: String,
}

/// What is wrong with a key or key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a public key string.
    #[error(
        "{text:?} is not a publisher key: expected \"ed25519:<base64 of 32 bytes>\" \
         as printed by `snapact-host keys generate`{detail}"
    )]
    BadPublicKey {
        /// What was given (public, so safe to show).
        text: String,
        /// Why, when there is more to say.
        detail: String,
    },
    /// A private key file is not one `keys generate` wrote.
    #[error(
        "{}: not a publisher private key file (expected one line \"{SECRET_PREFIX}<base64 of 32 bytes>\" \
         as written by `snapact-host keys generate`)",
        path.display()
    )]
    BadSecretKey {
        /// The file.
        path: PathBuf,
    },
    /// A key file cannot be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the operating system for a new key: {0}")]
    Randomness(String),
}

impl PublisherKey {
    /// Parse `ed25519:<base64>`.
    pub fn parse(text: &str) -> Result<PublisherKey, KeyError> {
        let text = text.trim();
        let bad = |detail: &str| KeyError::BadPublicKey {
            text: text.chars().take(100).collect(),
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            },
        };
        let b64 = text.strip_prefix(PUBLIC_PREFIX).ok_or_else(|| bad(""))?;
        let bytes = B64
            .decode(b64)
            .map_err(|e| bad(&format!("invalid base64: {e}")))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| bad(&format!("{} bytes, not 32", v.len())))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("not a point on the ed25519 curve"))?;
        if key.is_weak() {
            return Err(bad("a weak (small-order) key, which anyone can sign for"));
        }
        Ok(PublisherKey::from_verifying(key))
    }

    /// Read a `.pub` file (one key, as `keys generate` writes it).
    pub fn from_file(path: &Path) -> Result<PublisherKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        PublisherKey::parse(&text)
    }

    fn from_verifying(key: VerifyingKey) -> PublisherKey {
        let hash = Sha256::digest(key.as_bytes());
        PublisherKey {
            key,
            id: hex::encode(&hash[..KEY_ID_BYTES]),
        }
    }

    /// The key id: the first 16 hex digits of sha256(the 32 key bytes).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn verify(&self, message: &[u8], signature: &ed25519_dalek::Signature) -> bool {
        self.key.verify_strict(message, signature).is_ok()
    }
}

impl fmt::Display for PublisherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublisherKey({})", self.id)
    }
}

/// A publisher's private key. Never printed: `Debug` shows the key id only,
/// and the key bytes are wiped when it is dropped.
pub struct SecretKey {
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public().id())
    }
}

impl SecretKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<SecretKey, KeyError> {
        use rand::TryRngCore as _;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| KeyError::Randomness(e.to_string()))?;
        Ok(SecretKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Read a private key file written by [`SecretKey::write_new`].
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| KeyError::Io {
            path: path.to_path_buf(),
            error,
        })?);
        let bad = || KeyError::BadSecretKey {
            path: path.to_path_buf(),
        };
        let b64 = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(bad)?;
        let bytes = Zeroizing::new(B64.decode(b64).map_err(|_| bad())?);
        let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| bad())?;
        // Only once it is known to be a private key: a `.pub` given by
        // mistake is readable by all, and is no secret.
        warn_if_readable_by_others(path);
        Ok(SecretKey {
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Write the key to a new file readable by its owner only (0600); an
    /// existing file is never overwritten.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |error| KeyError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        let line = Zeroizing::new(format!(
            "{SECRET_PREFIX}{}\n",
            B64.encode(self.key.to_bytes())
        ));
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The matching public key.
    pub fn public(&self) -> PublisherKey {
        PublisherKey::from_verifying(self.key.verifying_key())
    }

    /// Sign `pkg`: the `adapter.sig` to write next to it.
    pub fn sign_package(&self, pkg: &Package) -> SignatureFile {
        self.sign(pkg.manifest(), pkg.digest())
    }

    /// Sign a manifest and the sha256 of its wasm, for a package this host
    /// cannot open (one built for another WIT version, say).
    pub fn sign(&self, manifest: &Manifest, digest: &[u8; 32]) -> SignatureFile {
        let signature = self.key.sign(&signed_message(manifest, digest));
        let public = self.public();
        SignatureFile {
            format: SIGNATURE_FORMAT,
            key_id: public.id().to_string(),
            public_key: public.to_string(),
            digest: format!("sha256:{}", hex::encode(digest)),
            signature: B64.encode(signature.to_bytes()),
        }
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the private key file is readable by other users: `chmod 600` it, \
                 and consider the key exposed if others could read it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The manifest as it is signed: compact JSON of the validated manifest,
/// keys in this fixed order: `id`, `version`, `wit`, `vendor`,
/// `description`, `capabilities` (`http_hosts`, `secrets`, `settings`),
/// `limits` (`memory_mb`, `timeout_ms`). Defaults are written out and hosts
/// are lower-cased, so two manifests that mean the same sign the same, and
/// every field that grants something is covered.
pub fn canonical_manifest(manifest: &Manifest) -> Vec<u8> {
    // `Manifest`'s derived `Serialize` writes the fields in declaration
    // order; a unit test pins the exact bytes, so a reordered or added
    // field cannot change them unnoticed.
    serde_json::to_vec(manifest).unwrap_or_else(|e| {
        // Serialising strings, integers and lists of strings cannot fail.
        unreachable!("manifest serialisation failed: {e}")
    })
}

/// The exact bytes a publisher signs:
///
/// ```text
/// snapact-adapter-signature-v1\n
/// sha256:<64 lower-case hex digits of sha256(adapter.wasm)>\n
/// <canonical_manifest>
/// ```
pub fn signed_message(manifest: &Manifest, digest: &[u8; 32]) -> Vec<u8> {
    let canonical = canonical_manifest(manifest);
    let mut m = Vec::with_capacity(SIGNED_PREFIX.len() + 8 + 64 + 1 + canonical.len());
    m.extend_from_slice(SIGNED_PREFIX);
    m.extend_from_slice(b"sha256:");
    m.extend_from_slice(hex::encode(digest).as_bytes());
    m.push(b'\n');
    m.extend_from_slice(&canonical);
    m
}

/// `adapter.sig`: who signed and the signature. `digest` repeats what was
/// signed so a changed `adapter.wasm` is named as such; the signature alone
/// is what is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always 1.
    pub format: u32,
    /// The signer's key id.
    pub key_id: String,
    /// The signer's public key, `ed25519:<base64>`.
    pub public_key: String,
    /// `sha256:<hex>` of the signed `adapter.wasm`.
    pub digest: String,
    /// The ed25519 signature of [`signed_message`], base64.
    pub signature: String,
}

impl SignatureFile {
    /// Read `adapter.sig` in `dir`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<SignatureFile>, SignatureError> {
        let path = dir.join(SIGNATURE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(SignatureError::Io { path, error }),
        };
        SignatureFile::parse(&bytes, &path).map(Some)
    }

    /// Parse `adapter.sig` bytes; `path` names them in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<SignatureFile, SignatureError> {
        let malformed = |message: String| SignatureError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let sig: SignatureFile =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not valid JSON: {e}")))?;
        if sig.format != SIGNATURE_FORMAT {
            return Err(malformed(format!(
                "format {} is not one this host reads (it reads {SIGNATURE_FORMAT}): upgrade snapact-host",
                sig.format
            )));
        }
        Ok(sig)
    }

    /// The JSON written to `adapter.sig`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .unwrap_or_else(|e| unreachable!("signature serialisation failed: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// Write `adapter.sig` into `dir` (replacing one that is there).
    pub fn write(&self, dir: &Path) -> Result<(), SignatureError> {
        let path = dir.join(SIGNATURE_FILE);
        super::installed::write_file_atomic(&path, &self.to_json())
            .map_err(|error| SignatureError::Io { path, error })
    }
}

/// How a package stands with respect to signatures, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// No `adapter.sig` (accepted only when signatures are not required).
    Unsigned,
    /// A valid signature by a trusted key.
    Trusted {
        /// The publisher's key id.
        key_id: String,
    },
    /// A valid signature by a key the operator does not trust (accepted
    /// only when signatures are not required).
    Untrusted {
        /// The publisher's key id.
        key_id: String,
        /// Its public key, to add to `trusted_keys`.
        public_key: String,
    },
}

impl SignatureStatus {
    /// The signer's key id, when the signature is valid.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            SignatureStatus::Unsigned => None,
            SignatureStatus::Trusted { key_id } | SignatureStatus::Untrusted { key_id, .. } => {
                Some(key_id)
            }
        }
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str("unsigned"),
            SignatureStatus::Trusted { key_id } => write!(f, "signed by trusted key {key_id}"),
            SignatureStatus::Untrusted { key_id, .. } => {
                write!(f, "signed by key {key_id}, which is not trusted")
            }
        }
    }
}

/// Why a package's signature is refused. Each names the package, the key
/// id when there is one, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// No signature, and the operator requires one.
    #[error(
        "{package} is not signed, and [adapters] require_signatures is on: install a signed version \
         (`snapact-host adapter install`), or sign it with `snapact-host adapter sign {dir} --key KEY` \
         and add that key to [adapters] trusted_keys; set require_signatures = false only for development",
        dir = dir.display()
    )]
    Unsigned {
        /// `id@version (folder)`.
        package: String,
        /// The package folder.
        dir: PathBuf,
    },
    /// A valid signature by a key that is not trusted.
    #[error(
        "{package} is signed by key {key_id}, which is not in [adapters] trusted_keys: if you trust \
         this publisher, add \"{public_key}\" to trusted_keys (check the key with them first); \
         otherwise do not use this package"
    )]
    UntrustedKey {
        /// `id@version (folder)`.
        package: String,
        /// The signer's key id.
        key_id: String,
        /// The signer's public key.
        public_key: String,
    },
    /// `adapter.wasm` is not the file that was signed.
    #[error(
        "{package}: adapter.wasm was changed after it was signed by key {key_id}: its digest is \
         sha256:{actual} but the signature covers {signed}; do not use it: remove it and install \
         the package again from its registry"
    )]
    DigestMismatch {
        /// `id@version (folder)`.
        package: String,
        /// The signer's key id, as `adapter.sig` claims it.
        key_id: String,
        /// The digest the signature file names.
        signed: String,
        /// The digest of the wasm present.
        actual: String,
    },
    /// The signature does not verify.
    #[error(
        "{package}: the signature by key {key_id} does not match adapter.toml and adapter.wasm \
         (the manifest was changed after signing, or adapter.sig is damaged); do not use it: \
         remove it and install the package again from its registry"
    )]
    BadSignature {
        /// `id@version (folder)`.
        package: String,
        /// The signer's key id, as `adapter.sig` claims it.
        key_id: String,
    },
    /// `adapter.sig` is not a signature file.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `adapter.sig` cannot be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: part of the message, and so not also a `source`
        /// (which `{:#}` would print a second time).
        error: std::io::Error,
    },
}

impl SignatureError {
    /// The message for the package's publisher (`adapter pack`, `registry
    /// publish`), whose fix for a signature that no longer matches is to
    /// sign the package in `dir` again; other cases say what they always say.
    pub fn for_publisher(&self, dir: &Path) -> String {
        let sign_again = format!(
            "sign it again with `snapact-host adapter sign {} --key KEY`",
            dir.display()
        );
        match self {
            SignatureError::DigestMismatch {
                package,
                key_id,
                signed,
                actual,
            } => format!(
                "{package}: adapter.wasm was changed after it was signed by key {key_id} (its \
                 digest is sha256:{actual}, the signature covers {signed}): {sign_again}"
            ),
            SignatureError::BadSignature { package, key_id } => format!(
                "{package}: the signature by key {key_id} does not match adapter.toml and \
                 adapter.wasm (the manifest was changed after signing, or adapter.sig is \
                 damaged): {sign_again}"
            ),
            SignatureError::Malformed { .. } => format!("{self}: {sign_again}"),
            SignatureError::Unsigned { .. }
            | SignatureError::UntrustedKey { .. }
            | SignatureError::Io { .. } => self.to_string(),
        }
    }
}

/// What a valid signature says, before any trust decision.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The signer.
    pub key: PublisherKey,
    /// The file.
    pub file: SignatureFile,
}

fn package_name(pkg: &Package) -> String {
    let m = pkg.manifest();
    format!("adapter {}@{} ({})", m.id, m.version, pkg.dir().display())
}

/// Check `adapter.sig` in `pkg`'s folder against the package, trusting no
/// one: `None` when unsigned, the signer when the signature is valid.
pub fn verify_package(pkg: &Package) -> Result<Option<VerifiedSignature>, SignatureError> {
    let Some(file) = SignatureFile::read(pkg.dir())? else {
        return Ok(None);
    };
    verify_signature_file(pkg, file).map(Some)
}

/// Check a signature file (read elsewhere) against `pkg`.
pub fn verify_signature_file(
    pkg: &Package,
    file: SignatureFile,
) -> Result<VerifiedSignature, SignatureError> {
    let path = pkg.dir().join(SIGNATURE_FILE);
    let malformed = |message: String| SignatureError::Malformed {
        path: path.clone(),
        message,
    };
    let key = PublisherKey::parse(&file.public_key)
        .map_err(|e| malformed(format!("`public_key`: {e}")))?;
    if key.id() != file.key_id {
        return Err(malformed(format!(
            "`key_id` {} is not the id of its public key ({}); the file is damaged",
            file.key_id,
            key.id()
        )));
    }
    let actual = pkg.digest_hex();
    if file.digest != format!("sha256:{actual}") {
        return Err(SignatureError::DigestMismatch {
            package: package_name(pkg),
            key_id: file.key_id,
            signed: file.digest,
            actual,
        });
    }
    let bad = || SignatureError::BadSignature {
        package: package_name(pkg),
        key_id: file.key_id.clone(),
    };
    let bytes = B64.decode(&file.signature).map_err(|_| bad())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| bad())?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    if !key.verify(&signed_message(pkg.manifest(), pkg.digest()), &signature) {
        return Err(bad());
    }
    Ok(VerifiedSignature { key, file })
}

/// Which publishers the operator trusts, and whether packages must be
/// signed (`[adapters] require_signatures`, `trusted_keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Refuse unsigned packages and packages signed by untrusted keys.
    pub require_signatures: bool,
    /// Keys whose signatures are trusted.
    pub trusted_keys: Vec<PublisherKey>,
}

impl Default for TrustPolicy {
    /// Signatures required, nobody trusted: the safe default for `run`.
    fn default() -> Self {
        TrustPolicy {
            require_signatures: true,
            trusted_keys: Vec::new(),
        }
    }
}

impl TrustPolicy {
    /// No signature needed (development, tests); signatures present are
    /// still checked.
    pub fn permissive() -> TrustPolicy {
        TrustPolicy {
            require_signatures: false,
            trusted_keys: Vec::new(),
        }
    }

    /// Whether `key` is trusted.
    pub fn trusts(&self, key: &PublisherKey) -> bool {
        self.trusted_keys.iter().any(|k| k == key)
    }

    /// Check `pkg`'s signature under this policy. A signature that is
    /// present but does not verify is refused whatever the policy: it means
    /// the package was changed after it was signed.
    pub fn check(&self, pkg: &Package) -> Result<SignatureStatus, SignatureError> {
        let status = match verify_package(pkg)? {
            None => SignatureStatus::Unsigned,
            Some(v) if self.trusts(&v.key) => SignatureStatus::Trusted {
                key_id: v.key.id().to_string(),
            },
            Some(v) => SignatureStatus::Untrusted {
                key_id: v.key.id().to_string(),
                public_key: v.key.to_string(),
            },
        };
        if self.require_signatures {
            match &status {
                SignatureStatus::Unsigned => {
                    return Err(SignatureError::Unsigned {
                        package: package_name(pkg),
                        dir: pkg.dir().to_path_buf(),
                    });
                }
                SignatureStatus::Untrusted { key_id, public_key } => {
                    return Err(SignatureError::UntrustedKey {
                        package: package_name(pkg),
                        key_id: key_id.clone(),
                        public_key: public_key.clone(),
                    });
                }
                SignatureStatus::Trusted { .. } => {}
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
id = "demo"
version = "1.2.0"
wit = "snapact:adapter@0.1.0"
vendor = "Demo"
description = "Demo \"feed\""
[capabilities]
http_hosts = ["API.Demo.example"]
settings = ["currency"]
"#;

    fn manifest() -> Manifest {
        Manifest::parse(MANIFEST, Path::new("adapter.toml")).expect("valid manifest")
    }

    #[test]
    fn the_signed_bytes_are_pinned() {
        let message = signed_message(&manifest(), &[0xab; 32]);
        let expected = format!(
            "snapact-adapter-signature-v1\nsha256:{}\n{}",
            "ab".repeat(32),
            r#"{"id":"demo","version":"1.2.0","wit":"snapact:adapter@0.1.0","vendor":"Demo","description":"Demo \"feed\"","capabilities":{"http_hosts":["api.demo.example"],"secrets":[],"settings":["currency"]},"limits":{"memory_mb":64,"timeout_ms":2000}}"#
        );
        assert_eq!(String::from_utf8(message).expect("utf-8"), expected);
    }

    #[test]
    fn public_keys_round_trip_and_ids_are_sha256_prefixes() {
        let secret = SecretKey::generate().expect("key");
        let public = secret.public();
        let text = public.to_string();
        assert!(text.starts_with("ed25519:"), "{text}");
        let parsed = PublisherKey::parse(&format!("  {text}\n")).expect("parses");
        assert_eq!(parsed, public);
        let raw = B64.decode(&text["ed25519:".len()..]).expect("base64");
        assert_eq!(
            public.id(),
            hex::encode(&Sha256::digest(&raw)[..KEY_ID_BYTES])
        );
        assert_eq!(public.id().len(), 16);
        assert!(!format!("{secret:?}").contains(&B64.encode(secret.key.to_bytes())));
    }

    #[test]
    fn bad_public_keys_are_explained() {
        for (bad, says) in [
            (
                "ssh-ed25519 AAAA",
                "expected \"ed25519:<base64 of 32 bytes>\"",
            ),
            ("ed25519:!!!", "invalid base64"),
            ("ed25519:AAAA", "3 bytes, not 32"),
            // The identity point: small order, so anyone can sign for it.
            (
                "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "weak",
            ),
        ] {
            let e = PublisherKey::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn private_key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("publisher.key");
        let secret = SecretKey::generate().expect("key");
        secret.write_new(&path).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SecretKey::load(&path).expect("load");
        assert_eq!(again.public(), secret.public());
        let e = secret.write_new(&path).expect_err("no overwrite");
        assert!(e.to_string().contains("publisher.key"), "{e}");
        std::fs::write(dir.path().join("bad.key"), "hello").expect("write");
        let e = SecretKey::load(&dir.path().join("bad.key")).expect_err("bad");
        assert!(
            e.to_string().contains("not a publisher private key file"),
            "{e}"
        );
        // A missing file: its path and the OS error, once (as `main` prints it).
        let e = SecretKey::load(&dir.path().join("nope.key")).expect_err("missing");
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert!(shown.contains("nope.key"), "{shown}");
        assert_eq!(
            shown.matches("No such file or directory").count(),
            1,
            "{shown}"
        );
    }

    #[test]
    fn a_publisher_is_told_to_sign_again_not_to_reinstall() {
        let dir = Path::new("pkgs/square");
        let changed = SignatureError::DigestMismatch {
            package: "adapter square@1.2.0 (pkgs/square)".into(),
            key_id: "3f2a9c1d7e5b8a60".into(),
            signed: format!("sha256:{}", "ab".repeat(32)),
            actual: "cd".repeat(32),
        };
        let damaged = SignatureError::BadSignature {
            package: "adapter square@1.2.0 (pkgs/square)".into(),
            key_id: "3f2a9c1d7e5b8a60".into(),
        };
        for e in [changed, damaged] {
            // An operator is told to get the package again...
            assert!(e.to_string().contains("install the package again"), "{e}");
            // ...its publisher to sign it again.
            let shown = e.for_publisher(dir);
            assert!(
                shown.contains(
                    "sign it again with `snapact-host adapter sign pkgs/square --key KEY`"
                ),
                "{shown}"
            );
            assert!(!shown.contains("install the package again"), "{shown}");
            assert!(
                shown.starts_with("adapter square@1.2.0 (pkgs/square): "),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_signature_covers_the_manifest_and_the_digest() {
        let secret = SecretKey::generate().expect("key");
        let m = manifest();
        let message = signed_message(&m, &[1; 32]);
        let sig = secret.key.sign(&message);
        let public = secret.public();
        assert!(public.verify(&message, &sig));
        assert!(!public.verify(&signed_message(&m, &[2; 32]), &sig));
        let mut wider = m.clone();
        wider.capabilities.http_hosts.push("evil.example".into());
        assert!(!public.verify(&signed_message(&wider, &[1; 32]), &sig));
        // Another key's signature over the same bytes does not verify.
        let other = SecretKey::generate().expect("key");
        assert!(!other.public().verify(&message, &sig));
    }

    #[test]
    fn signature_files_must_be_format_one_without_unknown_keys() {
        let p = Path::new("adapter.sig");
        let e = SignatureFile::parse(
            br#"{"format":2,"key_id":"a","public_key":"b","digest":"c","signature":"d"}"#,
            p,
        )
        .expect_err("format 2");
        assert!(e.to_string().contains("upgrade snapact-host"), "{e}");
        let e = SignatureFile::parse(
            br#"{"format":1,"key_id":"a","public_key":"b","digest":"c","signature":"d","x":1}"#,
            p,
        )
        .expect_err("unknown key");
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
