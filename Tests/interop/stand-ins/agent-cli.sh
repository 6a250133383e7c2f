#!/bin/sh
# A stand-in for an agent CLI (Codex, Claude Code, OpenCode, a Hermes profile, a local model
# runner): it takes the task as its prompt, prints what it does, and exits as the real ones do.
# What it does is steered by the prompt, so a test picks a behaviour per task:
#   "...ratelimit..."  exit 75 (rate-limited: try later)        "...crash..."  exit 3
#   "...needs-human..." exit 2 (the test maps it to block)      "...slow..."   waits for $STANDIN_GATE to exist
#   "...chatty..."     prints 100 KiB in many lines             anything else: prints and exits 0
prompt="$*"
echo "agent: working on: $prompt"
echo "agent: task $KANBAN_TASK run $KANBAN_RUN_ID lane $KANBAN_LANE workspace ${KANBAN_WORKSPACE:-none} in $(pwd)"
[ -n "$STANDIN_STARTS" ] && echo "$KANBAN_TASK $(date +%s%N)" >> "$STANDIN_STARTS"
[ -n "$STANDIN_PIDS" ] && echo "$KANBAN_TASK $$" >> "$STANDIN_PIDS"
case "$prompt" in
    *ratelimit*) echo "agent: rate limited, try later" >&2; exit 75 ;;
    *crash*) echo "agent: something broke" >&2; exit 3 ;;
    *needs-human*) echo "agent: I need a decision on the schema"; exit 2 ;;
    *slow*) n=0; while [ ! -e "$STANDIN_GATE" ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done ;;
    *chatty*) i=0; while [ $i -lt 1600 ]; do echo "line $i: 0123456789012345678901234567890123456789012345678901234"; i=$((i+1)); done ;;
esac
echo "agent: done: $prompt"
