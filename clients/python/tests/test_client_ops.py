"""Every op of docs/PROTOCOL.md §5 through `Client`, against a real coordinator: typed results, and error
replies raised as the exception class of their code."""
from __future__ import annotations

import pytest
from conftest import Coordinator

from kanban_bridge import (
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    LaneFull,
    NotClaimOwner,
    NotFound,
    StaleClaim,
    Task,
    Unauthorized,
    UnknownOp,
)


def lane_client(c: Coordinator, token: str) -> Client:
    return Client(c.command_endpoint, token)


def test_ping_says_who_the_caller_is(coordinator: Coordinator, admin: Client) -> None:
    anonymous = Client(coordinator.command_endpoint).ping()
    assert anonymous.protocol == 1 and anonymous.principal is None and anonymous.now_ms > 0
    me = admin.ping()
    assert me.principal is not None and me.principal.role == "admin"


def test_lane_ops(coordinator: Coordinator, admin: Client) -> None:
    registered = admin.lane_register("factory", kind="persistent", max_concurrency=2, lease_seconds=600)
    assert registered.lane == "factory" and registered.token.startswith("lt_")
    assert registered.detail is not None and registered.detail.max_concurrency == 2
    assert "lt_" not in repr(registered), "a token never shows in a repr"
    with pytest.raises(Conflict) as taken:
        admin.lane_register("factory")
    assert taken.value.code == "conflict" and taken.value.op == "lane.register"

    updated = admin.lane_update("factory", max_concurrency=3, claim_mode="pull")
    assert (updated.max_concurrency, updated.claim_mode, updated.lease_seconds) == (3, "pull", 600)
    assert admin.lane_get("factory").name == "factory"
    listed = admin.lane_list()
    assert [lane.name for lane in listed.lanes] == ["factory"] and listed.lanes[0].parked == 0

    lane = lane_client(coordinator, registered.token)
    assert lane.ping().principal.lane == "factory"  # type: ignore[union-attr]
    with pytest.raises(Forbidden):
        lane.lane_register("sneaky")
    rotated = admin.lane_rotate_token("factory")
    same = rotated.token == registered.token  # compared apart, so a failure never prints a token
    assert not same
    with pytest.raises(Unauthorized):
        lane.lane_get("factory")
    assert admin.lane_remove("factory") == "factory"
    with pytest.raises(NotFound):
        admin.lane_get("factory")


def test_task_ops(coordinator: Coordinator, admin: Client) -> None:
    admin.lane_register("factory")
    parent = admin.task_create("Build widget", assignee=" Factory ", body="three files", priority=5,
                               idempotency_key="widget-1", tenant="acme")
    assert isinstance(parent, Task) and parent.assignee == "factory" and parent.status == "ready"
    assert admin.task_create("again", idempotency_key="widget-1").id == parent.id
    child = admin.task_create("Ship widget", parents=[parent.id])
    assert child.status == "todo" and child.parents == [parent.id]
    other = admin.task_create("Paint widget")
    assert admin.task_link(parent.id, other.id).parents == [parent.id]
    assert admin.task_assign(child.id, "factory").assignee == "factory"
    assert admin.task_assign(child.id, None).assignee is None

    got = admin.task_get(parent.id)
    assert got.children == sorted([child.id, other.id]) and got.runs == []
    assert [t.id for t in admin.task_list(assignee="factory")] == [parent.id]
    assert {t.id for t in admin.task_list(status="todo", limit=10)} == {child.id, other.id}
    log = admin.task_log(parent.id, max_bytes=1024)
    assert log.task_id == parent.id and log.tail is None and not log.truncated
    with pytest.raises(NotFound):
        admin.task_get("t_00000000")
    with pytest.raises(BadRequest):
        admin.task_link(parent.id, parent.id)
    with pytest.raises(Conflict):
        admin.task_unblock(parent.id)  # not blocked
    with pytest.raises(Conflict):
        admin.task_reclaim(parent.id)  # not running


