//! `log`: adapter log lines into the host's `tracing`, tagged with shop,
//! adapter and version.

use super::HostState;
use crate::runtime::bindings::log::{Host, Level};

/// Longest message logged; adapters cannot flood one event.
const MAX_MESSAGE: usize = 4096;

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [truncated]");
        }
        let (shop, adapter, version) = (&*self.shop, &*self.adapter, &*self.version);
        match level {
            Level::Trace => tracing::trace!(target: "adapter", shop, adapter, version, "{message}"),
            Level::Debug => tracing::debug!(target: "adapter", shop, adapter, version, "{message}"),
            Level::Info => tracing::info!(target: "adapter", shop, adapter, version, "{message}"),
            Level::Warn => tracing::warn!(target: "adapter", shop, adapter, version, "{message}"),
            Level::Error => tracing::error!(target: "adapter", shop, adapter, version, "{message}"),
        }
    }
}
