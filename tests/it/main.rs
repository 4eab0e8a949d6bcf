#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod context_env;
mod context_warnings;
mod contexts;
mod diff;
mod fidelity;
mod generate;
mod gitops;
mod helm;
mod hostile;
mod kubeconfig;
mod live;
mod messages;
mod packaging;
mod policy;
mod props;
mod rbac;
mod regressions;
mod release;
mod seams;
mod secret_mount;
mod sidefiles;
mod skypilot;
mod speed;
mod util;