def test_claim_heartbeat_complete_block_release_reclaim_unblock(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory", max_concurrency=1).token
    lane = lane_client(coordinator, token)
    first = admin.task_create("first", assignee="factory", priority=3)
    second = admin.task_create("second", assignee="factory", priority=2)
    third = admin.task_create("third", assignee="factory", priority=1)

    got = lane.claim("factory", lease_seconds=60)
    assert got and got.task is not None and got.claim is not None and got.task.id == first.id
    assert "ct_" not in repr(got)
    with pytest.raises(LaneFull):
        lane.claim("factory")
    lease = lane.heartbeat(first.id, got.claim.token, note="step 1", metadata={"pct": 50})
    assert lease.lease_expires_at_ms >= got.claim.lease_expires_at_ms
    with pytest.raises(NotClaimOwner):
        lane.heartbeat(first.id, "ct_bogus")
    done = lane.complete(first.id, got.claim.token, result="ok", summary="built", metadata={"files": 3},
                         claim_next=True)
    assert done.task.status == "done" and done.task.result == "ok"
    assert done.next and done.next.task is not None and done.next.claim is not None
    assert done.next.task.id == second.id
    with pytest.raises(StaleClaim):
        lane.complete(first.id, got.claim.token)

    blocked = lane.block(second.id, done.next.claim.token, reason="needs a key", kind="needs_input")
    assert blocked.status == "blocked"
    assert admin.task_unblock(second.id).status == "ready"

    again = lane.claim("factory", task_id=third.id)
    assert again.claim is not None
    assert lane.release(third.id, again.claim.token, reason="later").status == "ready"
    held = lane.claim("factory", task_id=third.id)
    assert held.claim is not None
    reclaimed = admin.task_reclaim(third.id, reason="operator")
    assert reclaimed.status == "ready"
    with pytest.raises(StaleClaim):
        lane.heartbeat(third.id, held.claim.token)
    runs = admin.task_get(third.id).runs
    assert runs is not None and [r.outcome for r in runs] == ["released", "reclaimed"]


def test_blocking_claim_waits_and_comes_back_empty(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory").token
    got = lane_client(coordinator, token).claim("factory", wait_ms=300)
    assert not got and got.task is None and got.claim is None


def test_events_stats_and_prune(coordinator: Coordinator, admin: Client) -> None:
    admin.lane_register("factory")
    task = admin.task_create("Build widget", assignee="factory")
    page = admin.events(since=0, limit=2)
    assert [e.seq for e in page.events] == [1, 2] and page.last_seq == 2
    everything = admin.events(since=0)
    assert [e.type for e in everything.events if e.task_id == task.id] == ["created", "available"]
    assert everything.events[-1].topic == "factory.available"
    assert admin.events(since=0, lane="_").events == []
    stats = admin.stats(window_seconds=60)
    assert stats["window_seconds"] == 60 and stats["totals"]["claimed"] == 0
    try:
        assert admin.workspace_prune(lane="factory") == []
    except Conflict:
        pass  # a coordinator without a dispatcher says so


def test_unknown_op_and_raw_call(coordinator: Coordinator, admin: Client) -> None:
    with pytest.raises(UnknownOp) as e:
        admin.call("teleport")
    assert e.value.code == "unknown_op" and "teleport" in str(e.value)
    with pytest.raises(BadRequest, match="unknown field"):
        admin.call("task.get", {"task_id": "t_00000000", "verbose": True})


def test_a_mutation_resent_with_its_request_id_runs_once(coordinator: Coordinator, admin: Client) -> None:
    first = admin.call("task.create", {"title": "once"}, request_id="same-id-1")
    second = admin.call("task.create", {"title": "once"}, request_id="same-id-1")
    assert first == second
    assert len(admin.task_list()) == 1


def test_fail_log_append_delayed_release_and_runner_report(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("remote", max_concurrency=2).token
    lane = lane_client(coordinator, token)
    task = admin.task_create("agent work", assignee="remote")
    got = lane.claim("remote")
    assert got.claim is not None and got.task is not None
    assert lane.log_append(task.id, got.claim.token, "agent: step 1\n") >= got.claim.lease_expires_at_ms
    assert "agent: step 1" in (admin.task_log(task.id).tail or "")
    failed = lane.fail(task.id, got.claim.token, reason="broke", exit_code=3)
    assert failed.status == "ready"
    again = lane.claim("remote")
    assert again.claim is not None
    assert lane.release(task.id, again.claim.token, reason="rate-limited", retry_after_seconds=60).status == "ready"
    assert lane.claim("remote").task is None, "held back for a minute"
    assert lane.runner_report("remote", runner_id="h:1:1", host="h", pid=1, slots=2) > 0
    runners = [lane for lane in admin.call("lane.list")["lanes"] if lane["name"] == "remote"][0]["runners"]
    assert runners[0]["host"] == "h" and runners[0]["slots"] == 2
    outcomes = [r.outcome for r in admin.task_get(task.id).runs or []]
    assert outcomes == ["crashed", "released"]
