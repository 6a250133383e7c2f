"""A worker written with nothing but pyzmq, against the wire contract (docs/PROTOCOL.md)."""
import json
import subprocess
import sys

import pytest

from conftest import REPO, clean_env, error_code, ok, receive_until

EXAMPLE_WORKER = REPO / "examples" / "python-worker" / "worker.py"


def create_task(bridge, title="Build widget", assignee="factory"):
    return bridge.admin("task.create", title=title, assignee=assignee)["task"]["id"]


def claim(bridge, token, lane="factory", **fields):
    result = ok(bridge.call("claim", auth=token, lane=lane, **fields))
    assert result["task"] is not None, "nothing was claimable"
    return result["task"]["id"], result["claim"]


def test_lane_claims_heartbeats_and_completes_with_events_in_order(bridge):
    token = bridge.register_lane("factory")
    sub = bridge.subscribe("factory.")
    task_id = create_task(bridge)

    claimed_id, grant = claim(bridge, token)
    assert claimed_id == task_id
    assert grant["token"] and grant["run_id"] >= 1 and grant["lease_expires_at"] > 0
    beat = ok(bridge.call("heartbeat", auth=token, task_id=task_id, claim_token=grant["token"], note="step 1/2"))
    assert beat["lease_expires_at"] >= grant["lease_expires_at"]
    done = ok(bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"],
                          result="widget ok", summary="Widget built"))
    assert done["task"]["status"] == "done"
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "done" and task["result"] == "widget ok"
    assert [(r["status"], r["outcome"]) for r in task["runs"]] == [("done", "completed")]

    received = receive_until(sub, lambda e: e["type"] == "completed" and e["task_id"] == task_id)
    seqs = [e["seq"] for _, e in received]
    assert seqs == sorted(set(seqs)), f"seq not strictly increasing: {seqs}"
    for topic, event in received:
        assert topic == f"{event['lane']}.{event['type']}" and event["lane"] == "factory"
    ours = [e for _, e in received if e["task_id"] == task_id]
    types = [e["type"] for e in ours]
    assert "available" in types, types
    for once in ("created", "claimed", "heartbeat", "completed"):
        assert types.count(once) == 1, f"expected one {once} event in {types}"
    assert types.index("created") < types.index("claimed") < types.index("heartbeat") < types.index("completed")
    assert all(e["run_id"] == grant["run_id"] for e in ours if e["type"] in ("claimed", "heartbeat", "completed"))

    replay = bridge.admin("events", since=0)
    replayed = [e["seq"] for e in replay["events"] if e["task_id"] == task_id]
    assert replayed == [e["seq"] for e in ours]
    assert replay["last_seq"] >= max(seqs)
    sub.close()


def test_lane_cannot_create_tasks(bridge):
    token = bridge.register_lane("factory")
    assert error_code(bridge.call("task.create", auth=token, title="sneaky", assignee="factory")) == "forbidden"


def test_requests_without_credential_are_unauthorized(bridge):
    assert error_code(bridge.call("task.list")) == "unauthorized"
    assert error_code(bridge.call("task.list", auth="lt_not-a-real-token")) == "unauthorized"


def test_lane_cannot_claim_for_another_lane(bridge):
    bridge.register_lane("factory")
    other = bridge.register_lane("assembly")
    create_task(bridge)
    assert error_code(bridge.call("claim", auth=other, lane="factory")) == "forbidden"


def test_lane_cannot_use_another_lanes_claim(bridge):
    token = bridge.register_lane("factory")
    other = bridge.register_lane("assembly")
    task_id = create_task(bridge)
    _, grant = claim(bridge, token)
    reply = bridge.call("complete", auth=other, task_id=task_id, claim_token=grant["token"])
    assert error_code(reply) == "forbidden"
    assert bridge.admin("task.get", task_id=task_id)["task"]["status"] == "running"


def test_bogus_claim_token_is_not_claim_owner(bridge):
    token = bridge.register_lane("factory")
    task_id = create_task(bridge)
    claim(bridge, token)
    reply = bridge.call("heartbeat", auth=token, task_id=task_id, claim_token="ct_bogus")
    assert error_code(reply) == "not_claim_owner"


def test_completing_twice_is_stale_claim(bridge):
    token = bridge.register_lane("factory")
    task_id = create_task(bridge)
    _, grant = claim(bridge, token)
    ok(bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"], result="once"))
    reply = bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"], result="twice")
    assert error_code(reply) == "stale_claim"
    assert bridge.admin("task.get", task_id=task_id)["task"]["result"] == "once"


@pytest.mark.parametrize("frame, code", [
    (b"\xff\xfe garbage \x00", "bad_request"),
    (b"{not json", "bad_request"),
    (b"[1, 2, 3]", "bad_request"),
    (b'"ping"', "bad_request"),
    (b'{"op": "teleport", "auth": "ADMIN"}', "unknown_op"),
    (b'{"op": 42}', "bad_request"),
    (b'{"op": "claim", "auth": "ADMIN", "lane": 7}', "bad_request"),
    (b'{"op": "events", "auth": "ADMIN", "since": "zero"}', "bad_request"),
    (b'{"op": "ping", "surprise": true}', "bad_request"),
    # Without a valid credential the body is not even parsed: anything but ping is unauthorized.
    (b'{"op": "teleport"}', "unauthorized"),
    (b'{"op": "events", "auth": "lt_forged", "since": "zero", "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}', "unauthorized"),
])
def test_malformed_requests_get_an_error_and_the_coordinator_keeps_answering(bridge, frame, code):
    frame = frame.replace(b"ADMIN", bridge.admin_token.encode())
    assert error_code(bridge.raw(frame)) == code
    assert ok(bridge.call("ping"))["protocol"] == 1


def test_mistyped_fields_are_bad_requests_even_for_admin(bridge):
    reply = bridge.call("task.create", auth=bridge.admin_token, title="x", priority="high")
    assert error_code(reply) == "bad_request"
    assert bridge.admin("task.list")["tasks"] == []


def test_example_worker_completes_one_task(bridge):
    token = bridge.register_lane("factory")
    task_id = create_task(bridge, title="Example task")
    env = clean_env(KANBAN_BRIDGE_ENDPOINT=bridge.command_endpoint, KANBAN_LANE_TOKEN=token, KANBAN_LANE="factory")
    proc = subprocess.run([sys.executable, str(EXAMPLE_WORKER), "--once", "--wait-ms", "2000"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"worker failed:\n{proc.stdout}\n{proc.stderr}"
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "done"
    assert task["runs"][-1]["outcome"] == "completed"


def test_example_worker_exits_when_no_task_arrives(bridge):
    token = bridge.register_lane("factory")
    env = clean_env(KANBAN_BRIDGE_ENDPOINT=bridge.command_endpoint, KANBAN_LANE_TOKEN=token, KANBAN_LANE="factory")
    proc = subprocess.run([sys.executable, str(EXAMPLE_WORKER), "--once", "--wait-ms", "200"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"worker failed:\n{proc.stdout}\n{proc.stderr}"
    assert "no task" in proc.stdout


def test_cli_registered_lane_works_over_pyzmq(bridge):
    token = json.loads(bridge.cli("lanes", "register", "factory", "--kind", "persistent", "--json").stdout)["token"]
    bridge.cli("task", "create", "From the CLI", "--assignee", "factory")
    task_id, grant = claim(bridge, token)
    ok(bridge.call("complete", auth=token, task_id=task_id, claim_token=grant["token"]))
    listed = json.loads(bridge.cli("task", "list", "--status", "done", "--json").stdout)["tasks"]
    assert [t["id"] for t in listed] == [task_id]
