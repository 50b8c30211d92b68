#!/usr/bin/env bash
# Counts the instructions the timely worker threads execute in one graph
# run of cost-bench (callgrind: exact, and free of the host's noise, unlike
# throughput on a shared virtual machine): the figures docs/scaling.md and
# the README quote for instructions per request and for what a second
# worker adds. Needs valgrind and a release cost-bench; a run takes minutes
# (valgrind is about 50× slower), so use a small input. Divide by the
# input's records.
#
#   scripts/count-instructions.sh WORKERS [COST-BENCH ARGS]
#   e.g. scripts/count-instructions.sh 1 /tmp/csic-3000.txt.gz
#        scripts/count-instructions.sh 2 /tmp/csic-3000.txt.gz
#   (the first 3,000 CSIC requests: zcat normalTrafficTraining.txt.gz |
#    head -n 41000 | gzip > /tmp/csic-3000.txt.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
workers="${1:?usage: scripts/count-instructions.sh WORKERS [COST-BENCH ARGS]}"
shift
cargo build --release -q -p sentinel-benches --bin cost-bench
bin="$(pwd)/target/release/cost-bench"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" \
  "$bin" "$@" --graph-only "$workers" --runs 1 >"$out/bench.log" 2>"$out/valgrind.log"
total=0
for f in "$out"/cg.*-*; do
  # A worker thread is one that steps a timely worker (the loop, main and
  # helper threads do not).
  if grep -q 'timely::worker::Worker.*step_or_park' "$f"; then
    n="$(awk '/^summary:/ {print $2}' "$f")"
    echo "worker thread ${f##*-}: $n instructions"
    total=$((total + n))
  fi
done
echo "all $workers worker thread(s): $total instructions"
