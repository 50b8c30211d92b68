#!/usr/bin/env bash
# Counts the allocations the analyzing worker (timely:work-0) makes in one
# 1-worker run of cost-bench: the figure docs/scaling.md and the README's
# "Allocations per request" quote. Needs bpftrace (root) and a release
# cost-bench. Divide by the input's records.
#
#   scripts/count-allocs.sh [COST-BENCH ARGS]
#   e.g. scripts/count-allocs.sh --synthetic 3000:500
#        scripts/count-allocs.sh /tmp/csic-3000.txt.gz
#   (the first 3,000 CSIC requests: zcat normalTrafficTraining.txt.gz |
#    head -n 41000 | gzip > /tmp/csic-3000.txt.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v bpftrace >/dev/null || { echo "bpftrace is not installed (apt-get install bpftrace)" >&2; exit 2; }
cargo build --release -q -p sentinel-benches --bin cost-bench
bin="$(pwd)/target/release/cost-bench"
bpftrace -e "uprobe:$bin:mi_malloc_aligned /comm == \"timely:work-0\"/ { @allocations = count(); }" \
  -c "$bin $* --graph-only 1 --runs 1" | grep '@allocations'
