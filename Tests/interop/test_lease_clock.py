"""Leases and the coordinator's own stall: a SIGSTOPped coordinator, on resume, reads what was queued
on its command socket before it expires leases, so a heartbeat sent in time counts and a spawned
worker's lease is renewed rather than its task run again. Every wait is bounded; nothing asserts on
how long anything took."""
import json
import os
import signal
import sqlite3
import time
from contextlib import closing

import zmq

from conftest import REPLY_TIMEOUT_MS, ok, wait_for

LEASE_S = 3
# How far past the last lease deadline the stall goes: the board keeps deadlines in wall-clock ms, the
# coordinator follows them on its monotonic clock (a second covers rounding and the two clocks' drift).
PAST_DEADLINE_MS = 1000


def connected_req(endpoint):
    """A REQ socket whose connection is up (one round trip), so what it sends next reaches the
    coordinator's kernel buffer even while the coordinator is stopped."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 30_000)
    sock.connect(endpoint)
    sock.send(b'{"op":"ping"}')
    assert json.loads(sock.recv())["ok"] is True
    return sock


def status(bridge, task_id):
    return bridge.admin("task.get", task_id=task_id)["task"]["status"]


def timed_out(bridge, task_id):
    return [e for e in bridge.admin("events", since=0, limit=10000)["events"]
            if e["task_id"] == task_id and e["type"] == "timed_out"]


def last_lease_deadline_ms(db_path):
    """The latest deadline of the board's live claims, read from the file (the coordinator is stopped)."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        deadline = conn.execute("SELECT MAX(lease_expires_ms) FROM bridge_claims WHERE ended_at_ms IS NULL").fetchone()[0]
    assert deadline is not None, "a live claim to stall past"
    return deadline


def stopped(bridge, during=lambda: None):
    """SIGSTOPs the coordinator until every live claim's lease deadline has passed (the stall under
    test), running `during` meanwhile; always SIGCONTs it. The deadline is read once the coordinator
    stands still, so no renewal can move it on meanwhile."""
    os.kill(bridge.pid, signal.SIGSTOP)
    try:
        during()
        past = last_lease_deadline_ms(bridge.db_path) + PAST_DEADLINE_MS
        wait_for(lambda: time.time() * 1000 > past, "every lease deadline passed while the coordinator stood still")
    finally:
        os.kill(bridge.pid, signal.SIGCONT)


def test_heartbeat_sent_while_the_coordinator_is_stopped_counts(bridge):
    token = bridge.register_lane("factory", lease_seconds=LEASE_S, max_concurrency=2)
    alive = bridge.admin("task.create", title="heartbeats", assignee="factory")["task"]["id"]
    dead = bridge.admin("task.create", title="worker died", assignee="factory")["task"]["id"]
    claim = ok(bridge.call("claim", auth=token, lane="factory", task_id=alive))["claim"]["token"]
    ok(bridge.call("claim", auth=token, lane="factory", task_id=dead))
    sock = connected_req(bridge.command_endpoint)
    beat = json.dumps({"op": "heartbeat", "auth": token, "task_id": alive, "claim_token": claim}).encode()

    stopped(bridge, during=lambda: sock.send(beat))
    try:
        reply = json.loads(sock.recv())
    finally:
        sock.close()
    assert reply["ok"] is True, f"the heartbeat queued during the stall was refused: {reply}"

    # Positive control: the claim nobody heartbeated expires once the coordinator has caught up (its
    # lease, extended by the stall, runs out), while the live worker goes on heartbeating.
    def dead_expired_while_alive_beats():
        ok(bridge.call("heartbeat", auth=token, task_id=alive, claim_token=claim, timeout_ms=REPLY_TIMEOUT_MS))
        return status(bridge, dead) == "ready"

    wait_for(dead_expired_while_alive_beats, "the dead worker's claim expired")
    assert timed_out(bridge, alive) == [], "the heartbeated claim did not expire"
    ok(bridge.call("heartbeat", auth=token, task_id=alive, claim_token=claim, timeout_ms=REPLY_TIMEOUT_MS))
    assert status(bridge, alive) == "running"


def test_spawned_worker_is_not_run_again_after_the_coordinator_stood_still(bridge):
    bridge.register_lane("coders", kind="pool", max_concurrency=1, lease_seconds=LEASE_S,
                         command=["/bin/sh", "-c", "sleep 60"])
    task_id = bridge.admin("task.create", title="spawned", assignee="coders")["task"]["id"]
    wait_for(lambda: any(e["type"] == "spawned" for e in bridge.admin("events", since=0, limit=10000)["events"]
                         if e["task_id"] == task_id), "the worker was spawned")

    stopped(bridge)

    # Once the coordinator has renewed after the stall (a heartbeat event after it resumed), the
    # lease holds; a positive control for "a pass ran": the renewal itself.
    since = bridge.admin("events", since=0, limit=10000)["events"][-1]["seq"]
    wait_for(lambda: any(e["type"] == "heartbeat" and e["task_id"] == task_id
                         for e in bridge.admin("events", since=since, limit=10000)["events"]),
             "the spawned run's lease was renewed after the stall")
    runs = bridge.admin("task.get", task_id=task_id)["task"]["runs"]
    assert timed_out(bridge, task_id) == [], "the lease was not expired by the coordinator's own stall"
    assert len(runs) == 1 and status(bridge, task_id) == "running", f"the task was not run again: {runs}"
