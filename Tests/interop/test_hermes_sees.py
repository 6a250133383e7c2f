"""What Hermes' own code (hermes-agent 0.19.0) sees of bridge claims, on the real board file:
liveness under its stale-run detector, readiness dates, run reasons, workspace and profile."""
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, Bridge, _start, _stop, clean_env, ok, wait_for

HERMES = Path(sys.executable).parent / "hermes"
PRELUDE = "import json, sys, time\nfrom hermes_cli import kanban_db as kb\nfrom hermes_cli import kanban_diagnostics as kd\n"


def hermes_env(tmp_path, db):
    home = tmp_path / "hermes-home"
    home.mkdir(exist_ok=True)
    env = clean_env(HERMES_HOME=str(home), HERMES_KANBAN_DB=str(db))
    for key in ("HERMES_KANBAN_HOME", "HERMES_PROFILE"):
        env.pop(key, None)
    return env


def hermes_py(tmp_path, db, code):
    """Runs Hermes' own Python functions on `db` in a fresh process; the snippet prints one JSON line."""
    proc = subprocess.run([sys.executable, "-c", PRELUDE + code], env=hermes_env(tmp_path, db),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"hermes code failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def hermes_cli(tmp_path, db, *args, json_out=False):
    argv = [str(HERMES), "kanban", *args] + (["--json"] if json_out else [])
    proc = subprocess.run(argv, env=hermes_env(tmp_path, db), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{' '.join(argv[1:])} exited {proc.returncode}\n{proc.stderr}"
    return json.loads(proc.stdout) if json_out else proc.stdout


STALE_CHECK = """
with kb.connect_closing() as conn:
    res = kb.dispatch_once(conn, stale_timeout_seconds=14400)
    t = kb.get_task(conn, sys.argv[1] if len(sys.argv) > 1 else TASK)
    print(json.dumps({"stale": res.stale, "status": t.status, "lock": t.claim_lock}))
"""


def db_rows(db, sql, *args):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_long_lease_outlives_hermes_stale_check(tmp_path):
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path)
    token_file = tmp_path / "admin.token"
    bridge = Bridge(cmd_ep, evt_ep, db, token_file.read_text().strip(), log)
    try:
        token = bridge.register_lane("factory", lease_seconds=86400)
        task_id = bridge.admin("task.create", title="a day's work", assignee="factory")["task"]["id"]
        grant = ok(bridge.call("claim", auth=token, lane="factory"))["claim"]
    finally:
        _stop(proc)
    lock = f"lane:factory:{grant['run_id']}"
    # The claim is five hours old and last heartbeated two hours ago (its lease runs for a day).
    now = int(time.time())
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE tasks SET started_at = ?, last_heartbeat_at = ? WHERE id = ?", (now - 18000, now - 7200, task_id))
        conn.execute("UPDATE task_runs SET started_at = ?, last_heartbeat_at = ? WHERE id = ?",
                     (now - 18000, now - 7200, grant["run_id"]))
    # Control: as it stands, Hermes' gateway check takes the claim (run on a copy of the board).
    copy = tmp_path / "copy.db"
    dst = sqlite3.connect(copy)
    conn.backup(dst)
    dst.close()
    conn.close()
    control = hermes_py(tmp_path, copy, f"TASK = {task_id!r}\n" + STALE_CHECK)
    assert control["stale"] == [task_id] and control["status"] == "ready", control

    # With the coordinator running, it refreshes the liveness fields (no lane heartbeat needed).
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path)
    bridge = Bridge(cmd_ep, evt_ep, db, token_file.read_text().strip(), log)
    try:
        def refreshed():
            beat = db_rows(db, "SELECT t.last_heartbeat_at, r.last_heartbeat_at FROM tasks t JOIN task_runs r "
                               "ON r.id = t.current_run_id WHERE t.id = ?", task_id)[0]
            return beat if beat[0] > now - 7200 and beat[1] > now - 7200 else None

        beat = wait_for(refreshed, "the coordinator refreshed the liveness fields")
        assert beat[0] >= now and beat[1] >= now, f"liveness not refreshed: {beat}"
        assert db_rows(db, "SELECT COUNT(*) FROM task_events WHERE task_id = ? AND kind = 'heartbeat'", task_id)[0][0] == 0
        expires = db_rows(db, "SELECT claim_expires FROM tasks WHERE id = ?", task_id)[0][0]
        assert expires == -(-grant["lease_expires_at_ms"] // 1000), "claim_expires stays the lease's end"

        checked = hermes_py(tmp_path, db, f"TASK = {task_id!r}\n" + STALE_CHECK)
        assert checked == {"stale": [], "status": "running", "lock": lock}, checked
        ok(bridge.call("heartbeat", auth=token, task_id=task_id, claim_token=grant["token"]))
    finally:
        _stop(proc)


STRANDED = """
with kb.connect_closing() as conn:
    out = {}
    for tid in sys.argv[1:] or TASKS:
        t = kb.get_task(conn, tid)
        diags = kd.compute_task_diagnostics(t, kb.list_events(conn, tid), kb.list_runs(conn, tid), now=NOW)
        out[tid] = [d.data.get("ready_since") for d in diags if d.kind == "stranded_in_ready"]
    print(json.dumps(out))
"""


def test_stranded_rule_dates_a_release(bridge, tmp_path):
    token = bridge.register_lane("factory")
    released = bridge.admin("task.create", title="released", assignee="factory")["task"]["id"]
    idle = bridge.admin("task.create", title="never claimed", assignee="factory")["task"]["id"]
    # Both tasks were created two hours ago.
    conn = sqlite3.connect(bridge.db_path)
    with conn:
        for t in (released, idle):
            conn.execute("UPDATE tasks SET created_at = created_at - 7200 WHERE id = ?", (t,))
            conn.execute("UPDATE task_events SET created_at = created_at - 7200 WHERE task_id = ?", (t,))
    conn.close()
    grant = ok(bridge.call("claim", auth=token, lane="factory", task_id=released))["claim"]
    before = int(time.time())
    ok(bridge.call("release", auth=token, task_id=released, claim_token=grant["token"], reason="not mine"))

    now_code = f"TASKS = {[released, idle]!r}\nNOW = int(time.time())\n"
    got = hermes_py(tmp_path, bridge.db_path, now_code + STRANDED)
    assert got[released] == [], "just released: not stranded"
    assert len(got[idle]) == 1, "the control task is stranded"
    # Hermes' clock 31 minutes on: stranded since the release, not since creation.
    later = hermes_py(tmp_path, bridge.db_path, f"TASKS = {[released]!r}\nNOW = int(time.time()) + 1860\n" + STRANDED)
    assert len(later[released]) == 1 and later[released][0] >= before, later
    # Our own row is not published as if Hermes had written it.
    types = [e["type"] for e in bridge.admin("events", since=0)["events"] if e["task_id"] == released]
    assert types == ["created", "available", "claimed", "released", "available"], types


def test_reasons_are_errors_summary_only_on_done(bridge, tmp_path):
    token = bridge.register_lane("factory")
    task_id = bridge.admin("task.create", title="three runs", assignee="factory")["task"]["id"]
    grant = ok(bridge.call("claim", auth=token, lane="factory"))["claim"]
    ok(bridge.call("release", auth=token, task_id=task_id, claim_token=grant["token"], reason="machine going down"))
    grant = ok(bridge.call("claim", auth=token, lane="factory"))["claim"]
    ok(bridge.call("block", auth=token, task_id=task_id, claim_token=grant["token"], reason="needs the API key"))

    shown = hermes_cli(tmp_path, bridge.db_path, "show", task_id, json_out=True)
    assert shown["latest_summary"] is None, "no run produced a result yet"
    assert [(r["outcome"], r["summary"], r["error"]) for r in shown["runs"]] == [
        ("released", None, "released: machine going down"), ("blocked", None, "needs the API key")]
    text = hermes_cli(tmp_path, bridge.db_path, "runs", task_id)
    assert "✖ released: machine going down" in text and "✖ needs the API key" in text and "→" not in text

    hermes_cli(tmp_path, bridge.db_path, "unblock", task_id)
    grant = ok(bridge.call("claim", auth=token, lane="factory"))["claim"]
    ok(bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"], result="done", summary="Shipped"))
    runs = hermes_cli(tmp_path, bridge.db_path, "runs", task_id, json_out=True)
    assert [(r["outcome"], r["summary"]) for r in runs] == [("released", None), ("blocked", None), ("completed", "Shipped")]
    assert hermes_cli(tmp_path, bridge.db_path, "show", task_id, json_out=True)["latest_summary"] == "Shipped"


def test_persistent_claim_workspace_and_profile(bridge, tmp_path):
    token = bridge.register_lane("factory")
    task_id = bridge.admin("task.create", title="by a persistent lane", assignee="factory")["task"]["id"]
    ok(bridge.call("claim", auth=token, lane="factory"))
    shown = hermes_cli(tmp_path, bridge.db_path, "show", task_id, json_out=True)
    # The bridge invents no workspace: Hermes' own default stays, with no path.
    assert (shown["task"]["workspace_kind"], shown["task"]["workspace_path"]) == ("scratch", None)
    assert [r["profile"] for r in shown["runs"]] == ["factory"]
    assert "@factory" in hermes_cli(tmp_path, bridge.db_path, "show", task_id)


def test_profile_pool_records_profile_and_workspace(bridge, tmp_path):
    bridge.register_lane("coders", kind="pool", max_concurrency=1, profile="coder", workspace_policy="scratch",
                         command=["/bin/sh", "-c", "sleep 30"])
    task_id = bridge.admin("task.create", title="spawned", assignee="coders")["task"]["id"]
    def with_workspace():
        shown = hermes_cli(tmp_path, bridge.db_path, "show", task_id, json_out=True)
        return shown if shown["task"]["workspace_path"] else None

    shown = wait_for(with_workspace, "Hermes shows the spawned run's workspace")
    assert shown["task"]["status"] == "running"
    assert [r["profile"] for r in shown["runs"]] == ["coder"], "the Hermes profile the pool runs, not the lane"
    assert shown["task"]["workspace_kind"] == "scratch"
    assert shown["task"]["workspace_path"].endswith(f"/coders/{task_id}") and Path(shown["task"]["workspace_path"]).is_dir()


def test_hermes_writes_pass_its_torn_extend_check(tmp_path):
    """Hermes checks, after every commit, that the file is as long as its header says. A checkpoint
    by another connection could leave the header ahead of the file for a moment; the coordinator grows
    the file in chunks before its checkpoints copy pages, so its load never fails a Hermes write.
    (Two Hermes writers can still trip each other: measured in docs/HERMES.md.)"""
    soak = Path(__file__).resolve().parents[2] / "Benchmarks" / "python" / "torn_extend.py"
    out = subprocess.run([sys.executable, str(soak), "--bridge", BIN, "--hermes-writers", "1", "--seconds", "15"],
                         env=clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip().splitlines()[-1]
    assert " 0 torn-extend errors" in line and " 0 other errors" in line, line
    assert "lanes completed 0 tasks" not in line, line
