//! skyhelm: a lossless Helm post-renderer for the SkyPilot API server.
//!
//! The core (`stream`, `yaml`, `rules`, `post_render`) does no process I/O: it takes bytes and
//! settings and returns bytes, changes and notes. `app` is the only module that touches stdin,
//! stdout, files and the environment.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod change;
pub mod chart;
pub mod cli;
pub mod contexts;
pub mod kubeconfig;
pub mod live_client;
pub mod messages;
pub mod plugin;
pub mod post_render;
pub mod rbac;
pub mod report;
pub mod rules;
pub mod settings;
pub mod stream;
pub mod verify;
pub mod yaml;
