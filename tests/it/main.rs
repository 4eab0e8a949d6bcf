#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod context_warnings;
mod contexts;
mod diff;
mod fidelity;
mod generate;
mod helm;
mod kubeconfig;
mod live;
mod packaging;
mod policy;
mod messages;
mod props;
mod rbac;
mod regressions;
mod release;
mod sidefiles;
mod util;
