#!/usr/bin/env bash
# Start a simulated curriculum run writing live into DIR, and a dashboard on it.
# Ctrl-C stops both.
set -euo pipefail
dir="${1:-demo-run}"; port="${2:-8501}"
bin="$(dirname "$0")/../.venv/bin"
"$bin/thalia-demo" "$dir" &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true' EXIT INT TERM
"$bin/thalia-dashboard" "$dir" --port "$port"
