//! skyhelm: a lossless Helm post-renderer for the SkyPilot API server.
//!
//! Modules in pipeline order (post-render: bytes in → documents → rules → edits → proof → bytes
//! and a report out), as layers from the top. A module refers only to modules of its own layer
//! or below, and no modules refer to each other in a circle (tests/architecture.rs reads the
//! `layer N` lines below and checks both):
//!
//! - layer 1 `app`, `helm_plugin`: process I/O. `app`: stdin, stdout, stderr, the
//!   environment, child processes, and each command from its settings to its output;
//!   `helm_plugin` runs `helm` to package and installs the plugin folder (`manifest` is the
//!   pure plugin.yaml).
//! - layer 2 `live`, `files`: `doctor --live`, whose `live::client` makes the network
//!   connections to Kubernetes API servers (the rest of `live` is pure: the contexts to contact,
//!   the permissions to ask for, prechecks, the credentials to hide); `files`: reading and
//!   writing files (atomic writes, size-capped reads of regular files, the last-run report).
//! - layer 3 `chart`: `generate`, one chart per environment from tera templates, or GitOps
//!   objects (`gitops`), and the list of files it owns (`owned`).
//! - layer 4 `post_render`: runs the rules, applies their edits, and proves each edit (`verify`).
//! - layer 5 `report`: the helm-diff style text and JSON report of what changed and why.
//! - layer 6 `settings`: flag > `SKYHELM_*` environment > config file > default.
//! - layer 7 `cli`: the clap types, standing on layer 13 alone (tests/architecture.rs checks it).
//! - layer 8 `rules`: the post-render rules (locate the API server, mount the kubeconfig,
//!   allowed contexts, kubeconfig checks, RBAC); each returns `rules::change` values and never
//!   prints.
//! - layer 9 `kubeconfig`: reading kubeconfigs (`doctor`, `pack`, certificates and client
//!   identities, contexts files).
//! - layer 10 `policy`: what SkyPilot needs and accepts (the context rules and the settings
//!   SkyPilot reads, the minimal RBAC set, how Kubernetes evaluates RBAC grants), shared by
//!   post-render, `doctor` and `generate`.
//! - layer 11 `stream`: splits the manifest stream into documents, keeping every byte; parses a
//!   document only when asked.
//! - layer 12 `yaml`: a located tree of one document (granit-parser's events, or the same
//!   events from `yaml::fast` for plain block YAML), what scalars mean (YAML 1.1 as Kubernetes
//!   reads it, and as PyYAML reads SkyPilot's config), byte-preserving edits and the writer of
//!   new values.
//! - layer 13 `model`, `text`, `messages`, `exit`: the shared vocabulary (severity, RBAC mode,
//!   GitOps format, defaults), hashing, the wording shared by errors (third-party messages made
//!   fit for users, outside text made safe to show), and every exit code.
//!
//! Only layers 1 and 2 do process I/O (and of `live`, only `live::client`): the others take
//! bytes and settings and return bytes, changes and notes.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod chart;
pub mod cli;
pub mod exit;
pub mod files;
pub mod helm_plugin;
pub mod kubeconfig;
pub mod live;
pub mod messages;
pub mod model;
pub mod policy;
pub mod post_render;
pub mod report;
pub mod rules;
pub mod settings;
pub mod stream;
pub mod text;
pub mod yaml;

/// The one-line description (Cargo.toml's): `skyhelm` alone, `--help`, the man pages' NAME.
pub const DESCRIPTION: &str = env!("CARGO_PKG_DESCRIPTION");

/// `--version`: the crate version, and the git commit when built from a checkout (build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("SKYHELM_VERSION_SUFFIX"));
