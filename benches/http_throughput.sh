#!/usr/bin/env bash
# HTTP throughput of the same trivial handler, bare and instrumented, side by side: builds the
# servers in release, starts every variant at once (idle ones cost nothing), drives each in turn
# with wrk for several alternating rounds, and prints each variant's median requests/s as a ratio
# to bare's. Installs wrk from Debian when missing.
#
#   bash benches/http_throughput.sh            # 5 rounds of 5 s per variant
#   ROUNDS=3 DURATION=3s bash benches/http_throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-16}

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian)" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
cargo build --release --quiet -p obs-bench --bin http_bench
server=target/release/http_bench

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

sink_port=$(free_port)
"$server" sink "127.0.0.1:$sink_port" &
pids+=($!)

# name | server variant | environment
variants=(
    "bare|bare|"
    "observed|observed|RUST_LOG=info"
    "observed_otlp|observed|RUST_LOG=info OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port"
    "observed_metrics_only|observed|RUST_LOG=off OTEL_TRACES_SAMPLER=always_off"
    "observed_with_layer|observed_layer|RUST_LOG=info"
    "peer|peer|RUST_LOG=info"
)
declare -A port
for entry in "${variants[@]}"; do
    IFS='|' read -r name variant environment <<<"$entry"
    port[$name]=$(free_port)
    # JSON lines to stdout, redirected to /dev/null, as the issue measures.
    env $environment "$server" "$variant" "127.0.0.1:${port[$name]}" >/dev/null &
    pids+=($!)
done
for name in "${!port[@]}"; do
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:${port[$name]}/users/7" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:${port[$name]}/users/7" >/dev/null || { echo "$name did not start" >&2; exit 1; }
done

results=$(mktemp)
names=()
for entry in "${variants[@]}"; do names+=("${entry%%|*}"); done
for round in $(seq "$ROUNDS"); do
    # Rotate the order each round, so no variant always runs first or last.
    count=${#names[@]}
    for offset in $(seq 0 $((count - 1))); do
        name=${names[$(( (offset + round) % count ))]}
        rate=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:${port[$name]}/users/7" | awk '/^Requests\/sec:/ {print $2}')
        echo "$name $rate" >>"$results"
        echo "round $round: $name $rate req/s" >&2
    done
done

model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "HTTP throughput, $(nproc) cores ($model), wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS alternating rounds, median:"
echo
python3 - "$results" "${names[@]}" <<'PY'
import statistics, sys
results, names = sys.argv[1], sys.argv[2:]
rates = {}
for line in open(results):
    name, rate = line.split()
    rates.setdefault(name, []).append(float(rate))
bare = statistics.median(rates["bare"])
print("| variant | requests/s (median) | ÷ bare | rounds (min–max requests/s) |")
print("|---|---|---|---|")
for name in names:
    median = statistics.median(rates[name])
    print(f"| {name} | {median:,.0f} | {median / bare:.3f} | {min(rates[name]):,.0f}–{max(rates[name]):,.0f} |")
PY
rm -f "$results"
