#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need when missing
# (redis-server from Debian's packages), then format, lint, script check and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo run --locked --quiet -- check
cargo test --locked
