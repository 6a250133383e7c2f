#!/bin/sh
# A persistent-lane worker in POSIX shell: claim, run a command on the task, complete or block.
#
#   lane-worker.sh [--tasks N] [--idle-exit] [--wait-ms MS] -- COMMAND [ARG...]
#
# For each claimed task COMMAND runs with the task in its environment (KANBAN_TASK, KANBAN_TASK_TITLE,
# KANBAN_TASK_BODY, KANBAN_RUN_ID, ...) and the body on stdin. Its stdout becomes the task's result;
# a non-zero exit blocks the task with the end of its output as the reason. A background loop
# heartbeats every third of the lease while it runs.
#
# Needs: KANBAN_LANE, KANBAN_LANE_TOKEN, and kanban-bridge ($KANBAN_BRIDGE, on PATH, or built here).
# KANBAN_BRIDGE_ENDPOINT picks the coordinator (default tcp://127.0.0.1:5555).
# No jq: `kanban-bridge claim --format shell` prints single-quoted assignments that eval safely.
set -u

# The CLI: $KANBAN_BRIDGE, else kanban-bridge on PATH, else the one built in this repository.
if [ -n "${KANBAN_BRIDGE:-}" ]; then
    KB=$KANBAN_BRIDGE
elif command -v kanban-bridge >/dev/null 2>&1; then
    KB=kanban-bridge
else
    KB=
    repo=$(cd "$(dirname "$0")/../.." && pwd)
    for built in "$repo/.build/release/kanban-bridge" "$repo/.build/debug/kanban-bridge"; do
        if [ -x "$built" ]; then KB=$built; break; fi
    done
    : "${KB:?kanban-bridge is not on PATH and not built in this repository: set KANBAN_BRIDGE to the CLI}"
fi
LANE=${KANBAN_LANE:?set KANBAN_LANE to the lane name}
: "${KANBAN_LANE_TOKEN:?set KANBAN_LANE_TOKEN to the lane token}"
WAIT_MS=30000
MAX_TASKS=0          # 0: run until stopped
IDLE_EXIT=""
RETRIES=10           # each CLI call resends this often (same request_id) while the coordinator restarts

while [ $# -gt 0 ]; do
    case $1 in
        --tasks) MAX_TASKS=$2; shift 2 ;;
        --idle-exit) IDLE_EXIT=1; shift ;;
        --wait-ms) WAIT_MS=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "lane-worker: give the command to run after --" >&2; exit 2; }

say() { printf 'lane-worker[%s]: %s\n' "$LANE" "$*" >&2; }

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/lane-worker.XXXXXX") || exit 1
BEAT_PID=""
stop_heartbeats() {
    if [ -n "$BEAT_PID" ]; then kill "$BEAT_PID" 2>/dev/null; wait "$BEAT_PID" 2>/dev/null; BEAT_PID=""; fi
}
# Ctrl-C or SIGTERM: give the task back (ready again at once, no failure counted), then leave.
on_stop() {
    stop_heartbeats
    if [ -n "${KANBAN_TASK:-}" ]; then
        "$KB" release --reason "worker stopped" --retries 2 >/dev/null 2>&1 && say "released $KANBAN_TASK"
    fi
    rm -rf "$WORKDIR"
    exit 130
}
trap on_stop INT TERM

done_count=0
while [ "$MAX_TASKS" -eq 0 ] || [ "$done_count" -lt "$MAX_TASKS" ]; do
    unset KANBAN_TASK KANBAN_CLAIM_TOKEN
    claim=$("$KB" claim --lane "$LANE" --wait "$WAIT_MS" --format shell --retries "$RETRIES")
    rc=$?
    case $rc in
        0) eval "$claim" ;;
        3) if [ -n "$IDLE_EXIT" ]; then say "no work within ${WAIT_MS} ms; exiting"; break; fi
           continue ;;
        8) say "coordinator unreachable; retrying in 1 s"; sleep 1; continue ;;
        *) say "claim failed (exit $rc)"; exit "$rc" ;;
    esac
    say "claimed $KANBAN_TASK run $KANBAN_RUN_ID: $KANBAN_TASK_TITLE"

    # Heartbeat every third of the lease until the command ends. A lost claim (exit 7) stops the beats.
    beat_every=$(( KANBAN_LEASE_SECONDS / 3 )); [ "$beat_every" -ge 1 ] || beat_every=1
    # `sleep & wait` rather than a plain sleep: a trapped TERM interrupts `wait` at once, so stopping
    # the beats never waits out a sleep, and no stray sleep keeps our output open.
    (
        nap=""
        trap 'kill $nap 2>/dev/null; exit 0' TERM
        trap '' INT
        while :; do
            sleep "$beat_every" & nap=$!
            wait "$nap"
            "$KB" heartbeat --note "running" --retries 2 >/dev/null 2>&1
            [ $? -eq 7 ] && { echo "claim lost" >"$WORKDIR/lost"; exit 0; }
        done
    ) </dev/null >/dev/null 2>&1 &
    BEAT_PID=$!

    rm -f "$WORKDIR/lost"
    printf '%s' "$KANBAN_TASK_BODY" | "$@" >"$WORKDIR/out" 2>"$WORKDIR/err"
    status=$?
    stop_heartbeats

    if [ -e "$WORKDIR/lost" ]; then
        say "lost the claim on $KANBAN_TASK (reclaimed or expired); moving on"
    elif [ "$status" -eq 0 ]; then
        "$KB" complete --result-file "$WORKDIR/out" --summary "$(head -n 1 "$WORKDIR/out")" --retries "$RETRIES" >/dev/null
        rc=$?
        case $rc in
            0) say "completed $KANBAN_TASK" ;;
            7) say "claim on $KANBAN_TASK ended before it could be completed" ;;
            *) say "complete failed (exit $rc)"; exit "$rc" ;;
        esac
    else
        reason="exit $status: $(tail -c 2000 "$WORKDIR/err")"
        "$KB" block --reason "$reason" --kind command_failed --retries "$RETRIES" >/dev/null && say "blocked $KANBAN_TASK ($reason)"
    fi
    done_count=$((done_count + 1))
done
rm -rf "$WORKDIR"
