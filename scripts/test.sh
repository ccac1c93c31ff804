#!/usr/bin/env bash
# The whole test suite, as the README and CI run it: formatting, lints, then every test
# (unit, doc, trybuild UI, integration and end-to-end against real processes and tools).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-tools.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked --quiet
# What crates.io would receive: the published crates' sources and licences, nothing from tests/
# or the generated deploy files.
for crate in obs-schema obs-macros obs-runtime obs-generate; do
    listed=$(cargo package --list --allow-dirty --locked -p "$crate" 2>/dev/null)
    if grep -qE '^(tests|examples|benches)/|deploy/' <<<"$listed" || ! grep -qx 'LICENSE-MIT' <<<"$listed"; then
        echo "cargo package --list -p $crate is not clean:"; echo "$listed"; exit 1
    fi
done
# obs-runtime without its default features (no exporter, no TLS), and each feature alone.
cargo test -p obs-runtime --no-default-features --locked
# Each feature alone, and the pairs whose code depends on both.
for feature in otlp-http otlp-grpc tls metrics tonic axum reqwest reqwest,tls otlp-grpc,tls; do
    cargo clippy -p obs-runtime --no-default-features --features "$feature" --locked --quiet -- -D warnings
done
cargo test --workspace --locked
