//! The vocabulary the layers above share: how serious a finding is, the RBAC mode, the GitOps
//! format, the defaults of the settings and the bound on `--max-depth`. It sits below every other module (it refers to
//! none), so `cli`, `settings`, `rules`, `kubeconfig` and `report` can all stand on it.

/// The kubeconfig Secret's name when none is given.
pub const DEFAULT_SECRET_NAME: &str = "kube-credentials";

/// The API server's container name when none is given (the upstream chart's).
pub const DEFAULT_CONTAINER: &str = "skypilot-api";

/// The largest `--max-depth`: deeper nesting is refused whatever the option says (the command's
/// thread gets a stack sized for the limit, `app::stack`; this bounds it).
pub const MAX_MAX_DEPTH: usize = 100_000;

/// A `--max-depth` value (or `max-depth` in the config file) above [`MAX_MAX_DEPTH`], in words.
pub fn max_depth_problem(max_depth: usize) -> Option<String> {
    (max_depth > MAX_MAX_DEPTH)
        .then(|| format!("{max_depth} is more than {MAX_MAX_DEPTH}, the deepest nesting skyhelm handles"))
}

/// How serious a finding or note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        }
    }
}

/// What the RBAC rule does: the one definition behind `--rbac`, `rbac` in the `--config` file
/// and in skyhelm.yaml, and `rbac` in generate's environments file (the doc comments are
/// `--help`'s text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RbacMode {
    /// Add a Role/RoleBinding and ClusterRole/ClusterRoleBinding for what is missing (never a
    /// ServiceAccount: when nothing creates it, a note says it must exist).
    #[default]
    Add,
    /// Change nothing; report excess and missing grants.
    Audit,
    /// Add what is missing (as add), then rewrite wildcard verbs in roles bound only to the API
    /// server's account (keeping escalate/bind where RBAC management is granted).
    Tighten,
    Off,
}

impl RbacMode {
    /// The name users write (`--rbac add`).
    pub fn name(self) -> &'static str {
        match self {
            RbacMode::Add => "add",
            RbacMode::Audit => "audit",
            RbacMode::Tighten => "tighten",
            RbacMode::Off => "off",
        }
    }

    /// The mode a name stands for.
    pub fn from_name(name: &str) -> Option<RbacMode> {
        <RbacMode as clap::ValueEnum>::value_variants().iter().copied().find(|m| m.name() == name)
    }

    /// Every name, for messages: `add, audit, tighten, off`.
    pub fn names() -> String {
        <RbacMode as clap::ValueEnum>::value_variants().iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
    }
}

/// How the environments are deployed (`generate --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    // One wrapper chart per environment (post-render with its skyhelm.yaml). Plain comments:
    // doc comments here would become `--help` text.
    #[default]
    Chart,
    Flux,
    #[value(name = "argocd")]
    ArgoCd,
    Helmfile,
}

impl Format {
    /// The name users write (`--format argocd`), also the generated files' header.
    pub fn name(self) -> &'static str {
        match self {
            Format::Chart => "chart",
            Format::Flux => "flux",
            Format::ArgoCd => "argocd",
            Format::Helmfile => "helmfile",
        }
    }

    /// Where `generate` writes without `--out`.
    pub fn default_out(self) -> &'static str {
        match self {
            Format::Chart => "charts",
            Format::Flux => "flux",
            Format::ArgoCd => "argocd",
            Format::Helmfile => "helmfile",
        }
    }
}
