#!/usr/bin/env bash
# The whole test suite, as the README and CI run it: formatting, lints, then every test
# (unit, doc, trybuild UI, integration and end-to-end against real processes and tools).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-tools.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
