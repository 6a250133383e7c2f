#!/bin/sh
# Attach the coordinator to a Hermes board, end to end and offline:
#   1. Hermes makes the board (`hermes kanban init`) in a throwaway HERMES_HOME;
#   2. `kanban-bridge serve` attaches to that very file;
#   3. a Hermes-side orchestrator creates a task graph for an external lane with `hermes kanban create`;
#   4. a lane worker (examples/shell-worker) claims and completes the tasks through the bridge;
#   5. Hermes' own CLI (`hermes kanban show`, `hermes kanban runs`) sees every task done.
# Exits 0 when Hermes reports all four tasks done, 1 otherwise.
#
# Settings (environment): HERMES (default: hermes on PATH, else this repository's .venv/bin/hermes),
# KANBAN_BRIDGE (default: kanban-bridge on PATH, else the one built in this repository),
# HERMES_HOME (default: a new temporary directory, removed at the end),
# BRIDGE_COMMAND_ENDPOINT / BRIDGE_EVENT_ENDPOINT (default tcp://127.0.0.1:5575 and :5576).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# Each tool: the variable, else on PATH, else what the quick start made in this repository.
first_of() {  # NAME CANDIDATE...: the first candidate that runs, else NAME as it is
    name=$1; shift
    if command -v "$name" >/dev/null 2>&1; then echo "$name"; return; fi
    for c in "$@"; do if [ -x "$c" ]; then echo "$c"; return; fi; done
    echo "$name"
}
HERMES=${HERMES:-$(first_of hermes "$REPO/.venv/bin/hermes")}
KB=${KANBAN_BRIDGE:-$(first_of kanban-bridge "$REPO/.build/release/kanban-bridge" "$REPO/.build/debug/kanban-bridge")}
COMMAND_EP=${BRIDGE_COMMAND_ENDPOINT:-tcp://127.0.0.1:5575}
EVENT_EP=${BRIDGE_EVENT_ENDPOINT:-tcp://127.0.0.1:5576}
LANE=builder
if [ -z "${HERMES_HOME:-}" ]; then
    HERMES_HOME=$(mktemp -d "${TMPDIR:-/tmp}/hermes-home.XXXXXX")
    CLEAN_HOME=1
fi
export HERMES_HOME
unset HERMES_KANBAN_DB HERMES_KANBAN_HOME HERMES_PROFILE KANBAN_BRIDGE_ADMIN_TOKEN
BOARD=$HERMES_HOME/kanban.db    # Hermes' default board: <root>/kanban.db
step() { printf '\n== %s\n' "$*"; }

SERVE_PID=""
cleanup() {
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null || true; fi
    if [ -n "${CLEAN_HOME:-}" ]; then rm -rf "$HERMES_HOME"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. Hermes creates the board"
"$HERMES" kanban init >/dev/null
echo "board: $BOARD"

step "2. the coordinator attaches to it"
"$KB" serve --db "$BOARD" --command-endpoint "$COMMAND_EP" --event-endpoint "$EVENT_EP" \
    2>"$HERMES_HOME/bridge.log" &
SERVE_PID=$!
export KANBAN_BRIDGE_ENDPOINT=$COMMAND_EP
tries=0
until "$KB" ping --timeout 500 >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 40 ]; then echo "the coordinator did not come up:" >&2; cat "$HERMES_HOME/bridge.log" >&2; exit 1; fi
    sleep 0.25
done
"$KB" ping
# The admin token was written beside the board; --db is how the CLI finds it.
KANBAN_LANE_TOKEN=$("$KB" lanes register "$LANE" --kind persistent --db "$BOARD" | sed -n 's/^token: //p')
export KANBAN_LANE=$LANE KANBAN_LANE_TOKEN
echo "lane $LANE registered"

step "3. a Hermes-side orchestrator plans the work for lane $LANE"
create() { "$HERMES" kanban create "$@" --assignee "$LANE" --created-by orchestrator --json | sed -n 's/^  "id": "\(.*\)",$/\1/p'; }
design=$(create "Design the widget" --body "Sketch the parts")
left=$(create "Build the left half" --parent "$design")
right=$(create "Build the right half" --parent "$design")
assemble=$(create "Assemble the widget" --parent "$left" --parent "$right")
"$HERMES" kanban list

step "4. the lane worker does the work through the bridge"
KANBAN_BRIDGE=$KB sh "$HERE/../shell-worker/lane-worker.sh" --tasks 4 --wait-ms 5000 -- \
    sh -c 'echo "done: $KANBAN_TASK_TITLE"'

step "5. Hermes sees the results"
"$HERMES" kanban show "$assemble"
for t in "$design" "$left" "$right" "$assemble"; do
    "$HERMES" kanban runs "$t"
done
"$HERMES" kanban list
missing=0
for t in "$design" "$left" "$right" "$assemble"; do
    "$HERMES" kanban show "$t" --json | grep -q '"status": "done"' || { echo "task $t is not done" >&2; missing=1; }
done
[ "$missing" -eq 0 ] && echo "all four tasks done, as Hermes sees them"
exit "$missing"
