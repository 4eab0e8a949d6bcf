//! Resolved settings: command line, then SKYHELM_* environment (clap reads both), then the
//! `--config` file, then defaults.

use std::path::{Path, PathBuf};

use crate::cli::{ColorChoice, ConfigContexts, DoctorArgs, DoctorOutput, GenerateArgs, PostRenderArgs};
use crate::model::{DEFAULT_CONTAINER, DEFAULT_SECRET_NAME, Format, RbacMode};
use crate::policy::contexts::GivenList;
use crate::yaml::Limits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The kubeconfig Secret's name as given; None: the contexts file's, else
    /// [`DEFAULT_SECRET_NAME`] ([`Settings::secret_name`]).
    pub secret_name_given: Option<String>,
    /// Where `secret_name_given` came from, as messages name it (`--secret-name`,
    /// `SKYHELM_SECRET_NAME`, `secret-name in the --config file`).
    pub secret_name_source: &'static str,
    pub kubeconfig: Option<PathBuf>,
    pub deployment: Option<String>,
    pub container: String,
    pub namespace: Option<String>,
    pub report_file: Option<PathBuf>,
    pub allowed_contexts: GivenList,
    /// Where `allowed_contexts` came from, as messages name it (`--allowed-context`,
    /// `SKYHELM_ALLOWED_CONTEXTS`, `allowed-contexts in the --config file`).
    pub allowed_contexts_source: String,
    pub allow_unknown_contexts: bool,
    /// Findings that make an allowed context unusable in the pod are warnings, not errors.
    pub allow_unusable_contexts: bool,
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

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(
        "--live contacts only the allowed contexts: name them with --allowed-context NAME (repeatable) or --manifests FILE (the rendered chart); it never contacts every context of a kubeconfig"
    )]
    LiveWithoutContexts,
    #[error(
        "post-render takes no `{flag}`: it is Helm's own global flag, and Helm reads it from `--post-renderer-args {flag} VALUE` too (then Helm itself uses it: {what}). Use `{replacement}=VALUE` (with Helm: `--post-renderer-args={replacement}=VALUE`)"
    )]
    HelmGlobalFlag { flag: &'static str, replacement: &'static str, what: &'static str },
    #[error("{from}: {problem}; a Secret of that name cannot exist, so the pod would never start")]
    SecretName { from: &'static str, problem: String },
    #[error(
        "{from} is `{given}`, but the --contexts-file records the contexts of Secret `{file}`: the Secret mounted must be the one whose contexts were checked. Pack that Secret again with `skyhelm kubeconfig pack --secret-name {given} --contexts-file …`, or drop {from}"
    )]
    NotTheContextsFilesSecret { from: &'static str, given: String, file: String },
    #[error("--now {0}: expected YYYY-MM-DD")]
    BadDate(String),
}

/// The `--config` file: the post-render options in kebab-case (`secret-name: x`), read into
/// the command line's own type. Relative paths in it are taken relative to its folder.
pub fn config_file(path: &Path, text: &str) -> Result<PostRenderArgs, SettingsError> {
    let mut cfg: PostRenderArgs = if text.trim().is_empty() {
        PostRenderArgs::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| SettingsError::Config {
            path: path.to_path_buf(),
            message: crate::messages::too_deep(&e)
                .unwrap_or_else(|| crate::messages::without_library_hints(&e.to_string())),
        })?
    };
    if let Some(problem) = cfg.max_depth.and_then(crate::model::max_depth_problem) {
        return Err(SettingsError::Config { path: path.to_path_buf(), message: format!("max-depth: {problem}") });
    }
    let base = path.parent().unwrap_or(Path::new(""));
    for p in [&mut cfg.skypilot_kubeconfig, &mut cfg.report_file, &mut cfg.diff_file, &mut cfg.contexts_file]
        .into_iter()
        .flatten()
    {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    Ok(cfg)
}

