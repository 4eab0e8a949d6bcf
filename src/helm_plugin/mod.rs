//! Installing, packaging and removing the Helm 4 plugin (I/O and processes, like `app`).
//! The manifest itself is `crate::helm_plugin::manifest`.

pub mod manifest;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use manifest::PLUGIN_NAME;

fn version_or_missing(version: Option<&str>) -> &str {
    version.unwrap_or("missing or not working")
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot find Helm's plugin folder: pass --dir, set HELM_PLUGINS, or put helm on PATH (helm: {0})")]
    NoHelm(std::io::Error),
    /// `helm env HELM_PLUGINS` failed: what helm printed on stderr.
    #[error("cannot find Helm's plugin folder: pass --dir, set HELM_PLUGINS, or put helm on PATH ({0})")]
    Dir(String),
    #[error("{what} {path}: {cause}")]
    File { what: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("{0} does not hold the skyhelm plugin; not touching it")]
    NotOurPlugin(PathBuf),
    #[error(
        "not installing into {dir}: Helm 3 ({helm}, {version}) also reads plugins from it, and Helm 3 stops \
         loading every plugin in a folder once one plugin.yaml is a Helm 4 `postrenderer/v1` plugin. \
         Nothing was written. Either install into a folder only Helm 4 reads (`skyhelm helm-plugin install \
         --dir DIR`, then run Helm 4 with HELM_PLUGINS=DIR, or give Helm 4 its own HELM_DATA_HOME), or pass \
         --force if that Helm 3 is never used with this folder. Helm 3 needs no plugin: `helm install \
         --post-renderer skyhelm` runs this binary directly."
    )]
    SharedWithHelm3 { dir: PathBuf, helm: PathBuf, version: String },
    /// The version `helm version` printed, or None when helm is missing or did not answer.
    #[error("`helm-plugin package` runs `helm plugin package` of Helm 4, and the helm on PATH is {}", version_or_missing(.0.as_deref()))]
    NeedsHelm4(Option<String>),
    #[error("`helm plugin package` failed ({0}); its messages are above")]
    HelmNotStarted(std::io::Error),
    #[error("`helm plugin package` failed ({0}); its messages are above")]
    HelmFailed(std::process::ExitStatus),
    #[error("`helm plugin package` did not write {0}")]
    Missing(PathBuf),
}

fn file_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> PluginError + 'p {
    move |cause| PluginError::File { what, path: path.to_path_buf(), cause }
}

/// The first folder of a `a:b` list (Helm reads plugins from each; installs go to the first).
fn first_of(list: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(list).find(|p| !p.as_os_str().is_empty())
}

/// `--dir`, else the first folder of $HELM_PLUGINS, else of `helm env HELM_PLUGINS`.
pub fn plugin_dir(dir: Option<&Path>) -> Result<PathBuf, PluginError> {
    if let Some(d) = dir {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os("HELM_PLUGINS").and_then(|d| first_of(&d)) {
        return Ok(d);
    }
    let out = Command::new("helm")
        .args(["env", "HELM_PLUGINS"])
        .stdin(Stdio::null())
        .output()
        .map_err(PluginError::NoHelm)?;
    let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match first_of(OsStr::new(&d)) {
        Some(p) if out.status.success() => Ok(p),
        _ => Err(PluginError::Dir(String::from_utf8_lossy(&out.stderr).trim().to_string())),
    }
}

/// Every executable named `name` on PATH, in order.
fn on_path(name: &str) -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else { return Vec::new() };
    std::env::split_paths(&path).map(|d| d.join(name)).filter(|p| p.is_file()).collect()
}

