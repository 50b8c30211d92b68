#!/usr/bin/env bash
# Load test of predict-payload over loopback with wrk (apt-get install wrk):
# builds the release binary, starts `sentinel serve` with a throw-away
# configuration and data directory, runs wrk, prints its latency report.
# Usage: ./scripts/load-test.sh [DURATION_S] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
CONNS="${2:-64}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
cargo build --release --quiet
BIN=target/release/sentinel
DATA="${SENTINEL_LOAD_DATA:-target/load-data}"
PORT="${PORT:-18099}"
TOKEN="load-test-token"
CONF="$(mktemp)"
cat > "$CONF" <<TOML
data_dir = "$DATA"
[api]
listen = "127.0.0.1:$PORT"
[[api.tokens]]
name = "load"
role = "analyst"
sha256 = "$($BIN serve --hash-token "$TOKEN")"
TOML
$BIN models init --data-dir "$DATA" --quiet
$BIN serve -c "$CONF" > /dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$CONF"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
SENTINEL_TOKEN="$TOKEN" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
  -s benches/load/predict.lua "http://127.0.0.1:$PORT"
