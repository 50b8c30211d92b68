#!/usr/bin/env bash
# Installs what the tests need (once, cached) and runs every test.
# Usage: ./scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest (once)"
  cargo install cargo-nextest --locked
fi

step "formatting"
cargo fmt --all -- --check

step "tests (unit, property, integration, end-to-end)"
cargo nextest run --workspace --all-targets --no-fail-fast

step "doc tests"
cargo test --workspace --doc -q

step "all tests passed"
