#!/usr/bin/env bash
# Installs what the tests need (once, cached) and runs every test.
# Usage: ./scripts/test.sh            (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A cold build gains nothing from incremental state, and it would add
# gigabytes to target/ next to some forty test binaries. Set
# CARGO_INCREMENTAL=1 to keep it while iterating.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "toolchain"
cargo --version
if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest (once)"
  cargo install cargo-nextest --locked
fi

step "WebAssembly target (the threat-twin guests are built from source)"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "test services"
# A real Kafka-compatible broker (tansu) for the Kafka tests, cached in ~/.cargo/bin.
if command -v tansu >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tansu" ]; then
  echo "tansu: $("${HOME}/.cargo/bin/tansu" --version 2>/dev/null || tansu --version)"
else
  echo "installing the tansu broker (once; 10-25 minutes on 2 cores)"
  cargo install tansu --locked --features dynostore,libsql
fi
# A real S3-compatible server (moto) for the evidence-store tests.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto_server (once)"
  python3 -m pip install --quiet 'moto[server]'
  hash -r
fi
command -v moto_server
command -v curl
# schemathesis fuzzes the control plane with its own OpenAPI document.
if ! command -v st >/dev/null 2>&1; then
  echo "installing schemathesis (once)"
  python3 -m pip install --quiet schemathesis
  hash -r
fi
st --version
# A real WAF for the gatekeeper tests: nginx with libmodsecurity (Debian packages).
if ! command -v nginx >/dev/null 2>&1 || [ ! -f /usr/lib/nginx/modules/ngx_http_modsecurity_module.so ]; then
  echo "installing nginx + ModSecurity (once, Debian packages)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx libnginx-mod-http-modsecurity modsecurity-crs
fi
nginx -v

step "formatting"
cargo fmt --all -- --check

step "tests (unit, property, integration, end-to-end)"
cargo nextest run --workspace --all-targets --no-fail-fast

step "doc tests"
cargo test --workspace --doc -q

step "all tests passed"
du -sh target 2>/dev/null || true
