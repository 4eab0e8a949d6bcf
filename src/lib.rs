//! skyhelm: a lossless Helm post-renderer for the SkyPilot API server.
//!
//! The library does no process I/O: it takes bytes and settings and returns bytes, changes and
//! notes. `app` (in the binary's crate path) is the only place that touches stdin, files and
//! the environment.

pub mod yaml;
