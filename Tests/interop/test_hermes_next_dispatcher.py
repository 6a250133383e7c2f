"""Newer Hermes' dispatcher beside a serving coordinator (issue #23).

Hermes on its main branch requeues a `running` card whose `claim_lock` or `claim_expires` is NULL
(`reconcile_orphaned_running`), and counts a TTL reclaim as a failure (two block the card, `gave_up`).
Neither may touch a live lane claim: a bridge task keeps both claim fields set, `claim_expires` ahead
of the clock while the lane heartbeats, and `last_heartbeat_at` fresh. Only Hermes 0.19 installs here,
so the newer steps run as small faithful ports of its source; Hermes 0.19's own dispatcher runs for real,
and must keep ticking: the coordinator never holds `<board>.dispatch.lock`."""
import fcntl
import json
import socket
import sqlite3
import time

from conftest import ok, wait_for
from test_hermes_next_boards import make_board, started_bridge, task
from test_hermes_sees import hermes_py
from conftest import _stop

LEASE_S = 2


# --- Ports of newer Hermes (github.com/NousResearch/hermes-agent, main) -------------------------------
# Kept as close to the source as a test can: same SELECTs, same compare-and-set UPDATEs, same bookkeeping.

def _end_run(conn, task_id, outcome, error, metadata, now):
    """kanban_db.py `_end_run`: close the task's current run, clear the pointer."""
    row = conn.execute("SELECT current_run_id FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if not row or not row[0]:
        return None
    conn.execute("UPDATE task_runs SET status = ?, outcome = ?, summary = NULL, error = ?, metadata = ?, ended_at = ?, "
                 "claim_lock = NULL, claim_expires = NULL, worker_pid = NULL WHERE id = ? AND ended_at IS NULL",
                 (outcome, outcome, error, json.dumps(metadata), now, row[0]))
    conn.execute("UPDATE tasks SET current_run_id = NULL WHERE id = ?", (task_id,))
    return row[0]


def _append_event(conn, task_id, kind, payload, run_id, now):
    """kanban_db.py `_append_event`."""
    conn.execute("INSERT INTO task_events (task_id, run_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                 (task_id, run_id, kind, json.dumps(payload) if payload else None, now))


def _pid_alive(pid):
    try:
        with open(f"/proc/{int(pid)}/status") as f:
            return not any(l.startswith("State:") and "Z" in l.split(":", 1)[1] for l in f)
    except OSError:
        return False


def reconcile_orphaned_running(conn):
    """kanban_db_dispatch.py `reconcile_orphaned_running`: a `running` card with a NULL claim_lock or
    claim_expires goes back to `ready` (unless its host-local worker pid is alive), run closed
    `reclaimed`, a dispatcher comment and a `reconciled` event."""
    now = int(time.time())
    reconciled = []
    rows = conn.execute("SELECT id, claim_lock, claim_expires, worker_pid, worker_started_at FROM tasks "
                        "WHERE status = 'running' AND (claim_lock IS NULL OR claim_expires IS NULL)").fetchall()
    for tid, lock, expires, pid, _started in rows:
        if pid and _pid_alive(pid):
            continue
        with conn:
            cur = conn.execute("UPDATE tasks SET status = 'ready', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL, "
                               "worker_started_at = NULL, last_heartbeat_at = NULL WHERE id = ? AND status = 'running' "
                               "AND claim_lock IS ? AND claim_expires IS ?", (tid, lock, expires))
            if cur.rowcount != 1:
                continue
            payload = {"reason": "orphaned_running", "claim_lock": lock, "claim_expires": expires, "worker_pid": pid, "now": now}
            run_id = _end_run(conn, tid, "reclaimed", "orphaned running card (broken claim bookkeeping)", payload, now)
            conn.execute("INSERT INTO task_comments (task_id, author, body, created_at) VALUES (?, 'dispatcher', ?, ?)",
                         (tid, "reconciliation: card was 'running' with no valid claim (dead/gone worker) — requeued to ready", now))
            _append_event(conn, tid, "reconciled", payload, run_id, now)
            reconciled.append(tid)
    return reconciled


def release_stale_claims(conn, failure_limit=2):
    """kanban_db.py `release_stale_claims` as main calls it (`release_stale_claims(conn,
    failure_limit=...)` in kanban_db_dispatch.py `_run_reclaim_phase`): an expired claim goes back to
    `ready` (a host-local live worker's is extended instead; a foreign lock such as `lane:…` never is),
    the run closes `reclaimed`, and the reclaim counts as a failure (`_record_task_failure`, outcome
    `reclaimed`): at the task's max_retries, else `failure_limit`, it is blocked with `gave_up`."""
    now = int(time.time())
    host_prefix = socket.gethostname() + ":"
    reclaimed = []
    rows = conn.execute("SELECT id, claim_lock, worker_pid, claim_expires FROM tasks "
                        "WHERE status = 'running' AND claim_expires IS NOT NULL AND claim_expires < ?", (now,)).fetchall()
    for tid, lock, pid, expires in rows:
        if (lock or "").startswith(host_prefix) and pid and _pid_alive(pid):
            continue  # `_extend_live_stale_claim`: not what this test is about
        with conn:
            cur = conn.execute("UPDATE tasks SET status = 'ready', claim_lock = NULL, claim_expires = NULL, worker_pid = NULL "
                               "WHERE id = ? AND status = 'running' AND claim_lock IS ? AND claim_expires IS NOT NULL "
                               "AND claim_expires < ?", (tid, lock, now))
            if cur.rowcount != 1:
                continue
            payload = {"stale_lock": lock, "claim_expires": expires, "now": now, "host_local": False}
            run_id = _end_run(conn, tid, "reclaimed", f"stale_lock={lock}", payload, now)
            _append_event(conn, tid, "reclaimed", payload, run_id, now)
            failures, max_retries = conn.execute("SELECT consecutive_failures, max_retries FROM tasks WHERE id = ?", (tid,)).fetchone()
            failures += 1
            limit = max_retries if max_retries is not None else failure_limit
            if failures >= limit:
                conn.execute("UPDATE tasks SET status = 'blocked', consecutive_failures = ?, last_failure_error = ? "
                             "WHERE id = ? AND status IN ('running', 'ready', 'review')", (failures, f"stale_lock={lock}", tid))
                _append_event(conn, tid, "gave_up", {"failures": failures, "effective_limit": limit,
                                                     "trigger_outcome": "reclaimed"}, None, now)
            else:
                conn.execute("UPDATE tasks SET consecutive_failures = ?, last_failure_error = ? WHERE id = ?",
                             (failures, f"stale_lock={lock}", tid))
            reclaimed.append(tid)
    return reclaimed


# --- The tests --------------------------------------------------------------------------------------

def lane_claims(conn):
    return conn.execute("SELECT id, claim_lock, claim_expires, last_heartbeat_at FROM tasks "
                        "WHERE status = 'running' AND claim_lock LIKE 'lane:%'").fetchall()


def test_newer_hermes_reclaim_steps_never_touch_a_live_lane_claim(tmp_path):
    db = make_board(tmp_path, "main")
    proc, bridge = started_bridge(tmp_path)
    try:
        token = bridge.register_lane("factory", lease_seconds=LEASE_S)
        bridge.register_lane("coders", kind="pool", max_concurrency=1, lease_seconds=LEASE_S,
                             command=["/bin/sh", "-c", "sleep 60"])
        held = bridge.admin("task.create", title="held", assignee="factory")["task"]["id"]
        pooled = bridge.admin("task.create", title="pooled", assignee="coders")["task"]["id"]
        grant = ok(bridge.call("claim", auth=token, lane="factory", task_id=held))["claim"]
        wait_for(lambda: task(bridge, pooled)["status"] == "running", "the pool spawns its worker")
        # Positive controls: the ports do act on what they are for (rows shaped as Hermes leaves them).
        conn = sqlite3.connect(db, timeout=10)
        conn.isolation_level = None
        now = int(time.time())
        with conn:
            conn.execute("INSERT INTO tasks (id, title, assignee, status, created_at, claim_lock, claim_expires) VALUES "
                         "('t_orphan01', 'orphan', 'someone', 'running', ?, 'vm:1', NULL), "
                         "('t_expired1', 'expired', 'someone', 'running', ?, 'elsewhere:7', ?)", (now, now, now - 5))
        assert reconcile_orphaned_running(conn) == ["t_orphan01"]
        assert release_stale_claims(conn) == ["t_expired1"]

        seen = {"checks": 0, "beats": 0}

        def invariant_holds_through_leases():
            # While the lane heartbeats (the pool's coordinator renews its own worker's lease), newer
            # Hermes' steps find nothing to do on a lane's task, and the claim fields say why.
            reply = bridge.call("heartbeat", auth=token, task_id=held, claim_token=grant["token"])
            assert reply.get("ok"), reply
            assert reconcile_orphaned_running(conn) == []
            assert release_stale_claims(conn) == []
            now = int(time.time())
            rows = lane_claims(conn)
            assert {r[0] for r in rows} == {held, pooled}, rows
            for task_id, lock, expires, beat in rows:
                assert lock is not None and expires is not None, (task_id, lock, expires)
                assert expires >= now, f"{task_id}: claim_expires {expires} passed (now {now}) while the lane holds it"
                assert beat is not None and now - beat <= LEASE_S + 1, f"{task_id}: last_heartbeat_at {beat} stale at {now}"
            seen["checks"] += 1
            seen["beats"] = len([e for e in bridge.admin("events", since=0, limit=10000)["events"]
                                 if e["type"] == "heartbeat" and e["task_id"] == pooled])
            return seen["beats"] >= 3  # the pool's lease renewed three times: past one lease many times over

        wait_for(invariant_holds_through_leases, lambda: f"three lease renewals of the pooled run ({seen})")
        conn.close()
        assert task(bridge, held)["status"] == task(bridge, pooled)["status"] == "running"
        runs = task(bridge, held)["runs"]
        assert [r["status"] for r in runs] == ["running"], runs
    finally:
        _stop(proc)


def dispatch_lock_free(db):
    with open(str(db) + ".dispatch.lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


HERMES_TICK = """
with kb.connect_closing() as conn:
    res = kb.dispatch_once(conn, dry_run=True)
    print(json.dumps({"skipped_locked": res.skipped_locked, "spawned": [s[0] for s in res.spawned],
                      "reclaimed": res.reclaimed}))
"""


def test_coordinator_never_holds_the_dispatch_lock_and_hermes_keeps_ticking(tmp_path):
    db = make_board(tmp_path, "0.21")
    proc, bridge = started_bridge(tmp_path)
    try:
        bridge.register_lane("coders", kind="pool", max_concurrency=2, lease_seconds=LEASE_S,
                             command=["/bin/sh", "-c", "sleep 60"])
        pooled = [bridge.admin("task.create", title=f"pooled {i}", assignee="coders")["task"]["id"] for i in range(3)]
        ticks = []

        def hermes_ticks_while_the_pool_dispatches():
            assert dispatch_lock_free(db), "the coordinator holds <board>.dispatch.lock"
            tick = hermes_py(tmp_path, db, HERMES_TICK)
            assert tick["skipped_locked"] is False and tick["reclaimed"] == 0, tick
            ticks.append(tick)
            running = [t for t in pooled if task(bridge, t)["status"] == "running"]
            return len(ticks) >= 3 and len(running) == 2

        wait_for(hermes_ticks_while_the_pool_dispatches, lambda: f"Hermes ticked beside a dispatching pool ({ticks})")
        # Hermes 0.19's real CLI ticks too, and leaves the lane's claims alone.
        out = hermes_py(tmp_path, db, HERMES_TICK.replace("dry_run=True", "dry_run=False"))
        assert out["skipped_locked"] is False and out["reclaimed"] == 0 and not set(out["spawned"]) & set(pooled), out
        assert sorted(task(bridge, t)["status"] for t in pooled) == ["ready", "running", "running"]
        assert dispatch_lock_free(db)
    finally:
        _stop(proc)
