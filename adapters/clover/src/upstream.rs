//! Clover's own answers that cannot be read.

use snapact_adapter_sdk::{AdapterError, UpstreamError};

/// A Clover answer that is not what its API documents is an upstream fault,
/// not bad input from SnapAct or the shop: say so, with the path.
pub fn from_clover(e: AdapterError) -> AdapterError {
    match e {
        AdapterError::InvalidInput(d) => AdapterError::Upstream(UpstreamError {
            message: format!(
                "Clover answered an unexpected body: {} at {}",
                d.message,
                d.path.unwrap_or_else(|| "$".into())
            ),
            status: None,
            retryable: false,
        }),
        other => other,
    }
}
