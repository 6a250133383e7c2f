#!/bin/sh
# How board-4efae95.sql was made: a board written by the release at commit 4efae95 (bridge tables
# at hand-rolled `bridge_meta.schema_version` 2, before GRDB's DatabaseMigrator), with one lane, two
# tasks, a live claim and a completed one, then dumped as SQL so the fixture is reviewable text.
#
#   git worktree add /tmp/kb-4efae95 4efae95 && (cd /tmp/kb-4efae95 && swift build --product kanban-bridge)
#   sh Tests/KanbanStoreTests/Fixtures/make-board-4efae95.sh /tmp/kb-4efae95/.build/debug/kanban-bridge
#
# The admin token file beside the board is not part of the dump (the fixture holds no secret that matters).
set -eu
KB=${1:?path to the kanban-bridge binary built at 4efae95}
OUT=$(cd "$(dirname "$0")" && pwd)/board-4efae95.sql
DIR=$(mktemp -d)
CMD=ipc://$DIR/cmd
EVT=ipc://$DIR/evt
"$KB" serve --db "$DIR/kanban.db" --command-endpoint "$CMD" --event-endpoint "$EVT" >"$DIR/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; rm -rf "$DIR"' EXIT
i=0; while [ ! -f "$DIR/admin.token" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
export KANBAN_BRIDGE_ADMIN_TOKEN=$(cat "$DIR/admin.token")
LANE_TOKEN=$("$KB" lanes register factory --kind persistent --endpoint "$CMD" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$KB" task create "Build widget" --assignee factory --endpoint "$CMD" >/dev/null
"$KB" task create "Paint widget" --assignee factory --endpoint "$CMD" >/dev/null
export KANBAN_LANE_TOKEN=$LANE_TOKEN
CLAIM=$("$KB" claim --lane factory --format json --endpoint "$CMD")
TASK=$(printf '%s' "$CLAIM" | python3 -c 'import json,sys; print(json.load(sys.stdin)["task"]["id"])')
CT=$(printf '%s' "$CLAIM" | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim"]["token"])')
"$KB" complete --task "$TASK" --claim-token "$CT" --result "painted" --endpoint "$CMD" >/dev/null
"$KB" claim --lane factory --lease-seconds 3600 --endpoint "$CMD" >/dev/null
kill $SERVE; wait $SERVE || true
sqlite3 "$DIR/kanban.db" .dump >"$OUT"
echo "wrote $OUT"
