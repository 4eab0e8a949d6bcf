#!/usr/bin/env bash
# Bounded fuzzing of every target (cargo-fuzz, libFuzzer). SECONDS_PER_TARGET (default 60),
# FUZZ_TARGETS (default: all seven).
# The corpora are seeded from the project's own fixtures and examples; crashes land in
# fuzz/artifacts/<target>/ and make this script fail (turn each into a regression test).
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets this machine's stable toolchain use them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_TARGET:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.1 --locked
read -r -a targets <<< "${FUZZ_TARGETS:-split yaml_edit config_edit kubeconfig post_render depth fast_yaml}"
for t in split yaml_edit config_edit kubeconfig post_render depth fast_yaml; do
  rm -rf "fuzz/corpus/$t" "fuzz/artifacts/$t"; mkdir -p "fuzz/corpus/$t"
done
# Seeds: manifests for the stream targets, kubeconfigs for the kubeconfig target.
for f in tests/fixtures/*.yaml tests/fixtures/fuzz/*.yaml examples/helm3-rendered.yaml; do
  for t in split yaml_edit post_render fast_yaml; do cp "$f" "fuzz/corpus/$t/seed-$(basename "$f")"; done
done
for f in tests/fixtures/kubeconfigs/*.yaml examples/kubeconfig; do cp "$f" "fuzz/corpus/kubeconfig/seed-$(basename "$f")"; done
# depth builds its documents from a few bytes: [place, offset, block levels, limit, shapes…].
printf '\x00\x02\x00\x00\x01\x00' > fuzz/corpus/depth/seed-args-at-limit
printf '\x01\x03\x80\x00\x00\x01' > fuzz/corpus/depth/seed-config-past-limit
printf 'kubernetes:\n  allowed_contexts: [a, ssh-b, A]  # c\nworkspaces:\n  w:\n    kubernetes:\n      allowed_contexts:\n      - in-cluster\n' > fuzz/corpus/config_edit/seed-config.yaml
(cd fuzz && cargo fuzz build -O)
for t in "${targets[@]}"; do
  echo "fuzzing $t for ${seconds}s"
  # A fixed seed: the run is a prefix of any longer local run with the same seed.
  (cd fuzz && cargo fuzz run -O "$t" -- -seed=1 -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 3)
done
