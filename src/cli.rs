//! Command-line types (clap derive) and nothing else.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::model::{DEFAULT_SECRET_NAME, Format, RbacMode};

#[derive(Debug, Parser)]
#[command(
    name = "skyhelm",
    version = crate::VERSION,
    about = crate::DESCRIPTION,
    long_about = long_about(),
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub post_render: PostRenderArgs,
}

/// `--help`'s description: the one line, then how the default subcommand works.
fn long_about() -> String {
    format!(
        "{}.\n\nWith no subcommand and stdin not a terminal, skyhelm runs `post-render` with the options given, so `helm install --post-renderer skyhelm` works in Helm 3. These options may also come before `post-render` or `diff` (`skyhelm --config F diff`).",
        crate::DESCRIPTION
    )
}

impl Cli {
    /// Parses the command line; on a usage error prints clap's message and exits.
    /// - The post-render options may also come before `post-render` or `diff`
    ///   (`skyhelm --config F post-render`): they are parsed as if they followed it.
    /// - Names from `SKYHELM_ALLOWED_CONTEXTS` (comma-separated) are trimmed and empty ones dropped.
    /// - A usage error is returned (not printed), so that a refused post-render command line is
    ///   kept as a failed run ([`runs_post_render`]).
    pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
        let matches = command().try_get_matches_from(hoist_post_render_options(args.into_iter().collect()))?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        match (&mut cli.command, matches.subcommand()) {
            (Some(Command::PostRender(a)), Some((_, m))) => a.note_env_source(m),
            (Some(Command::Diff(a)), Some((_, m))) => a.post_render.note_env_source(m),
            (None, _) => cli.post_render.note_env_source(&matches),
            _ => {}
        }
        Ok(cli)
    }
}

/// The command with the exit codes under every subcommand's `--help` too: what `parse_args`,
/// `--help`, the completions and the man pages use.
pub fn command() -> clap::Command {
    fn with_exit_status(c: clap::Command) -> clap::Command {
        c.after_help(crate::exit::EXIT_STATUS).mut_subcommands(with_exit_status)
    }
    with_exit_status(Cli::command())
}

/// Whether a refused command line asked for JSON output (`-o json`, `-ojson`, `-o=json`,
/// `--output json`, `--output=json`), and which subcommand it named: its usage error is then
/// printed as JSON too.
pub fn json_requested(args: &[OsString]) -> Option<&'static str> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let json = words.iter().enumerate().any(|(i, w)| {
        matches!(*w, "-ojson" | "-o=json" | "--output=json")
            || (matches!(*w, "-o" | "--output") && words.get(i + 1) == Some(&"json"))
    });
    let sub = words.iter().find_map(|w| match *w {
        "diff" => Some("diff"),
        "doctor" => Some("doctor"),
        _ => None,
    });
    json.then_some(sub).flatten()
}

/// `--max-depth N`: a number up to `model::MAX_MAX_DEPTH`.
fn parse_max_depth(value: &str) -> Result<usize, String> {
    let n: usize = value.parse().map_err(|e: std::num::ParseIntError| e.to_string())?;
    crate::model::max_depth_problem(n).map_or(Ok(n), Err)
}

/// Whether a command line runs post-render (explicitly, or as the default with no
/// subcommand): no argument names another subcommand. Used for command lines clap refused.
pub fn runs_post_render(args: &[OsString]) -> bool {
    let cmd = Cli::command();
    let others: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "post-render").collect();
    !args.iter().skip(1).any(|a| a.to_str().is_some_and(|a| others.contains(&a)))
}