/// Post-render refuses the spellings of Helm's global flags (`cli::HELM_GLOBAL_SPELLINGS`): an
/// old command line must fail, not run with Helm talking to another cluster or namespace.
pub fn refuse_helm_global_flags(args: &PostRenderArgs) -> Result<(), SettingsError> {
    match args.helm_global_flag() {
        None => Ok(()),
        Some((flag, replacement)) => Err(SettingsError::HelmGlobalFlag {
            flag,
            replacement,
            what: if flag == "--kubeconfig" {
                "it installs into that kubeconfig's cluster"
            } else {
                "it installs the release into that namespace"
            },
        }),
    }
}

impl Default for Settings {
    /// No flags, no environment, no config file.
    fn default() -> Settings {
        Settings::resolve(&PostRenderArgs::default(), PostRenderArgs::default())
    }
}

impl Settings {
    /// The kubeconfig Secret's name: as given, else the contexts file's (`contexts_secret`), else
    /// [`DEFAULT_SECRET_NAME`]; refused when Kubernetes would refuse it, or when it is not the
    /// contexts file's (the Secret mounted must be the one whose contexts were checked).
    /// Also returns where the name came from, None for the default.
    pub fn secret_name(&self, contexts_secret: Option<&str>) -> Result<(String, Option<&'static str>), SettingsError> {
        let (name, source) = match (&self.secret_name_given, contexts_secret) {
            (Some(given), Some(file)) if given != file => {
                return Err(SettingsError::NotTheContextsFilesSecret {
                    from: self.secret_name_source,
                    given: crate::messages::sanitize(given, &[]),
                    file: crate::messages::sanitize(file, &[]),
                });
            }
            (Some(given), _) => (given.as_str(), self.secret_name_source),
            (None, Some(file)) => (file, "secretName in the --contexts-file"),
            (None, None) => return Ok((DEFAULT_SECRET_NAME.to_string(), None)),
        };
        match crate::kubeconfig::secret_name_problem(name) {
            Some(problem) => Err(SettingsError::SecretName { from: source, problem }),
            None => Ok((name.to_string(), Some(source))),
        }
    }

    /// Flags and environment (`args`, clap reads both) over the `--config` file (`config`)
    /// over defaults.
    pub fn resolve(args: &PostRenderArgs, config: PostRenderArgs) -> Settings {
        // Destructured so that a new option cannot be forgotten here.
        let PostRenderArgs {
            config: _,
            secret_name,
            skypilot_kubeconfig,
            deployment,
            container,
            release_namespace,
            report_file,
            allowed_context,
            allowed_contexts_config: _,
            allow_unknown_contexts,
            allow_unusable_contexts,
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
            secret_name_from_env,
            helm_kubeconfig,
            helm_namespace,
        } = args.clone();
        let allowed_contexts_source = match (allowed_context.is_empty(), allowed_context_from_env) {
            (false, false) => "--allowed-context",
            (false, true) => "SKYHELM_ALLOWED_CONTEXTS",
            (true, _) => "allowed-contexts in the --config file",
        }
        .to_string();
        let d = Limits::default();
        Settings {
            secret_name_source: match (&secret_name, secret_name_from_env) {
                (Some(_), false) => "--secret-name",
                (Some(_), true) => "SKYHELM_SECRET_NAME",
                (None, _) => "secret-name in the --config file",
            },
            secret_name_given: secret_name.or(config.secret_name),
            // post-render refuses Helm's spellings before this (`helm_global_flag`); diff takes them.
            kubeconfig: skypilot_kubeconfig.or(helm_kubeconfig).or(config.skypilot_kubeconfig),
            deployment: deployment.or(config.deployment),
            container: container.or(config.container).unwrap_or_else(|| DEFAULT_CONTAINER.into()),
            namespace: release_namespace.or(helm_namespace).or(config.release_namespace),
            report_file: report_file.or(config.report_file),
            allowed_contexts: match (GivenList::from_flag(&allowed_context), config.allowed_contexts_config) {
                (GivenList::None, Some(ConfigContexts::All)) => GivenList::All,
                // `[]` sets nothing, as it always has (an empty flag list is no flag).
                (GivenList::None, Some(ConfigContexts::Names(n))) if !n.is_empty() => GivenList::Names(n),
                (given, _) => given,
            },
            allowed_contexts_source,
            allow_unknown_contexts: allow_unknown_contexts || config.allow_unknown_contexts,
            allow_unusable_contexts: allow_unusable_contexts || config.allow_unusable_contexts,
            limits: Limits {
                max_input_bytes: max_input_bytes.or(config.max_input_bytes).unwrap_or(d.max_input_bytes),
                max_documents: max_documents.or(config.max_documents).unwrap_or(d.max_documents),
                max_depth: max_depth.or(config.max_depth).unwrap_or(d.max_depth),
                max_line_bytes: max_line_bytes.or(config.max_line_bytes).unwrap_or(d.max_line_bytes),
                refuse_excessive_aliasing: !(allow_excessive_aliasing || config.allow_excessive_aliasing),
            },
            diff_file: diff_file.or(config.diff_file),
            rbac: rbac.or(config.rbac).unwrap_or_default(),
            show_secrets: show_secrets || config.show_secrets,
            mount_kubeconfig: !(no_mount || config.no_mount),
            contexts_file: contexts_file.or(config.contexts_file),
            strict: strict || config.strict,
        }
    }
}

