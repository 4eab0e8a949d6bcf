#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod contexts;
mod diff;
mod fidelity;
mod generate;
mod gitops;
mod helm;
mod kubeconfig;
mod live;
mod policy;
mod props;
mod rbac;
mod regressions;
mod util;
