//! The Helm 4 `postrenderer/v1` plugin manifest (FACTS.md §2: Helm 4.1 rejects unknown fields;
//! the plugin's folder name must equal its name).

use std::path::Path;

use serde_json::Value;

use crate::yaml::emit;

pub const PLUGIN_NAME: &str = "skyhelm";

/// plugin.yaml for a plugin that runs `<binary> post-render`; Helm appends the
/// `--post-renderer-args` after these arguments.
pub fn plugin_yaml(binary: &Path) -> String {
    let command = emit::scalar(&Value::String(binary.to_string_lossy().into_owned()));
    format!(
        "apiVersion: v1\ntype: postrenderer/v1\nname: {PLUGIN_NAME}\nversion: {}\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: {command}\n      args: [post-render]\n",
        env!("CARGO_PKG_VERSION")
    )
}