/// What `doctor` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoctorSource {
    Kubeconfig(PathBuf),
    /// No --kubeconfig: kubectl's, from `$KUBECONFIG` (merged) or `~/.kube/config`.
    Default,
    /// A contexts file from `kubeconfig pack --contexts-file`.
    ContextsFile(PathBuf),
}

/// `doctor --live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    pub timeout: std::time::Duration,
    pub allow_exec: bool,
}

/// `doctor`'s settings: flags, then the environment (clap reads `SKYHELM_KUBECONFIG`), then
/// defaults. doctor has no `--config` file (its options are not post-render's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorSettings {
    pub source: DoctorSource,
    /// `--allowed-context`; empty: from `manifests`.
    pub allowed_contexts: Vec<String>,
    pub manifests: Option<PathBuf>,
    pub deployment: Option<String>,
    pub container: String,
    pub output: DoctorOutput,
    pub color: ColorChoice,
    /// Seconds since the epoch to check certificate expiry at; None: now.
    pub now: Option<i64>,
    pub live: Option<LiveSettings>,
}

impl DoctorSettings {
    pub fn resolve(args: &DoctorArgs) -> Result<DoctorSettings, SettingsError> {
        let DoctorArgs {
            kubeconfig,
            contexts_file,
            allowed_context,
            manifests,
            deployment,
            container,
            output,
            color,
            now,
            live,
            timeout,
            allow_exec,
        } = args.clone();
        if live && allowed_context.is_empty() && manifests.is_none() {
            return Err(SettingsError::LiveWithoutContexts);
        }
        let source = match (kubeconfig, contexts_file) {
            (_, Some(c)) => DoctorSource::ContextsFile(c),
            (Some(k), None) => DoctorSource::Kubeconfig(k),
            (None, None) => DoctorSource::Default,
        };
        let now = match now {
            Some(d) => Some(crate::kubeconfig::cert::parse_date(&d).ok_or(SettingsError::BadDate(d))?),
            None => None,
        };
        Ok(DoctorSettings {
            source,
            allowed_contexts: allowed_context,
            manifests,
            deployment,
            container: container.unwrap_or_else(|| DEFAULT_CONTAINER.into()),
            output,
            color,
            now,
            live: live.then_some(LiveSettings { timeout: std::time::Duration::from_secs(timeout), allow_exec }),
        })
    }
}

/// `generate`'s settings: flags, then defaults (the output folder follows the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSettings {
    pub environments: PathBuf,
    pub out: PathBuf,
    pub templates: Option<PathBuf>,
    pub check: bool,
    pub format: Format,
}

impl GenerateSettings {
    pub fn resolve(args: &GenerateArgs) -> GenerateSettings {
        let GenerateArgs { environments, out, templates, check, format } = args.clone();
        GenerateSettings {
            environments,
            out: out.unwrap_or_else(|| format.default_out().into()),
            templates,
            check,
            format,
        }
    }
}

