#!/usr/bin/env bash
# Retakes the README's screenshots the way a newcomer meets the product: the demo in a
# terminal (tmux, 110 columns), driven key by key, and its texted link opened in Chromium at
# phone size. Needs tmux, Chromium and the browser tests' packages (./scripts/test.sh installs
# the last two). Writes docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 1; }
[ -d tests/browser/node_modules ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --locked --quiet
out=docs/screenshots
session="tandem-shots-$$"
port=$((20000 + RANDOM % 10000))
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT

tmux new-session -d -s "$session" -x 110 -y 40 \
  "NO_COLOR= target/release/tandem demo --port $port --mute --speed 3; sleep 30"
pane() { tmux capture-pane -p -t "$session" -S - ; }
# Waits until the terminal shows $1 (at most 60 s).
until_shown() {
  for _ in $(seq 600); do
    pane | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  echo "the demo never showed: $1" >&2
  pane >&2
  exit 1
}
key() { tmux send-keys -t "$session" "$1" Enter; }

until_shown "press Enter to call the bank"
key ""
until_shown "keypad open: 4 keys"
key 4242
until_shown "keypad open: 1 key"
key 1
until_shown "/s/"
link=$(pane | grep -oE "http://127\.0\.0\.1:$port/s/[A-Za-z0-9_-]+" | head -1)
# The page: charges, approved, ended — light and dark.
node tests/browser/shots.mjs page "$link" "$PWD/$out"
until_shown "press Enter to call again"
tmux capture-pane -e -p -t "$session" -S - > "$out/.terminal.ansi"
node tests/browser/shots.mjs terminal "$out/.terminal.ansi" "$PWD/$out/terminal-phone.png"
rm -f "$out/.terminal.ansi"
key q
echo "demo screenshots retaken in $out/"
# The other journeys, as the real-browser tests leave them (a phone at 390×844, axe-checked).
cargo test --locked --quiet -p tandem-dev --test it -- browser::an_address browser::a_payment browser::a_dispute >/dev/null
for shot in journey-address-errors journey-address-check journey-plan-review journey-payment journey-dispute journey-dispute-filed; do
  cp "tests/artifacts/screenshots/$shot.png" "$out/"
done
echo "journey screenshots copied to $out/"
