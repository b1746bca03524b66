#!/usr/bin/env bash
# Start a simulated curriculum run writing live into DIR, and a dashboard on it.
# Ctrl-C (or SIGTERM to this script) stops both.
#
# Both run in the background and the script waits for them, so its traps fire at once (bash
# defers a trap until a foreground child exits). A previous demo run in DIR is replaced.
set -euo pipefail
dir="${1:-demo-run}"; port="${2:-8501}"
bin="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
demo_pid=""; dash_pid=""
cleanup() {
  trap - EXIT INT TERM
  for pid in $dash_pid $demo_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$bin/thalia-demo" "$dir" --overwrite &
demo_pid=$!
"$bin/thalia-dashboard" "$dir" --port "$port" &
dash_pid=$!
wait "$dash_pid"
