"""Hostile clients against the real binary: memory stays bounded and a well-behaved client keeps being
answered. Bounds are on the coordinator's resident memory (from /proc), never on time."""
import json
import time

import pytest
import zmq

from conftest import request, wait_for

RSS_BOUND_KIB = 150 * 1024


@pytest.fixture(autouse=True)
def quick_trim(monkeypatch):
    """The coordinator hands freed heap back every 10 s; a test seam (MemoryHygiene.swift) makes that
    every 200 ms for the coordinator these tests start, so they poll for the memory to come back."""
    monkeypatch.setenv("KANBAN_BRIDGE_TEST_TRIM_EVERY_MS", "200")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def dealer(endpoint):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)
    return sock


def well_behaved(bridge, token, task, claim_token, rounds):
    """A lane that heartbeats and reads, one request at a time: every reply must come (5 s timeout)."""
    for _ in range(rounds):
        for msg in ({"op": "ping"},
                    {"op": "heartbeat", "auth": token, "task_id": task, "claim_token": claim_token},
                    {"op": "task.get", "auth": token, "task_id": task}):
            reply = request(bridge.command_endpoint, json.dumps(msg).encode(), timeout_ms=5000)
            assert reply.get("ok"), reply


def held_claim(bridge, lane):
    token = bridge.register_lane(lane)
    task = bridge.admin("task.create", title="held", assignee=lane)["task"]["id"]
    claim = bridge.call("claim", auth=token, lane=lane, task_id=task)["result"]["claim"]
    return token, task, claim["token"]


def test_unread_replies_stay_bounded_and_others_are_served(bridge):
    """A lane client pipelines 200 task.list requests of 0.8 MB replies each and never reads one: over
    three times what the coordinator keeps per peer (kanban-bench --hostile sends 3,000 to a release build)."""
    token, task, claim_token = held_claim(bridge, "probe")
    body = "x" * 400
    for i in range(1000):
        bridge.admin("task.create", title=f"filler {i}", body=body, assignee="bulk")
    attacker = dealer(bridge.command_endpoint)
    frame = json.dumps({"op": "task.list", "auth": token, "limit": 1000}).encode()
    for _ in range(200):
        attacker.send_multipart([b"", frame])
    well_behaved(bridge, token, task, claim_token, rounds=15)
    peak = rss_kib(bridge.pid)
    assert peak < RSS_BOUND_KIB, f"RSS {peak} KiB under the attack"
    attacker.close()
    well_behaved(bridge, token, task, claim_token, rounds=5)
    # Once the loop has handed the freed memory back, RSS is within the bound and not above the peak.
    after = wait_for(lambda: (rss := rss_kib(bridge.pid)) < RSS_BOUND_KIB and rss <= peak and rss,
                     lambda: f"RSS back under the bound and the peak {peak} KiB (now {rss_kib(bridge.pid)} KiB)")
    print(f"coordinator RSS under the attack {peak} KiB, after it {after} KiB")


def test_unauthenticated_megabyte_requests_are_refused_cheaply(bridge):
    """400 requests of 1 MB JSON with a bad token: each is refused before its body is parsed."""
    token, task, claim_token = held_claim(bridge, "probe")
    attacker = dealer(bridge.command_endpoint)
    payload = json.dumps({"op": "task.create", "auth": "lt_nope", "title": "t",
                          "body": "y" * (1024 * 1024 - 200)}).encode()
    assert len(payload) < 1024 * 1024
    for _ in range(400):
        attacker.send_multipart([b"", payload])
    well_behaved(bridge, token, task, claim_token, rounds=40)
    refused = 0
    deadline = time.monotonic() + 60
    while refused < 400 and time.monotonic() < deadline:
        if attacker.poll(1000):
            reply = json.loads(attacker.recv_multipart()[-1])
            assert reply["error"]["code"] == "unauthorized", reply
            refused += 1
    assert refused == 400, f"only {refused} of 400 answered"
    assert rss_kib(bridge.pid) < RSS_BOUND_KIB
    attacker.close()


def test_heartbeat_notes_and_metadata_are_capped(bridge):
    token, task, claim_token = held_claim(bridge, "probe")
    big = "z" * (512 * 1024)
    for extra in ({"note": big}, {"metadata": {"blob": big}}):
        reply = bridge.call("heartbeat", auth=token, task_id=task, claim_token=claim_token, **extra)
        assert reply["error"]["code"] in ("too_large", "bad_request"), reply
        assert "4096" in reply["error"]["message"], reply
    ok = bridge.call("heartbeat", auth=token, task_id=task, claim_token=claim_token,
                     note="fine", metadata={"pct": 60.5, "step": "3/5"})
    assert ok["ok"], ok
