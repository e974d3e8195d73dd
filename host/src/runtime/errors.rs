//! What can go wrong loading or calling an adapter. Each error prints as one
//! line: what happened, where (adapter@version, function, field path), and
//! what to do.

use std::fmt;

/// An exported adapter function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `map-records`.
    MapRecords,
    /// `handle-webhook`.
    HandleWebhook,
    /// `poll`.
    Poll,
    /// `push-order`.
    PushOrder,
    /// `order-status-changed`.
    OrderStatusChanged,
}

impl Function {
    /// The WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::MapRecords => "map-records",
            Function::HandleWebhook => "handle-webhook",
            Function::Poll => "poll",
            Function::PushOrder => "push-order",
            Function::OrderStatusChanged => "order-status-changed",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host mirror of the WIT `adapter-error`: the adapter ran fine and
/// answered that the call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterError {
    /// The payload cannot be read at all.
    InvalidInput {
        /// What is wrong.
        message: String,
        /// JSON path of the offending field.
        path: Option<String>,
    },
    /// The adapter does not implement this function or payload kind.
    Unsupported(String),
    /// The POS failed or refused.
    Upstream {
        /// What happened.
        message: String,
        /// HTTP status, when the POS answered.
        status: Option<u16>,
        /// The same call may succeed later.
        retryable: bool,
    },
    /// A setting or secret is missing.
    NotConfigured(String),
    /// A webhook's signature did not verify.
    Unauthenticated(String),
}

impl AdapterError {
    /// The JSON path the error is about, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            AdapterError::InvalidInput { path, .. } => path.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::InvalidInput { message, path } => {
                write!(f, "invalid input")?;
                if let Some(path) = path {
                    write!(f, " at {path}")?;
                }
                write!(
                    f,
                    ": {message} (check that the payload is what this adapter maps)"
                )
            }
            AdapterError::Unsupported(m) => write!(f, "unsupported: {m}"),
            AdapterError::Upstream {
                message,
                status,
                retryable,
            } => {
                write!(f, "the POS failed: {message}")?;
                if let Some(status) = status {
                    write!(f, " (HTTP {status})")?;
                }
                if *retryable {
                    write!(f, "; it will be retried")
                } else {
                    write!(f, "; not retryable, check the shop's POS configuration")
                }
            }
            AdapterError::NotConfigured(m) => write!(f, "not configured: {m}"),
            AdapterError::Unauthenticated(m) => write!(
                f,
                "unauthenticated: {m} (check the shop's webhook secret in snapact.toml)"
            ),
        }
    }
}

/// Why the host stopped an adapter call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapCause {
    /// The call ran past its deadline.
    Deadline {
        /// The deadline that applied.
        timeout_ms: u64,
    },
    /// The call tried to grow memory past its cap.
    Memory {
        /// The cap that applied.
        limit_mb: u64,
    },
    /// The result was larger than the host accepts.
    OutputTooLarge {
        /// Measured size of the result.
        bytes: usize,
        /// The cap.
        limit: usize,
    },
    /// The adapter panicked (Rust) or aborted.
    Panic(String),
    /// Any other trap or failure to instantiate.
    Other(String),
}

impl fmt::Display for TrapCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapCause::Deadline { timeout_ms } => write!(
                f,
                "it ran past its {timeout_ms} ms deadline; split the input, raise [limits] timeout_ms \
                 in adapter.toml (within the host's max_timeout_ms), or report a hang to the adapter's vendor"
            ),
            TrapCause::Memory { limit_mb } => write!(
                f,
                "it tried to use more than its {limit_mb} MB memory limit; split the input, raise \
                 [limits] memory_mb in adapter.toml (within the host's max_memory_mb), or report it to the adapter's vendor"
            ),
            TrapCause::OutputTooLarge { bytes, limit } => write!(
                f,
                "its result of {bytes} bytes exceeds the host's {limit}-byte output limit; split the input \
                 into smaller payloads or raise max_output_bytes"
            ),
            TrapCause::Panic(m) => {
                write!(f, "it panicked ({m}); report this to the adapter's vendor")
            }
            TrapCause::Other(m) => {
                write!(f, "it failed ({m}); report this to the adapter's vendor")
            }
        }
    }
}

/// A failed adapter call. The host and other adapters are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The adapter answered with an error.
    #[error("adapter {adapter}@{version} {function}: {error}")]
    Adapter {
        /// Adapter id.
        adapter: String,
        /// Adapter version.
        version: semver::Version,
        /// The function called.
        function: Function,
        /// What it answered.
        error: AdapterError,
    },
    /// The host stopped the call.
    #[error("adapter {adapter}@{version} {function} was stopped: {cause}")]
    Trap {
        /// Adapter id.
        adapter: String,
        /// Adapter version.
        version: semver::Version,
        /// The function called.
        function: Function,
        /// Why.
        cause: TrapCause,
    },
    /// The shop's adapter version was withdrawn (revoked by its registry)
    /// and no version the shop may use replaces it yet: nothing was called.
    #[error("adapter {adapter}@{version} {function} was not called: {reason}")]
    Withdrawn {
        /// Adapter id.
        adapter: String,
        /// The withdrawn version.
        version: semver::Version,
        /// The function that would have been called.
        function: Function,
        /// Why, and what to install instead.
        reason: String,
    },
}

impl CallError {
    /// The trap cause, when the host stopped the call.
    pub fn trap_cause(&self) -> Option<&TrapCause> {
        match self {
            CallError::Trap { cause, .. } => Some(cause),
            CallError::Adapter { .. } | CallError::Withdrawn { .. } => None,
        }
    }

    /// The adapter's error, when it answered with one.
    pub fn adapter_error(&self) -> Option<&AdapterError> {
        match self {
            CallError::Adapter { error, .. } => Some(error),
            CallError::Trap { .. } | CallError::Withdrawn { .. } => None,
        }
    }
}

/// A package that passed [`crate::registry::Package::open`] but cannot be
/// run by this host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The component does not compile.
    #[error(
        "adapter {adapter}@{version}: adapter.wasm does not compile ({reason}); rebuild it with `snapact-host adapter build`"
    )]
    Compile {
        /// Adapter id.
        adapter: String,
        /// Adapter version.
        version: semver::Version,
        /// The compiler's message.
        reason: String,
    },
    /// The component imports something this host does not provide, or its
    /// exports do not have the types of the WIT this host runs.
    #[error(
        "adapter {adapter}@{version} (built for {needs}) needs something this host ({host}, runs {supported}) \
         does not provide: {reason}; install a version of the adapter built for {host} or older, \
         or a host that supports {needs}",
        host = crate::registry::SUPPORTED_WIT.host_version(),
        supported = crate::registry::SUPPORTED_WIT
    )]
    Link {
        /// Adapter id.
        adapter: String,
        /// Adapter version.
        version: semver::Version,
        /// What does not fit.
        reason: String,
        /// The WIT version the adapter was built for (`snapact:adapter@0.1.9`).
        needs: String,
    },
}
