#!/usr/bin/env bash
# Runs every test: installs what the tests need when missing (Helm 3 and 4, the Go YAML
# reader), checks formatting and lints (clippy with warnings as errors, every target), then
# runs the unit, CLI, fidelity and real-Helm end-to-end tests, and builds the release binary
# with the README's install command (tests/it/packaging.rs runs its signed-package block).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
cargo build --release --locked
target/release/skyhelm --version
