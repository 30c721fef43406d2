#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need when missing
# (redis-server; docker-compose to validate the compose file; Chromium, Node.js and the browser
# tests' packages), then format, lint, script check, compose check and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The packages exactly as locked; the browser is Debian's, never a download of the tool's own.
if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# Most tests wait on sockets, timers and child processes rather than compute: four at a time
# on two cores halves the suite's time (set RUST_TEST_THREADS to choose).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo run --locked --quiet -- check
# No engine runs here; `config` still parses and interpolates the whole file.
TANDEM_API_KEY=compose-check docker-compose -f docker-compose.yml config -q
cargo test --workspace --locked
# Every journey again on a three-master Redis Cluster (each test forms its own). Run above
# only: the outage tests (they kill and restart a single redis-server), the demo (its
# embedded store) and the store's own cluster tests (they form their cluster either way).
TANDEM_TEST_REDIS=cluster cargo test --locked -p tandem-dev --test it -- \
  --skip outage --skip demo:: --skip store::on_a_
# The provider matrix: every journey, the edge's guarantees (signatures, valid markup when
# Redis or a script fails, retries and late status events, failover) and the pages in
# Chromium, once more for each other provider the dev phone plays, on one redis-server per
# test; then the journeys on the cluster too. Twilio ran above.
journeys=(journey:: crosschannel:: sms:: screens:: duplicates:: nodes:: history:: agent:: isolation::)
for provider in signalwire telnyx plivo vonage; do
  TANDEM_TEST_PROVIDER=$provider cargo test --locked -p tandem-dev --test it -- \
    "${journeys[@]}" failover:: security:: outage:: browser:: \
    phone::tandem_phone_runs_a_scenario_file_against_a_running_server
  TANDEM_TEST_PROVIDER=$provider TANDEM_TEST_REDIS=cluster cargo test --locked -p tandem-dev --test it -- \
    "${journeys[@]}"
done
# A short benchmark run for correctness only (every journey completes, every decision lands);
# its timings are printed, never judged here.
cargo run --locked --quiet -- bench steady --rate 50 --duration 4 --max-secs 300
cargo run --locked --quiet -- bench burst --sessions 200 --concurrency 50 --max-secs 300
cargo run --locked --quiet -- bench idle --sessions 300 --concurrency 50 --max-secs 300
cargo run --locked --quiet -- bench desk --sessions 100 --desks 10 --concurrency 50 --max-secs 300
