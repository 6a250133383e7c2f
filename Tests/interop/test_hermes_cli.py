"""The real Hermes CLI (hermes-agent 0.19.0) on the board the bridge serves, fully offline."""
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from conftest import clean_env, error_code, ok, wait_for

HERMES = Path(sys.executable).parent / "hermes"


@pytest.fixture
def hermes(bridge, tmp_path):
    """Runs `hermes kanban ...` on the bridge's board; returns stdout (parsed when json_out=True)."""
    home = tmp_path / "hermes-home"
    home.mkdir()
    env = clean_env(HERMES_HOME=str(home), HERMES_KANBAN_DB=str(bridge.db_path))
    for key in ("HERMES_KANBAN_HOME", "HERMES_PROFILE"):
        env.pop(key, None)

    def run(*args, json_out=False):
        argv = [str(HERMES), "kanban", *args] + (["--json"] if json_out else [])
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (f"{' '.join(argv[1:])} exited {proc.returncode}\n"
                                      f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return json.loads(proc.stdout) if json_out else proc.stdout

    return run


def wait_for_event(bridge, matches):
    """Polls the `events` op until an event matches; returns it."""
    found = wait_for(lambda: [e for e in bridge.admin("events", since=0)["events"] if matches(e)], "a matching event")
    return found[0]


def claim_hermes_task(bridge, hermes):
    """Hermes creates the task; the lane claims it through the bridge without naming it."""
    token = bridge.register_lane("factory")
    task_id = hermes("create", "Build widget", "--assignee", "factory", json_out=True)["id"]
    got = ok(bridge.call("claim", auth=token, lane="factory"))
    assert got["task"]["id"] == task_id
    return token, task_id, got["claim"]


def test_hermes_shows_a_bridge_claim_as_running_under_the_lane_lock(bridge, hermes):
    _, task_id, grant = claim_hermes_task(bridge, hermes)
    lock = f"lane:factory:{grant['run_id']}"

    text = hermes("show", task_id)
    assert "running" in text and lock in text
    shown = hermes("show", task_id, json_out=True)
    assert shown["task"]["status"] == "running"
    claimed = [e for e in shown["events"] if e["kind"] == "claimed"]
    assert [e["payload"]["lock"] for e in claimed] == [lock]
    assert [(r["id"], r["status"], r["worker_pid"]) for r in shown["runs"]] == [(grant["run_id"], "running", None)]


def test_hermes_dry_run_dispatch_leaves_a_live_claim_alone(bridge, hermes):
    token, task_id, grant = claim_hermes_task(bridge, hermes)
    before = bridge.admin("task.get", task_id=task_id)["task"]

    report = hermes("dispatch", "--dry-run", json_out=True)
    assert report["reclaimed"] == 0 and report["stale"] == [] and report["crashed"] == []

    ok(bridge.call("heartbeat", auth=token, task_id=task_id, claim_token=grant["token"], note="still here"))
    after = bridge.admin("task.get", task_id=task_id)["task"]
    assert after["status"] == "running"
    assert after["claim_lock"] == before["claim_lock"] == f"lane:factory:{grant['run_id']}"
    assert hermes("show", task_id, json_out=True)["task"]["status"] == "running"


def test_completing_through_the_bridge_shows_as_completed_run_in_hermes(bridge, hermes):
    token, task_id, grant = claim_hermes_task(bridge, hermes)
    ok(bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"],
                   result="widget ok", summary="Widget built"))

    runs = hermes("runs", task_id, json_out=True)
    assert [(r["id"], r["status"], r["outcome"]) for r in runs] == [(grant["run_id"], "done", "completed")]
    assert runs[0]["summary"] == "Widget built"
    shown = hermes("show", task_id, json_out=True)
    assert shown["task"]["status"] == "done" and shown["task"]["result"] == "widget ok"
    assert "completed" in hermes("runs", task_id)


def test_hermes_reclaim_makes_the_bridge_claim_stale(bridge, hermes):
    token, task_id, grant = claim_hermes_task(bridge, hermes)
    hermes("reclaim", task_id, "--reason", "operator took it back")

    reply = bridge.call("heartbeat", auth=token, task_id=task_id, claim_token=grant["token"])
    assert error_code(reply) == "stale_claim"
    assert bridge.admin("task.get", task_id=task_id)["task"]["status"] == "ready"
    reclaimed = wait_for_event(bridge, lambda e: e["type"] == "reclaimed" and e["task_id"] == task_id)
    assert reclaimed["lane"] == "factory"


def test_a_task_hermes_creates_wakes_a_waiting_claim(bridge, hermes):
    token = bridge.register_lane("factory")
    waiting = zmq.Context.instance().socket(zmq.REQ)
    waiting.setsockopt(zmq.LINGER, 0)
    waiting.connect(bridge.command_endpoint)
    waiting.send_json({"op": "claim", "auth": token, "lane": "factory", "wait_ms": 30000})
    try:
        task_id = hermes("create", "Build widget", "--assignee", "factory", json_out=True)["id"]
        assert waiting.poll(35000), "the waiting claim was never answered"
        got = ok(waiting.recv_json())
    finally:
        waiting.close()
    assert got["task"]["id"] == task_id and got["task"]["status"] == "running"
    assert hermes("show", task_id, json_out=True)["task"]["status"] == "running"


def test_hermes_list_reads_a_board_with_bridge_tables(bridge, hermes):
    bridge.register_lane("factory")
    created = bridge.admin("task.create", title="Made by the bridge", assignee="factory")["task"]
    with sqlite3.connect(bridge.db_path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert any(name.startswith("bridge_") for name in tables), tables

    assert created["id"] in hermes("list")
    listed = {t["id"]: t for t in hermes("list", json_out=True)}
    assert listed[created["id"]]["status"] == "ready"
    assert listed[created["id"]]["assignee"] == "factory"


def test_a_lane_cannot_take_the_name_of_a_hermes_profile(bridge):
    # The board sits at <hermes root>/kanban.db, so <hermes root>/profiles holds Hermes' profiles.
    (bridge.db_path.parent / "profiles" / "backend-hermes").mkdir(parents=True)
    reply = bridge.call("lane.register", auth=bridge.admin_token, name="backend-hermes")
    assert error_code(reply) == "conflict" and "Hermes profile" in reply["error"]["message"]
    assert ok(bridge.call("lane.register", auth=bridge.admin_token, name="backend-hermes-pool"))["token"]