/// What `helm version` says (e.g. `v3.17.3`), if it runs.
fn helm_version(helm: &Path) -> Option<String> {
    let out = Command::new(helm)
        .args(["version", "--template", "{{.Version}}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn same_folder(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// A Helm 3 on PATH (as `helm` or `helm3`) that reads plugins from `dir`, with its version.
fn helm3_reading(dir: &Path) -> Option<(PathBuf, String)> {
    for helm in on_path("helm").into_iter().chain(on_path("helm3")) {
        let Some(version) = helm_version(&helm).filter(|v| v.starts_with("v3.")) else { continue };
        let Ok(out) = Command::new(&helm).args(["env", "HELM_PLUGINS"]).stdin(Stdio::null()).output() else {
            continue;
        };
        let folders = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if std::env::split_paths(OsStr::new(&folders)).any(|f| same_folder(&f, dir)) {
            return Some((helm, version));
        }
    }
    None
}

/// The version of the skyhelm plugin in `folder`: None when there is none; an error when the
/// folder holds another plugin.
fn existing(folder: &Path) -> Result<Option<String>, PluginError> {
    match std::fs::read_to_string(folder.join("plugin.yaml")) {
        Ok(text) => match manifest::installed_version(&text) {
            Some(v) => Ok(Some(v.to_string())),
            None => Err(PluginError::NotOurPlugin(folder.to_path_buf())),
        },
        Err(_) if folder.exists() => Err(PluginError::NotOurPlugin(folder.to_path_buf())),
        Err(_) => Ok(None),
    }
}

/// Writes `<parent>/<name>/` with plugin.yaml and a copy of the running binary in a temporary
/// folder beside it, then swaps it in: a second install replaces the first whole.
fn write_plugin_folder(parent: &Path, folder: &Path) -> Result<(), PluginError> {
    let exe = std::env::current_exe().map_err(file_err("finding", Path::new("this executable")))?;
    let staging = tempfile::Builder::new()
        .prefix(".skyhelm-install.")
        .tempdir_in(parent)
        .map_err(file_err("creating a temporary folder in", parent))?;
    let bin = staging.path().join(manifest::BINARY);
    if let Some(b) = bin.parent() {
        std::fs::create_dir_all(b).map_err(file_err("creating", b))?;
    }
    std::fs::copy(&exe, &bin).map_err(file_err("copying the binary to", &bin))?;
    set_mode(&bin, 0o755)?;
    set_mode(staging.path(), 0o755)?;
    // A fresh folder of our own: a plain write; plugin.yaml is not private (0644 under umask 022).
    let manifest = staging.path().join("plugin.yaml");
    std::fs::write(&manifest, manifest::plugin_yaml()).map_err(file_err("writing", &manifest))?;
    let old = parent.join(format!(".skyhelm-old.{}", std::process::id()));
    if folder.exists() {
        std::fs::rename(folder, &old).map_err(file_err("moving aside", folder))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, folder).map_err(file_err("writing", folder))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(file_err("removing", &old))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> Result<(), PluginError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(file_err("setting the mode of", p))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<(), PluginError> {
    Ok(())
}

/// `helm-plugin install`: returns what to tell the user.
pub fn install(dir: Option<&Path>, force: bool) -> Result<String, PluginError> {
    let parent = plugin_dir(dir)?;
    if !force && let Some((helm, version)) = helm3_reading(&parent) {
        return Err(PluginError::SharedWithHelm3 { dir: parent, helm, version });
    }
    std::fs::create_dir_all(&parent).map_err(file_err("creating", &parent))?;
    let folder = parent.join(PLUGIN_NAME);
    let before = existing(&folder)?;
    write_plugin_folder(&parent, &folder)?;
    let version = env!("CARGO_PKG_VERSION");
    Ok(match before {
        Some(old) => format!(
            "replaced the skyhelm plugin {old} in {} with {version} (Helm 4 post-renderer `{PLUGIN_NAME}`; it runs its own copy of this binary)",
            folder.display()
        ),
        None => format!(
            "installed Helm 4 post-renderer plugin `{PLUGIN_NAME}` {version} in {} (it runs its own copy of this binary)",
            folder.display()
        ),
    })
}

/// `helm-plugin uninstall`.
pub fn uninstall(dir: Option<&Path>) -> Result<String, PluginError> {
    let folder = plugin_dir(dir)?.join(PLUGIN_NAME);
    Ok(match existing(&folder)? {
        Some(_) => {
            std::fs::remove_dir_all(&folder).map_err(file_err("removing", &folder))?;
            format!("removed {}", folder.display())
        }
        None => format!("no skyhelm plugin in {}", folder.display()),
    })
}

/// How to sign a package (Helm's `--sign --key --keyring`).
pub struct Signing<'a> {
    pub key: &'a str,
    pub keyring: &'a Path,
}

/// `helm-plugin package`: stages `skyhelm/` (plugin.yaml, bin/skyhelm) and runs Helm 4's
/// `helm plugin package` on it. Returns the files written.
pub fn package(out: &Path, sign: Option<&Signing>) -> Result<Vec<PathBuf>, PluginError> {
    let version = helm_version(Path::new("helm"));
    if !version.as_ref().is_some_and(|v| v.starts_with("v4.")) {
        return Err(PluginError::NeedsHelm4(version));
    }
    let staging = tempfile::Builder::new()
        .prefix("skyhelm-package.")
        .tempdir()
        .map_err(file_err("creating a temporary folder in", &std::env::temp_dir()))?;
    let folder = staging.path().join(PLUGIN_NAME);
    write_plugin_folder(staging.path(), &folder)?;
    std::fs::create_dir_all(out).map_err(file_err("creating", out))?;
    let mut cmd = Command::new("helm");
    cmd.args(["plugin", "package"]).arg(&folder).arg("--destination").arg(out);
    match sign {
        Some(s) => cmd.args(["--sign", "--key", s.key, "--keyring"]).arg(s.keyring),
        None => cmd.arg("--sign=false"),
    };
    // Helm may ask for the key's passphrase: it keeps the terminal.
    let status = cmd.status().map_err(PluginError::HelmNotStarted)?;
    if !status.success() {
        return Err(PluginError::HelmFailed(status));
    }
    let tgz = out.join(manifest::package_name());
    let mut written = vec![tgz.clone()];
    if sign.is_some() {
        written.push(out.join(format!("{}.prov", manifest::package_name())));
    }
    for f in &written {
        if !f.is_file() {
            return Err(PluginError::Missing(f.clone()));
        }
    }
    Ok(written)
}
