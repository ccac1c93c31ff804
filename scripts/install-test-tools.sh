#!/usr/bin/env bash
# Installs the real tools the tests run against, when they are missing:
#   Prometheus and promtool (Debian package `prometheus`), Alertmanager and amtool
#   (`prometheus-alertmanager`: the binaries `prometheus-alertmanager` and `amtool`),
#   Python's reference OpenMetrics parser (`prometheus_client` from PyPI), and the OpenTelemetry
#   project's protobuf types with gRPC (`opentelemetry-proto`, `grpcio`) for the OTLP receiver,
#   Grafana's own typed dashboard models (`grafana-foundation-sdk` from PyPI) and Grafana's own
#   LogQL grammar (`@grafana/lezer-logql` from npm, run by Node.js from Debian when missing).
# A test never skips because a tool is absent; this script is how they are present.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Each binary the tests run, with the Debian package that ships it; a package is listed once.
missing_debian=()
for pair in prometheus:prometheus promtool:prometheus \
    prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager openssl:openssl; do
    binary="${pair%%:*}" package="${pair#*:}"
    if ! command -v "$binary" >/dev/null 2>&1 && [[ " ${missing_debian[*]} " != *" $package "* ]]; then
        missing_debian+=("$package")
    fi
done
if [ "${#missing_debian[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing_debian[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_debian[@]}" >/dev/null
fi

if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
    echo "installing prometheus_client from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'prometheus_client==0.26.0'
fi

if ! python3 -c 'import grpc, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc' >/dev/null 2>&1; then
    echo "installing opentelemetry-proto and grpcio from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'opentelemetry-proto==1.45.2' 'grpcio==1.85.3'
fi

if ! python3 -c 'import grafana_foundation_sdk.models.dashboard' >/dev/null 2>&1; then
    echo "installing grafana-foundation-sdk from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'grafana-foundation-sdk==1769699998!10.1.0'
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "installing Debian packages: nodejs npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
logql_dir="$(dirname "$0")/../tests/support/logql"
if [ ! -d "$logql_dir/node_modules/@grafana/lezer-logql" ]; then
    echo "installing @grafana/lezer-logql from npm"
    (cd "$logql_dir" && npm ci --silent --no-audit --no-fund)
fi

prometheus --version 2>&1 | head -n 1
promtool --version 2>&1 | head -n 1
prometheus-alertmanager --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
python3 -c 'import prometheus_client, sys; sys.stdout.write("prometheus_client ok\n")'
python3 -c 'import grafana_foundation_sdk, sys; sys.stdout.write("grafana-foundation-sdk ok\n")'
node --version
