//! `adapter.toml`: who the adapter is, which WIT it targets, what it may
//! touch and what it asks for. Unknown keys are errors, so a typo never
//! silently widens or drops a capability.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Memory an adapter gets when its manifest does not say.
pub const DEFAULT_MEMORY_MB: u64 = 64;
/// Time per call an adapter gets when its manifest does not say.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// A validated `adapter.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// `[a-z0-9-]+`, unique in a registry.
    pub id: String,
    /// The adapter's own version.
    pub version: semver::Version,
    /// The WIT world it was built against.
    pub wit: WitRef,
    /// Who publishes it.
    pub vendor: String,
    /// One line for operators.
    pub description: String,
    /// What it may reach.
    pub capabilities: Capabilities,
    /// What it asks for per call; the operator's config caps it.
    pub limits: Limits,
}

/// `[capabilities]`: everything not listed here is refused by the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Hosts `pos-http` may reach (`connect.squareup.com`, `localhost:8080`).
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Secret names the adapter may verify with (never read).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Setting names the adapter may read.
    #[serde(default)]
    pub settings: Vec<String>,
}

/// `[limits]`: requested per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory cap, MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Wall-clock deadline per call, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

fn default_memory_mb() -> u64 {
    DEFAULT_MEMORY_MB
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// A WIT package reference, `namespace:name@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitRef {
    /// `snapact:adapter`.
    pub package: String,
    /// `0.1.0`.
    pub version: semver::Version,
}

impl fmt::Display for WitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.package, self.version)
    }
}

impl Serialize for WitRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for WitRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (package, version) = s.split_once('@').ok_or_else(|| {
            format!("{s:?} has no version; write it as \"snapact:adapter@0.1.0\"")
        })?;
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        match package.split_once(':') {
            Some((ns, name)) if valid_part(ns) && valid_part(name) => {}
            _ => {
                return Err(format!(
                    "{package:?} is not a WIT package name; write it as \"snapact:adapter@0.1.0\""
                ));
            }
        }
        let version = semver::Version::parse(version)
            .map_err(|e| format!("{version:?} is not a semver version: {e}"))?;
        Ok(WitRef {
            package: package.to_string(),
            version,
        })
    }
}

/// What is wrong with a manifest: which file, which key, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", file.display(), key.as_ref().map(|k| format!("`{k}`: ")).unwrap_or_default())]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// The offending key (`limits.memory_mb`, `capabilities.http_hosts[1]`),
    /// when the error is about one key.
    pub key: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    version: String,
    wit: String,
    vendor: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Capabilities,
    #[serde(default)]
    limits: Limits,
}

/// Limits beyond which a manifest is surely a mistake, whatever the
/// operator's caps.
const MAX_MEMORY_MB: u64 = 16 * 1024;
const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;

impl Manifest {
    /// Read and validate the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            file: path.to_path_buf(),
            key: None,
            message: format!("cannot read it: {e}"),
        })?;
        Manifest::parse(&text, path)
    }

    /// Validate manifest `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, ManifestError> {
        let err = |key: &str, message: String| ManifestError {
            file: file.to_path_buf(),
            key: Some(key.to_string()),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            ManifestError {
                file: file.to_path_buf(),
                key: None,
                message: match line {
                    Some(line) => format!("line {line}: {}", e.message().trim_end()),
                    None => e.message().trim_end().to_string(),
                },
            }
        })?;

        if !is_id(&raw.id) {
            return Err(err(
                "id",
                format!(
                    "{:?} is not a valid id: use 1 to 64 of a-z, 0-9 and '-', e.g. \"square\"",
                    raw.id
                ),
            ));
        }
        let version = semver::Version::parse(&raw.version).map_err(|e| {
            err(
                "version",
                format!(
                    "{:?} is not a semver version ({e}); write e.g. \"1.2.0\"",
                    raw.version
                ),
            )
        })?;
        let wit: WitRef = raw.wit.parse().map_err(|m| err("wit", m))?;
        if raw.vendor.trim().is_empty() {
            return Err(err("vendor", "must name who publishes the adapter".into()));
        }
        for (i, host) in raw.capabilities.http_hosts.iter().enumerate() {
            if !is_host(host) {
                return Err(err(
                    &format!("capabilities.http_hosts[{i}]"),
                    format!(
                        "{host:?} is not a host name: write the bare host (and optional :port), \
                         e.g. \"connect.squareup.com\", without scheme or path"
                    ),
                ));
            }
        }
        for (list, names) in [
            ("secrets", &raw.capabilities.secrets),
            ("settings", &raw.capabilities.settings),
        ] {
            for (i, name) in names.iter().enumerate() {
                if !is_name(name) {
                    return Err(err(
                        &format!("capabilities.{list}[{i}]"),
                        format!("{name:?} is not a valid name: use a-z, 0-9 and '_'"),
                    ));
                }
            }
        }
        if !(1..=MAX_MEMORY_MB).contains(&raw.limits.memory_mb) {
            return Err(err(
                "limits.memory_mb",
                format!(
                    "{} is out of range 1..={MAX_MEMORY_MB}",
                    raw.limits.memory_mb
                ),
            ));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&raw.limits.timeout_ms) {
            return Err(err(
                "limits.timeout_ms",
                format!(
                    "{} is out of range 1..={MAX_TIMEOUT_MS}",
                    raw.limits.timeout_ms
                ),
            ));
        }

        let mut capabilities = raw.capabilities;
        for host in &mut capabilities.http_hosts {
            host.make_ascii_lowercase();
        }
        Ok(Manifest {
            id: raw.id,
            version,
            wit,
            vendor: raw.vendor,
            description: raw.description,
            capabilities,
            limits: raw.limits,
        })
    }
}

