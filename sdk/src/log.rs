//! Log lines that reach the host's log, tagged with shop and adapter.

use crate::bindings::snapact::adapter::log as wit;
pub use wit::Level;

/// Log `message` at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

/// Log at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Log at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Log at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
