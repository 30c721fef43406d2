#!/usr/bin/env bash
# Fuzzes tandem's input boundaries with cargo fuzz (libFuzzer), each target for a bounded time:
#   webhook_form   the webhook form parser and the Twilio signature check
#   ws_message     the page's websocket messages
#   script_loader  the flow-file loader
#   twiml_render   the TwiML renderer (every document must be well-formed XML holding exactly
#                  the verbs asked for)
# Usage: ./scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Every input that once crashed a target is kept in fuzz/regressions/<target>/ and replayed
# first; a new crash is written to fuzz/artifacts/<target>/ and the script fails. Keep it in
# fuzz/regressions/ and as a unit test next to the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(webhook_form ws_message script_loader twiml_render)

# cargo fuzz needs a nightly compiler for its sanitizer flags.
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cd fuzz
for target in "${targets[@]}"; do
  echo "== $target: regressions, then ${seconds}s of fuzzing"
  mkdir -p "corpus/$target"
  if compgen -G "regressions/$target/*" >/dev/null; then
    cargo +nightly fuzz run -O "$target" "regressions/$target"/* -- -runs=0
  fi
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
done
