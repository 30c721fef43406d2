#!/usr/bin/env bash
# Runs every benchmark scenario at the size docs/performance.md reports and writes each report
# (JSON) and its charts (SVG) into docs/performance/. Needs redis-server (scripts/test.sh
# installs it). Takes about four minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/performance
mkdir -p "$out"
cargo build --release --locked --quiet
bench=target/release/tandem
run() {
  local name=$1
  shift
  echo "== tandem bench $*"
  "$bench" bench "$@" --json "$out/$name.json" --plot "$out" | tee "$out/$name.txt"
}
run live live --sessions 10000 --concurrency 200
run webhooks webhooks --rate 2000 --duration 10 --concurrency 200
run idle idle --sessions 15000 --concurrency 200
run steady steady --rate 100 --duration 10
run ramp ramp --rate 50 --duration 8
run burst burst --sessions 2000 --concurrency 200
