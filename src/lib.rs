//! skyhelm: a lossless Helm post-renderer for the SkyPilot API server.
//!
//! Modules in pipeline order (post-render: bytes in → documents → rules → edits → proof → bytes
//! and a report out):
//!
//! - `cli` (clap types), `settings` (flag > `SKYHELM_*` environment > config file > default),
//!   `exit` (every exit code).
//! - `stream`: splits the manifest stream into documents, keeping every byte; parses a
//!   document only when asked.
//! - `yaml`: a located tree of one document, what scalars mean (YAML 1.1 as Kubernetes reads
//!   it, and as PyYAML reads SkyPilot's config), byte-preserving edits and the writer of new
//!   values.
//! - `policy`: what SkyPilot needs and accepts (the context rules, the minimal RBAC set, how
//!   Kubernetes evaluates RBAC grants), shared by post-render, `doctor` and `generate`.
//! - `rules`: the post-render rules (locate the API server, mount the kubeconfig, allowed
//!   contexts, kubeconfig checks, RBAC); each returns `rules::change` values and never prints.
//! - `post_render`: runs the rules, applies their edits, and proves each edit (`verify`).
//! - `report`: the helm-diff style text and JSON report of what changed and why.
//! - `kubeconfig`: reading kubeconfigs (`doctor`, `pack`, certificates and client identities,
//!   contexts files).
//! - `chart`: `generate`, one chart per environment from tera templates, or GitOps objects
//!   (`gitops`), and the list of files it owns (`owned`).
//! - `messages`: wording shared by errors (third-party messages made fit for users, outside
//!   text made safe to show).
//!
//! The modules above do no process I/O: they take bytes and settings and return bytes, changes
//! and notes. I/O happens in three places only:
//!
//! - `app` (and `app::files`): stdin, stdout, stderr, files, the environment, child processes.
//! - `helm_plugin`: runs `helm` to package and installs the plugin folder (`manifest` is the
//!   pure plugin.yaml).
//! - `live::client`: network connections to Kubernetes API servers for `doctor --live` (the
//!   rest of `live` is pure: the contexts to contact, the permissions to ask for, prechecks,
//!   the credentials to hide).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod chart;
pub mod cli;
pub mod exit;
pub mod helm_plugin;
pub mod kubeconfig;
pub mod live;
pub mod messages;
pub mod policy;
pub mod post_render;
pub mod report;
pub mod rules;
pub mod settings;
pub mod stream;
pub mod yaml;

/// The one-line description (Cargo.toml's): `skyhelm` alone, `--help`, the man pages' NAME.
pub const DESCRIPTION: &str = env!("CARGO_PKG_DESCRIPTION");

/// `--version`: the crate version, and the git commit when built from a checkout (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("SKYHELM_VERSION_SUFFIX"));
