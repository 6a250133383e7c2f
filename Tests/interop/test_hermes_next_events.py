"""Newer Hermes' event kinds and run outcomes (issue #23), written into the board as Hermes 0.21/main
writes them (rows inserted directly: only 0.19 installs here): the coordinator imports them into its
stream, `kanban-events` and the web console's API show them without error, and none is presented as
needing action (no stuck flag, the lane's task stays claimable)."""
import json
import re
import sqlite3
import subprocess
import time

from conftest import REPO, Bridge, _start, _stop, clean_env, free_port, ok, wait_for
from test_hermes_next_boards import make_board
from test_http_face import curl
from test_kanban_events import events_cmd, printed

# (kind, payload) as newer Hermes' dispatcher writes them (kanban_db_dispatch.py / kanban_db.py, main).
NEWER_EVENTS = [
    ("skipped_nonspawnable", {"assignee": "factory"}),
    ("respawn_guarded", {"reason": "recent_success"}),
    ("worker_registered", {"pid": 4242, "started_at": "unverified"}),
    ("claim_extended", {"reason": "pid_alive", "worker_pid": 4242, "claim_lock": "vm:1", "claim_expires_was": 1, "claim_expires_now": 2}),
    ("rate_limited", {"pid": 4242, "claimer": "vm:1", "exit_code": 75, "retry_status": "ready"}),
    ("terminal_worker_reaped", {"pid": 4242, "worker_started_at": "unverified", "terminated": True}),
    ("reconciled", {"reason": "orphaned_running", "claim_lock": None, "claim_expires": None, "worker_pid": None, "now": 1}),
    ("gave_up", {"failures": 2, "effective_limit": 2, "trigger_outcome": "reclaimed", "sticky": True}),
]
# Run outcomes newer Hermes closes runs with, beside 0.19's.
NEWER_OUTCOMES = ["rate_limited", "stale", "reclaimed", "gave_up", "spawn_failed", "scheduled"]


def test_newer_hermes_events_are_imported_and_shown_without_alarm(tmp_path):
    db = make_board(tmp_path, "main")
    port = free_port()
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path, extra=("--http", f"127.0.0.1:{port}"))
    bridge = Bridge(cmd_ep, evt_ep, db, (tmp_path / "admin.token").read_text().strip(), log, pid=proc.pid)
    bearer = [f"Authorization: Bearer {bridge.admin_token}"]
    out = open(tmp_path / "tail.jsonl", "w")
    tail = None
    try:
        token = bridge.register_lane("factory")
        other = bridge.admin("task.create", title="history", assignee="factory")["task"]["id"]
        card = bridge.admin("task.create", title="waiting", assignee="factory")["task"]["id"]
        start = bridge.admin("ping")["last_seq"]
        tail = subprocess.Popen(events_cmd(bridge, "--follow", "--json", "--since", str(start)), stdout=out,
                                stderr=subprocess.PIPE, env=clean_env(), text=True)
        conn = sqlite3.connect(db, timeout=10)
        now = int(time.time())
        with conn:
            for i, outcome in enumerate(NEWER_OUTCOMES):
                conn.execute("INSERT INTO task_runs (task_id, profile, status, started_at, ended_at, outcome, error, worker_started_at) "
                             "VALUES (?, 'someone', ?, ?, ?, ?, ?, ?)", (other, outcome, now - 10, now - 9 + i, outcome, f"by {outcome}", "unverified"))
            for kind, payload in NEWER_EVENTS:
                conn.execute("INSERT INTO task_events (task_id, run_id, kind, payload, created_at) VALUES (?, NULL, ?, ?, ?)",
                             (card if kind == "skipped_nonspawnable" else other, kind, json.dumps(payload), now))
        conn.close()

        kinds = [k for k, _ in NEWER_EVENTS]

        def imported():
            events = [e for e in bridge.admin("events", since=start, limit=1000)["events"] if e["type"] in kinds]
            return events if len(events) == len(kinds) else None

        events = wait_for(imported, "the coordinator imports every newer event")
        assert [e["type"] for e in events] == kinds
        assert all(e["data"]["source"] == "hermes" and e["lane"] == "factory" for e in events), events
        skipped = events[0]
        assert skipped["task_id"] == card and skipped["data"]["assignee"] == "factory"

        lines = wait_for(lambda: (lambda got: got if len([l for l in got if l["type"] in kinds]) == len(kinds) else None)(
            printed(tmp_path / "tail.jsonl")), "kanban-events prints them")
        assert [l["type"] for l in lines if l["type"] in kinds] == kinds
        assert tail.poll() is None, "kanban-events keeps running"

        status, _, body = curl(port, f"/api/events?since={start}&limit=1000", headers=bearer)
        assert status == 200 and kinds == [e["type"] for e in json.loads(body)["events"] if e["type"] in kinds], body
        status, _, body = curl(port, f"/api/tasks/{other}", headers=bearer)
        assert status == 200, body
        shown = json.loads(body)["task"]
        assert [r["outcome"] for r in shown["runs"]] == NEWER_OUTCOMES, shown["runs"]
        # Nobody is told to act: no stuck flag on the lane, and the card skipped by Hermes stays the lane's.
        status, _, body = curl(port, "/api/lanes", headers=bearer)
        lanes = {l["name"]: l for l in json.loads(body)["lanes"]}
        assert status == 200 and lanes["factory"].get("stuck", []) == [], lanes["factory"]
        claimed = ok(bridge.call("claim", auth=token, lane="factory", task_id=card))
        assert claimed["task"]["id"] == card
    finally:
        if tail:
            tail.terminate()
            _, err = tail.communicate(timeout=10)
            assert "rror" not in err, err
        _stop(proc)


def test_the_console_listens_for_every_newer_kind():
    """The console's EventSource hears only the kinds it names (stream.js): a newer Hermes kind left out
    would vanish from the Events page without a word."""
    source = (REPO / "Sources/KanbanWeb/Resources/console/stream.js").read_text()
    listed = set(re.findall(r'"([a-z_]+)"', source.split("const RECENT_MAX")[0]))
    missing = [k for k, _ in NEWER_EVENTS if k not in listed]
    assert not missing, missing