/// An adapter id: 1 to 64 of `a-z`, `0-9` and `-`.
pub(crate) fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // `*.example.com` allows exactly one more label (a shop's own subdomain,
    // as with `*.myshopify.com`); the rest must name a registrable domain.
    let host = match host.strip_prefix("*.") {
        Some(rest) if rest.contains('.') => rest,
        Some(_) => return false,
        None => host,
    };
    port_ok && (1..=253).contains(&host.len()) && host.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "square"
version = "1.2.0"
wit = "snapact:adapter@0.1.0"
vendor = "Square"
description = "Square Catalog + Inventory + Orders"
[capabilities]
http_hosts = ["connect.squareup.com"]
secrets = ["webhook_signature_key"]
settings = ["location_id", "currency"]
[limits]
memory_mb = 64
timeout_ms = 2000
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("adapters/square/adapter.toml"))
    }

    #[test]
    fn parses_the_design_example() {
        let m = parse(GOOD).expect("valid");
        assert_eq!(m.id, "square");
        assert_eq!(m.version, semver::Version::new(1, 2, 0));
        assert_eq!(m.wit.to_string(), "snapact:adapter@0.1.0");
        assert_eq!(m.capabilities.http_hosts, ["connect.squareup.com"]);
        assert_eq!(
            m.limits,
            Limits {
                memory_mb: 64,
                timeout_ms: 2000
            }
        );
    }

    #[test]
    fn limits_and_capabilities_default() {
        let m = parse(
            "id = \"x\"\nversion = \"0.1.0\"\nwit = \"snapact:adapter@0.1.0\"\nvendor = \"X\"\n",
        )
        .expect("valid");
        assert_eq!(
            m.limits,
            Limits {
                memory_mb: 64,
                timeout_ms: 2000
            }
        );
        assert_eq!(m.capabilities, Capabilities::default());
    }

    #[test]
    fn unknown_key_is_an_error_naming_key_file_and_line() {
        let text = GOOD.replace("memory_mb = 64", "memory_mb = 64\nmemroy_mb = 128");
        let e = parse(&text).expect_err("unknown key");
        let shown = e.to_string();
        assert!(
            shown.starts_with("adapters/square/adapter.toml: line 12: unknown field `memroy_mb`"),
            "{shown}"
        );
        let text = GOOD.replace(
            "vendor = \"Square\"",
            "vendor = \"Square\"\nhomepage = \"x\"",
        );
        let shown = parse(&text).expect_err("unknown key").to_string();
        assert!(shown.contains("unknown field `homepage`"), "{shown}");
    }

    #[test]
    fn bad_id_names_the_key() {
        let e = parse(&GOOD.replace("id = \"square\"", "id = \"Square POS\"")).expect_err("bad id");
        assert_eq!(e.key.as_deref(), Some("id"));
        assert_eq!(
            e.to_string(),
            "adapters/square/adapter.toml: `id`: \"Square POS\" is not a valid id: use 1 to 64 of a-z, 0-9 and '-', e.g. \"square\""
        );
    }

    #[test]
    fn bad_semver_names_the_key() {
        let e = parse(&GOOD.replace("version = \"1.2.0\"", "version = \"1.2\""))
            .expect_err("bad semver");
        assert_eq!(e.key.as_deref(), Some("version"));
        assert!(
            e.to_string().contains("\"1.2\" is not a semver version"),
            "{e}"
        );
    }

    #[test]
    fn bad_wit_reference_names_the_key() {
        for bad in ["snapact:adapter", "snapact@0.1.0", "snapact:adapter@latest"] {
            let e = parse(&GOOD.replace("snapact:adapter@0.1.0", bad)).expect_err(bad);
            assert_eq!(e.key.as_deref(), Some("wit"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_capabilities_and_limits_name_the_key() {
        let e = parse(&GOOD.replace(
            "[\"connect.squareup.com\"]",
            "[\"a.com\", \"https://evil.example/x\"]",
        ))
        .expect_err("url as host");
        assert_eq!(e.key.as_deref(), Some("capabilities.http_hosts[1]"));
        let e = parse(&GOOD.replace("\"location_id\"", "\"Location ID\"")).expect_err("bad name");
        assert_eq!(e.key.as_deref(), Some("capabilities.settings[0]"));
        let e = parse(&GOOD.replace("timeout_ms = 2000", "timeout_ms = 0")).expect_err("zero");
        assert_eq!(e.key.as_deref(), Some("limits.timeout_ms"));
        let e = parse(&GOOD.replace("memory_mb = 64", "memory_mb = \"64\"")).expect_err("type");
        assert!(e.to_string().contains("line 12"), "{e}");
    }

    #[test]
    fn hosts_are_case_insensitive_and_may_carry_a_port() {
        let m = parse(&GOOD.replace(
            "\"connect.squareup.com\"",
            "\"Connect.SquareUp.com\", \"localhost:8080\"",
        ))
        .expect("valid");
        assert_eq!(
            m.capabilities.http_hosts,
            ["connect.squareup.com", "localhost:8080"]
        );
        assert!(is_host("*.myshopify.com"));
        assert!(!is_host("*.com"));
        assert!(!is_host("*"));
        assert!(!is_host("a.*.com"));
    }
}
