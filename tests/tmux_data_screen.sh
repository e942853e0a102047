#!/usr/bin/env bash
# Opens the app in a detached 120x40 tmux session on the shared Kermany data and
# waits until the Data screen shows the official test counts (234 NORMAL, 390 PNEUMONIA).
#   tests/tmux_data_screen.sh [DATA_DIR]      exit 0 = found, 1 = not found in time, 77 = skipped
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$repo/../shared/data/chest_xray}"
command -v tmux >/dev/null || { echo "skip: tmux not installed"; exit 77; }
[ -d "$data" ] || { echo "skip: no data at $data"; exit 77; }
pneumo="$repo/.venv/bin/pneumo"
[ -x "$pneumo" ] || pneumo="pneumo"

work="$(mktemp -d)"
session="pneumo-tui-test-$$"
# Its own tmux server socket, so the test never touches the user's sessions.
tmux_() { tmux -L "$session" "$@"; }
cleanup() { tmux_ kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tmux_ new -d -s "$session" -x 120 -y 40 \
  "cd '$work' && NO_COLOR=1 PNEUMO_CACHE='$work/cache' TERM=xterm-256color '$pneumo' tui --data '$data' --runs '$repo/tests/fixtures/recorded_runs' --image-protocol halfcell"

for _ in $(seq 1 120); do
  sleep 0.5
  screen="$(tmux_ capture-pane -p -t "$session" 2>/dev/null || true)"
  row="$(grep -E '^\s*test\s' <<<"$screen" | head -n 1 || true)"
  if grep -qw 234 <<<"$row" && grep -qw 390 <<<"$row"; then
    echo "found: $row"
    # the charts must draw in this terminal too (NO_COLOR included): the Runs screen on the recorded runs
    tmux_ send-keys -t "$session" 3
    sleep 1.5
    screen="$(tmux_ capture-pane -p -t "$session")"
    grep -q "stale (writer died)" <<<"$screen" || { echo "the Runs screen did not draw:"; echo "$screen"; exit 1; }
    exit 0
  fi
done
echo "the Data screen never showed 234 and 390; last screen:"
echo "$screen"
exit 1