/// `skyhelm [POST-RENDER OPTIONS] (post-render|diff) REST` becomes
/// `skyhelm (post-render|diff) [POST-RENDER OPTIONS] REST`. Clap finds where the options end
/// (which of them take a value): the top-level options are parsed with the first positional
/// argument taken as an external subcommand, whose arguments are the rest. Global arguments
/// (`#[arg(global = true)]`) would do it too, but they also reach every other subcommand
/// (doctor would accept --secret-name and inherit SKYHELM_ALLOWED_CONTEXTS through its own
/// --allowed-context), so `skyhelm --config F doctor` stays an error.
fn hoist_post_render_options(args: Vec<OsString>) -> Vec<OsString> {
    // Values and the environment are checked by the real parse, which names what is wrong.
    let lenient = |a: clap::Arg| {
        let a = a.env(clap::builder::Resettable::Reset);
        if a.get_action().takes_values() { a.value_parser(clap::builder::OsStringValueParser::new()) } else { a }
    };
    let splitter = PostRenderArgs::augment_args(clap::Command::new("skyhelm"))
        .mut_args(lenient)
        .allow_external_subcommands(true)
        .disable_help_flag(true)
        .disable_version_flag(true);
    let Ok(m) = splitter.try_get_matches_from(&args) else { return args };
    let Some((name, sub)) = m.subcommand() else { return args };
    if !matches!(name, "post-render" | "diff") {
        return args;
    }
    let rest = sub.get_many::<OsString>("").map_or(0, |v| v.len());
    let Some(at) = args.len().checked_sub(rest + 1).filter(|&at| at > 1) else { return args };
    let mut out = vec![args[0].clone(), args[at].clone()];
    out.extend_from_slice(&args[1..at]);
    out.extend_from_slice(&args[at + 1..]);
    out
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read rendered manifests on stdin, write them post-rendered on stdout.
    PostRender(PostRenderArgs),
    /// Print what post-render would change and why (exit 0: nothing; 2: changes; 1: error).
    Diff(DiffArgs),
    /// Install, package or remove the Helm 4 `postrenderer/v1` plugin that runs a copy of this binary.
    #[command(subcommand)]
    HelmPlugin(PluginCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, or write every page (one per subcommand) into a folder.
    Man(ManArgs),
    /// Print the report of the last post-render run in this working folder (else the newest of
    /// any folder), one kept per folder in $XDG_STATE_HOME/skyhelm/last-run-*.txt (exit 1
    /// unless that run was ok).
    Last(LastArgs),
    /// Check a kubeconfig before it becomes the API server's Secret (exit 1 on an error finding).
    Doctor(DoctorArgs),
    /// Kubeconfig tools.
    #[command(subcommand)]
    Kubeconfig(KubeconfigCommand),
    /// Generate one chart per environment from an environments file.
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LastArgs {
    /// List the first line of every kept report (one per working folder), newest first; exit 1
    /// unless every one of them was ok.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// The environments file (schema: schemas/environments.schema.json).
    #[arg(value_name = "ENVIRONMENTS")]
    pub environments: PathBuf,
    /// Where the output goes, each environment in `<name>-<environment>/` [default: charts,
    /// or flux, argocd, helmfile by --format].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Use the `*.tera` templates in DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Write nothing; exit 1 with a diff when the charts on disk differ from what would be generated.
    #[arg(long)]
    pub check: bool,
    /// What to write: wrapper charts, Flux HelmReleases, Argo CD Applications, or a helmfile.
    #[arg(long, value_enum, default_value = "chart")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorOutput {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The kubeconfig to check [default: as kubectl: $KUBECONFIG (its files merged), else
    /// ~/.kube/config].
    #[arg(long, env = "SKYHELM_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Check a contexts file (`kubeconfig pack --contexts-file`) instead: names, servers, kinds
    /// of authentication.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kubeconfig", "live"])]
    pub contexts_file: Option<PathBuf>,
    /// The allowed contexts (repeatable); default: from --manifests.
    #[arg(long, value_name = "NAME")]
    pub allowed_context: Vec<String>,
    /// Rendered manifests (`-` for stdin): the allowed lists and the in-cluster context come from them.
    #[arg(long, value_name = "FILE")]
    pub manifests: Option<PathBuf>,
    /// Name of the API server Deployment in --manifests.
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
    /// Name of the API server container in --manifests [default: skypilot-api].
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: DoctorOutput,
    /// Colour of the table: auto means when stdout is a terminal and NO_COLOR is not set;
    /// always wins over NO_COLOR.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Check certificate expiry as of this date (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub now: Option<String>,
    /// Also connect to each allowed context and check with SelfSubjectAccessReview that its
    /// identity may do what SkyPilot needs.
    #[arg(long)]
    pub live: bool,
    /// Seconds to wait for each context with --live.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
    /// With --live, run the exec plugins and auth-providers of the users (otherwise those
    /// contexts are reported as not checked).
    #[arg(long)]
    pub allow_exec: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write skyhelm.1 and one page per subcommand (skyhelm-diff.1, …) into DIR (created when
    /// missing) instead of printing skyhelm.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum KubeconfigCommand {
    /// Write a self-contained kubeconfig (or a Secret holding it) with only the given contexts.
    Pack(PackArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackOutput {
    Secret,
    Kubeconfig,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The kubeconfig to pack from [default: as kubectl: $KUBECONFIG (its files merged), else
    /// ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// A context to keep (repeatable; the first becomes current-context).
    #[arg(long = "context", value_name = "NAME", required = true)]
    pub contexts: Vec<String>,
    #[arg(long, default_value = DEFAULT_SECRET_NAME, value_name = "NAME")]
    pub secret_name: String,
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// What to write on stdout.
    #[arg(short, long, value_enum, default_value = "secret")]
    pub output: PackOutput,
    /// Pack users that authenticate with exec plugins anyway.
    #[arg(long)]
    pub allow_exec: bool,
    /// Also write a credential-free contexts file (names, servers, kinds of authentication, the
    /// Secret's name and the sha256 of its `config`) to FILE, meant to be committed.
    #[arg(long, value_name = "FILE")]
    pub contexts_file: Option<PathBuf>,
}

/// The post-render options. The `--config` file holds the same options in kebab-case (read
/// with serde into this same type: `null` means unset, `mount-kubeconfig: false` is
/// `--no-mount`); [`crate::settings::Settings::resolve`] layers flags and environment over it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, serde::Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct PostRenderArgs {
    /// YAML file with any of these options (kebab-case keys, e.g. `secret-name: x`).
    #[arg(long, env = "SKYHELM_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    #[arg(long, env = "SKYHELM_SECRET_NAME", value_name = "NAME", help = secret_name_help())]
    pub secret_name: Option<String>,
    /// Local copy of the kubeconfig in that Secret (adds a checksum annotation that rolls the
    /// pods). Not `--kubeconfig`: Helm reads its own global flags from every argument, the
    /// post-renderer's included.
    #[arg(long = "skypilot-kubeconfig", env = "SKYHELM_KUBECONFIG", value_name = "FILE")]
    #[serde(rename = "kubeconfig")]
    pub skypilot_kubeconfig: Option<PathBuf>,
    /// Name of the API server Deployment (default: found by its container).
    #[arg(long, env = "SKYHELM_DEPLOYMENT", value_name = "NAME")]
    pub deployment: Option<String>,
    /// Name of the API server container [default: skypilot-api].
    #[arg(long, env = "SKYHELM_CONTAINER", value_name = "NAME")]
    pub container: Option<String>,
    /// Release namespace, for documents that carry none (the API server's namespace in RBAC
    /// subjects). Not `--namespace`: Helm would take that as its own `-n/--namespace`.
    #[arg(long = "release-namespace", env = "SKYHELM_NAMESPACE", value_name = "NS")]
    #[serde(rename = "namespace")]
    pub release_namespace: Option<String>,
    /// Also write errors, changes and notes to this file (Helm hides the post-renderer's stderr).
    #[arg(long, env = "SKYHELM_REPORT_FILE", value_name = "FILE")]
    pub report_file: Option<PathBuf>,
    /// Sets kubernetes.allowed_contexts (repeatable, in failover order; env: comma-separated).
    /// `all` alone: every context (refused when a context is named `all`: then say which in
    /// the --config file, `allowed-contexts: all` or `[all]`).
    #[arg(long, env = "SKYHELM_ALLOWED_CONTEXTS", value_name = "NAME", value_delimiter = ',')]
    #[serde(skip)]
    pub allowed_context: Vec<String>,
    /// `allowed-contexts` in the --config file, spelled as in SkyPilot's config: the string
    /// `all`, or a list of names (`[all]` is the context named `all`).
    #[arg(skip)]
    #[serde(rename = "allowed-contexts", deserialize_with = "config_contexts")]
    pub allowed_contexts_config: Option<ConfigContexts>,
    /// Keep allowed context names that match no kubeconfig context (with a warning).
    #[arg(long, env = "SKYHELM_ALLOW_UNKNOWN_CONTEXTS")]
    #[serde(deserialize_with = "null_is_default")]
    pub allow_unknown_contexts: bool,
    /// Render even when an allowed context cannot work inside the API server pod (a file
    /// reference, a loopback server, an expired certificate): those become warnings.
    #[arg(long, env = "SKYHELM_ALLOW_UNUSABLE_CONTEXTS")]
    #[serde(deserialize_with = "null_is_default")]
    pub allow_unusable_contexts: bool,
    /// Also write the report of what changed and why (as `skyhelm diff` prints it) to FILE.
    #[arg(long, env = "SKYHELM_DIFF_FILE", value_name = "FILE")]
    pub diff_file: Option<PathBuf>,
    /// RBAC for the API server's service account [default: add].
    #[arg(long, env = "SKYHELM_RBAC", value_enum, value_name = "MODE")]
    pub rbac: Option<RbacMode>,
    /// Show Secret values in reports instead of their size.
    #[arg(long, env = "SKYHELM_SHOW_SECRETS")]
    #[serde(deserialize_with = "null_is_default")]
    pub show_secrets: bool,
    /// Refuse a larger input [default: 536870912, 512 MiB].
    #[arg(long, env = "SKYHELM_MAX_INPUT_BYTES", value_name = "N")]
    pub max_input_bytes: Option<usize>,
    /// Refuse more documents [default: 1000000].
    #[arg(long, env = "SKYHELM_MAX_DOCUMENTS", value_name = "N")]
    pub max_documents: Option<usize>,
    /// Refuse deeper nesting in a document skyhelm parses [default: 10000, as Kubernetes; at
    /// most 100000].
    #[arg(long, env = "SKYHELM_MAX_DEPTH", value_name = "N", value_parser = parse_max_depth)]
    pub max_depth: Option<usize>,
    /// Refuse longer lines in a document skyhelm parses [default: 1048576]. Whatever the
    /// limit, a node starting past column 16777215 is refused.
    #[arg(long, env = "SKYHELM_MAX_LINE_BYTES", value_name = "N")]
    pub max_line_bytes: Option<usize>,
    /// Accept aliasing that Kubernetes' reader refuses as excessive (alias bombs).
    #[arg(long, env = "SKYHELM_ALLOW_EXCESSIVE_ALIASING")]
    #[serde(deserialize_with = "null_is_default")]
    pub allow_excessive_aliasing: bool,
    /// Mount nothing (the chart does not use a kubeconfig); contexts and RBAC are still checked.
    #[arg(long, env = "SKYHELM_NO_MOUNT")]
    #[serde(rename = "mount-kubeconfig", deserialize_with = "no_mount_from_config")]
    pub no_mount: bool,
    /// Contexts file from `kubeconfig pack --contexts-file`: checks names like --kubeconfig, and
    /// its recorded sha256 becomes the rollout annotation.
    #[arg(long, env = "SKYHELM_CONTEXTS_FILE", value_name = "FILE", conflicts_with_all = ["skypilot_kubeconfig", "helm_kubeconfig"])]
    pub contexts_file: Option<PathBuf>,
    /// For CI: every correction of an allowed list or context_configs key, and every warning, is an error (nothing on stdout).
    #[arg(long, env = "SKYHELM_STRICT")]
    #[serde(deserialize_with = "null_is_default")]
    pub strict: bool,
    /// Helm's global `--kubeconfig`, refused by post-render ([`HELM_GLOBAL_SPELLINGS`]);
    /// `diff`, which Helm never runs, takes it as `--skypilot-kubeconfig`.
    #[arg(long = "kubeconfig", value_name = "FILE", hide = true, conflicts_with = "skypilot_kubeconfig")]
    #[serde(skip)]
    pub helm_kubeconfig: Option<PathBuf>,
    /// Helm's global `--namespace`: as `helm_kubeconfig`, for `--release-namespace`.
    #[arg(long = "namespace", value_name = "NS", hide = true, conflicts_with = "release_namespace")]
    #[serde(skip)]
    pub helm_namespace: Option<String>,
    /// `allowed_context` came from `SKYHELM_ALLOWED_CONTEXTS` (set by [`Cli::parse_args`]).
    #[arg(skip)]
    #[serde(skip)]
    pub allowed_context_from_env: bool,
    /// `secret_name` came from `SKYHELM_SECRET_NAME` (set by [`Cli::parse_args`]).
    #[arg(skip)]
    #[serde(skip)]
    pub secret_name_from_env: bool,
}

/// A config-file value where `null` means unset.
fn null_is_default<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// `allowed-contexts` in the --config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigContexts {
    /// The string `all`: every context (SkyPilot's keyword).
    All,
    /// A list: these names, `all` included as a name.
    Names(Vec<String>),
}

/// Reads `allowed-contexts` as SkyPilot reads `allowed_contexts`: a list of names, or the string
/// `all`; null is unset.
fn config_contexts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ConfigContexts>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Word(String),
        Names(Vec<String>),
    }
    match <Option<Raw> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Names(n)) => Ok(Some(ConfigContexts::Names(n))),
        Some(Raw::Word(w)) if w == "all" => Ok(Some(ConfigContexts::All)),
        Some(Raw::Word(w)) => Err(serde::de::Error::custom(format!(
            "allowed-contexts: {}: expected `all` (every context) or a list of context names (`[{0}]`)",
            crate::messages::sanitize(&w, &[])
        ))),
    }
}