/// `diff --color` and `doctor --color`: the flag, then the environment (`NO_COLOR` set and not empty turns `auto`
/// off), then `auto`: colour when stdout is a terminal.
pub fn diff_color(choice: ColorChoice, stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn config_file_reads_the_command_line_type() {
        let path = Path::new("/etc/skyhelm/config.yaml");
        let cfg = config_file(
            path,
            "rbac: tighten\nmount-kubeconfig: false\nstrict: true\nallowed-contexts: [a, b]\nkubeconfig: k\n",
        )
        .unwrap();
        assert_eq!(cfg.rbac, Some(RbacMode::Tighten));
        assert!(cfg.no_mount && cfg.strict);
        assert_eq!(cfg.allowed_contexts_config, Some(ConfigContexts::Names(vec!["a".into(), "b".into()])));
        // As in SkyPilot's config: the string `all` is every context, a list holds names.
        let given = |text: &str| Settings::resolve(&PostRenderArgs::default(), config_file(path, text).unwrap());
        assert_eq!(given("allowed-contexts: all\n").allowed_contexts, GivenList::All);
        assert_eq!(given("allowed-contexts: [all]\n").allowed_contexts, GivenList::Names(vec!["all".into()]));
        assert_eq!(given("allowed-contexts:\n- all\n").allowed_contexts, GivenList::Names(vec!["all".into()]));
        assert_eq!(given("allowed-contexts: []\n").allowed_contexts, GivenList::None);
        let err = config_file(path, "allowed-contexts: prod\n").unwrap_err().to_string();
        assert!(err.contains("expected `all` (every context) or a list of context names (`[prod]`)"), "{err}");
        assert_eq!(cfg.skypilot_kubeconfig.as_deref(), Some(Path::new("/etc/skyhelm/k")));
        // null is unset, as it was when the file had its own all-Option type.
        let cfg = config_file(path, "mount-kubeconfig: null\nallowed-contexts: ~\nstrict:\nrbac: null\n").unwrap();
        assert_eq!(cfg, PostRenderArgs::default());
        assert!(config_file(path, "mount-kubeconfig: true\n").is_ok_and(|c| !c.no_mount));
        // Options that only the command line has are unknown in the file.
        for key in ["config", "no-mount", "allowed-context", "allowed-context-from-env"] {
            assert!(config_file(path, &format!("{key}: x\n")).is_err(), "{key}");
        }
        // Flags win over the file; the file over defaults.
        let args = PostRenderArgs { rbac: Some(RbacMode::Audit), ..Default::default() };
        let file = config_file(path, "rbac: off\nmount-kubeconfig: false\n").unwrap();
        let s = Settings::resolve(&args, file);
        assert_eq!((s.rbac, s.mount_kubeconfig), (RbacMode::Audit, false));
        assert_eq!(Settings::default().rbac, RbacMode::Add);
    }

    #[test]
    fn each_mode_and_format_has_one_name() {
        for m in RbacMode::value_variants() {
            assert_eq!(m.to_possible_value().map(|v| v.get_name().to_string()), Some(m.name().to_string()));
            assert_eq!(RbacMode::from_name(m.name()), Some(*m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        assert_eq!(RbacMode::names(), "add, audit, tighten, off");
        for f in Format::value_variants() {
            assert_eq!(f.to_possible_value().map(|v| v.get_name().to_string()), Some(f.name().to_string()));
        }
    }

    #[test]
    fn diff_color_is_flag_then_no_color_then_terminal() {
        let set = Some(std::ffi::OsStr::new("1"));
        assert!(diff_color(ColorChoice::Always, false, set));
        assert!(!diff_color(ColorChoice::Never, true, None));
        assert!(diff_color(ColorChoice::Auto, true, None));
        assert!(diff_color(ColorChoice::Auto, true, Some(std::ffi::OsStr::new(""))));
        assert!(!diff_color(ColorChoice::Auto, true, set));
        assert!(!diff_color(ColorChoice::Auto, false, None));
    }
}
