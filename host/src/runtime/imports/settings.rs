//! `settings`: per-shop values, visible only under names the manifest
//! declares.

use super::HostState;
use crate::runtime::bindings::settings::Host;

impl Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        if self.manifest.capabilities.settings.contains(&key) {
            return self.settings.get(&key).cloned();
        }
        self.warn_once(&format!("setting:{key}"), || {
            format!(
                "adapter read setting `{key}`, which its adapter.toml does not declare in [capabilities] settings; it gets none"
            )
        });
        None
    }
}
