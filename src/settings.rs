//! Resolved settings: command line, then SKYHELM_* environment (clap reads both), then the
//! `--config` file, then defaults.

use std::path::{Path, PathBuf};

use crate::cli::{PostRenderArgs, RbacChoice};
use crate::rules::api_server::DEFAULT_CONTAINER;
use crate::rules::rbac::RbacMode;
use crate::yaml::Limits;

pub const DEFAULT_SECRET_NAME: &str = "kube-credentials";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub secret_name: String,
    pub kubeconfig: Option<PathBuf>,
    pub deployment: Option<String>,
    pub container: String,
    pub namespace: Option<String>,
    pub report_file: Option<PathBuf>,
    pub allowed_contexts: Vec<String>,
    /// Where `allowed_contexts` came from, as messages name it (`--allowed-context`,
    /// `SKYHELM_ALLOWED_CONTEXTS`, `allowed-contexts in the --config file`).
    pub allowed_contexts_source: String,
    pub allow_unknown_contexts: bool,
    pub diff_file: Option<PathBuf>,
    pub show_secrets: bool,
    pub rbac: RbacMode,
    pub limits: Limits,
    /// Mount the kubeconfig Secret (false: `--no-mount` / `mount-kubeconfig: false`).
    pub mount_kubeconfig: bool,
    pub contexts_file: Option<PathBuf>,
    /// Corrections and warnings are errors.
    pub strict: bool,
}

/// The `--config` file: the same options as the command line, in kebab-case.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    pub secret_name: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub deployment: Option<String>,
    pub container: Option<String>,
    pub namespace: Option<String>,
    pub report_file: Option<PathBuf>,
    pub allowed_contexts: Option<Vec<String>>,
    pub allow_unknown_contexts: Option<bool>,
    pub diff_file: Option<PathBuf>,
    pub show_secrets: Option<bool>,
    pub rbac: Option<RbacChoice>,
    pub max_input_bytes: Option<usize>,
    pub max_documents: Option<usize>,
    pub max_depth: Option<usize>,
    pub max_line_bytes: Option<usize>,
    pub allow_excessive_aliasing: Option<bool>,
    pub mount_kubeconfig: Option<bool>,
    pub contexts_file: Option<PathBuf>,
    pub strict: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },
}

impl ConfigFile {
    /// Parses a config file's text. Relative paths in it are taken relative to its folder.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, SettingsError> {
        let mut cfg: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| SettingsError::Config {
                path: path.to_path_buf(),
                message: crate::messages::without_library_hints(&e.to_string()),
            })?
        };
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [&mut cfg.kubeconfig, &mut cfg.report_file, &mut cfg.diff_file, &mut cfg.contexts_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }
}

impl Settings {
    pub fn resolve(args: &PostRenderArgs, config: ConfigFile) -> Settings {
        // Destructured so that a new option cannot be forgotten here.
        let PostRenderArgs {
            config: _,
            secret_name,
            kubeconfig,
            deployment,
            container,
            namespace,
            report_file,
            allowed_context,
            allow_unknown_contexts,
            diff_file,
            show_secrets,
            rbac,
            max_input_bytes,
            max_documents,
            max_depth,
            max_line_bytes,
            allow_excessive_aliasing,
            no_mount,
            contexts_file,
            strict,
            allowed_context_from_env,
        } = args.clone();
        let allowed_contexts_source = match (allowed_context.is_empty(), allowed_context_from_env) {
            (false, false) => "--allowed-context",
            (false, true) => "SKYHELM_ALLOWED_CONTEXTS",
            (true, _) => "allowed-contexts in the --config file",
        }
        .to_string();
        let d = Limits::default();
        Settings {
            secret_name: secret_name.or(config.secret_name).unwrap_or_else(|| DEFAULT_SECRET_NAME.into()),
            kubeconfig: kubeconfig.or(config.kubeconfig),
            deployment: deployment.or(config.deployment),
            container: container.or(config.container).unwrap_or_else(|| DEFAULT_CONTAINER.into()),
            namespace: namespace.or(config.namespace),
            report_file: report_file.or(config.report_file),
            allowed_contexts: if allowed_context.is_empty() {
                config.allowed_contexts.unwrap_or_default()
            } else {
                allowed_context
            },
            allowed_contexts_source,
            allow_unknown_contexts: allow_unknown_contexts || config.allow_unknown_contexts.unwrap_or(false),
            limits: Limits {
                max_input_bytes: max_input_bytes.or(config.max_input_bytes).unwrap_or(d.max_input_bytes),
                max_documents: max_documents.or(config.max_documents).unwrap_or(d.max_documents),
                max_depth: max_depth.or(config.max_depth).unwrap_or(d.max_depth),
                max_line_bytes: max_line_bytes.or(config.max_line_bytes).unwrap_or(d.max_line_bytes),
                refuse_excessive_aliasing: !(allow_excessive_aliasing
                    || config.allow_excessive_aliasing.unwrap_or(false)),
            },
            diff_file: diff_file.or(config.diff_file),
            rbac: match rbac.or(config.rbac).unwrap_or(RbacChoice::Add) {
                RbacChoice::Add => RbacMode::Add,
                RbacChoice::Audit => RbacMode::Audit,
                RbacChoice::Tighten => RbacMode::Tighten,
                RbacChoice::Off => RbacMode::Off,
            },
            show_secrets: show_secrets || config.show_secrets.unwrap_or(false),
            mount_kubeconfig: !no_mount && config.mount_kubeconfig.unwrap_or(true),
            contexts_file: contexts_file.or(config.contexts_file),
            strict: strict || config.strict.unwrap_or(false),
        }
    }
}