/// `mount-kubeconfig: false` in the config file is `--no-mount`.
fn no_mount_from_config<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(<Option<bool> as serde::Deserialize>::deserialize(d)? == Some(false))
}

/// Post-render spellings that are Helm global flags, with the option that replaced each: Helm
/// pre-parses its global flags from all its arguments, `--post-renderer-args --kubeconfig=F`
/// included (FACTS.md §4), so under Helm 3 such a flag would also change what Helm itself does.
pub const HELM_GLOBAL_SPELLINGS: [(&str, &str); 2] =
    [("--kubeconfig", "--skypilot-kubeconfig"), ("--namespace", "--release-namespace")];

impl PostRenderArgs {
    /// The first Helm global flag given to post-render, with its replacement.
    pub fn helm_global_flag(&self) -> Option<(&'static str, &'static str)> {
        let given = [self.helm_kubeconfig.is_some(), self.helm_namespace.is_some()];
        HELM_GLOBAL_SPELLINGS.into_iter().zip(given).find_map(|(spelling, given)| given.then_some(spelling))
    }

    fn note_env_source(&mut self, m: &ArgMatches) {
        self.secret_name_from_env = m.value_source("secret_name") == Some(ValueSource::EnvVariable);
        if m.value_source("allowed_context") == Some(ValueSource::EnvVariable) {
            self.allowed_context_from_env = true;
            self.allowed_context =
                self.allowed_context.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffOutput {
    Diff,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub post_render: PostRenderArgs,
    /// Rendered manifests [default: stdin].
    #[arg(value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Lines of context around each change.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub context: usize,
    /// Colour: auto means when stdout is a terminal and NO_COLOR is not set; always wins over
    /// NO_COLOR.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "diff")]
    pub output: DiffOutput,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write DIR/skyhelm/ (plugin.yaml and a copy of this binary); replaces an earlier install.
    Install(PluginInstallArgs),
    /// Write DIR/skyhelm-<version>.tgz (and .prov with --sign) for `helm plugin install`.
    /// Runs Helm 4's `helm plugin package` with the `helm` on PATH, which signs with GnuPG keyrings.
    Package(PluginPackageArgs),
    /// Remove DIR/skyhelm.
    Uninstall(PluginDir),
}

#[derive(Debug, Args)]
pub struct PluginDir {
    /// Helm's plugin folder [default: $HELM_PLUGINS, else `helm env HELM_PLUGINS`].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PluginInstallArgs {
    #[command(flatten)]
    pub dir: PluginDir,
    /// Install even into a folder a Helm 3 on PATH reads (Helm 3 then fails to load its plugins).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PluginPackageArgs {
    /// Where the package goes.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,
    /// Also write the provenance file (`.prov`), signed with --key from --keyring.
    #[arg(long, requires_all = ["key", "keyring"])]
    pub sign: bool,
    /// Name of the signing key (as `gpg --list-secret-keys` shows it).
    #[arg(long, value_name = "NAME", requires = "sign")]
    pub key: Option<String>,
    /// The secret keyring (e.g. `gpg --export-secret-keys > secring.gpg`).
    #[arg(long, value_name = "FILE", requires = "sign")]
    pub keyring: Option<PathBuf>,
}

/// `--secret-name`'s help (no `default_value`: a config file may set it, so the default is
/// applied in `settings`).
fn secret_name_help() -> String {
    format!("Secret that holds the kubeconfig under key `config` [default: {}]", DEFAULT_SECRET_NAME)
}
