#!/usr/bin/env bash
# Runs every test: installs what the tests need when missing (Helm 3 and 4, the Go YAML
# reader), then the unit, CLI, fidelity and real-Helm end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
cargo test --locked
