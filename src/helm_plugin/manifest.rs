//! The Helm 4 `postrenderer/v1` plugin manifest (FACTS.md §2: Helm 4.1 rejects unknown fields;
//! the plugin's folder name must equal its name).

pub const PLUGIN_NAME: &str = "skyhelm";

/// Where the plugin keeps its own copy of the binary, relative to the plugin folder.
pub const BINARY: &str = "bin/skyhelm";

/// The command in plugin.yaml. Helm 4 splits the command on spaces before expanding
/// `${HELM_PLUGIN_DIR}`, so a plugin folder with spaces (or `$`) in its path still works while
/// an absolute path to the binary would not.
pub const COMMAND: &str = "${HELM_PLUGIN_DIR}/bin/skyhelm";

/// plugin.yaml for a plugin that runs its `bin/skyhelm post-render`; Helm appends the
/// `--post-renderer-args` after these arguments.
pub fn plugin_yaml() -> String {
    format!(
        "apiVersion: v1\ntype: postrenderer/v1\nname: {PLUGIN_NAME}\nversion: {}\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: \"{COMMAND}\"\n      args: [post-render]\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The version in a plugin.yaml this module wrote, if it is one.
pub fn installed_version(plugin_yaml: &str) -> Option<&str> {
    if !plugin_yaml.lines().any(|l| l == format!("name: {PLUGIN_NAME}")) {
        return None;
    }
    plugin_yaml.lines().find_map(|l| l.strip_prefix("version: ")).map(str::trim)
}

/// The package file name Helm's `plugin package` writes.
pub fn package_name() -> String {
    format!("{PLUGIN_NAME}-{}.tgz", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_runs_the_copy_in_the_plugin_folder() {
        let y = plugin_yaml();
        assert!(y.contains("command: \"${HELM_PLUGIN_DIR}/bin/skyhelm\""), "{y}");
        assert_eq!(installed_version(&y), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(installed_version("name: other\nversion: 1.0.0\n"), None);
    }
}
