"""`Events`: the event stream with the credential, in seq order, each event once, resumed across a
coordinator restart (the SUB reconnects; what PUB dropped meanwhile is replayed) and from a saved cursor."""
from __future__ import annotations

from pathlib import Path

from conftest import Coordinator

from kanban_bridge import Client, Event, Events


def collect(events: Events, until_seq: int) -> list[Event]:
    got: list[Event] = []
    while not got or got[-1].seq < until_seq:
        event = events.next(timeout_s=30)
        assert event is not None, f"no event after seq {events.cursor}; waiting for {until_seq}"
        got.append(event)
    return got


def test_events_from_the_start_then_live(coordinator: Coordinator, admin: Client) -> None:
    admin.lane_register("factory")
    with Events(admin, coordinator.event_endpoint, since=0) as events:
        head = admin.task_create("one", assignee="factory")
        first = collect(events, admin.ping().last_seq)
        assert [e.seq for e in first] == list(range(1, first[-1].seq + 1))
        assert first[-1].task_id == head.id and first[-1].type == "available"
        admin.task_create("two", assignee="factory")
        more = collect(events, admin.ping().last_seq)
        assert more[0].seq == first[-1].seq + 1 and more[-1].type == "available"
        assert events.next(timeout_s=0.2) is None


def test_events_resume_across_a_coordinator_restart_with_no_gap(tmp_path: Path) -> None:
    coordinator = Coordinator(tmp_path)
    coordinator.start()
    try:
        admin = coordinator.admin(timeout_ms=500)
        admin.lane_register("factory")
        events = Events(admin, coordinator.event_endpoint, since=0, check_every_s=0.5)
        for i in range(3):
            admin.task_create(f"before {i}", assignee="factory")
        before = collect(events, admin.ping().last_seq)
        coordinator.kill()
        coordinator.start()
        # Published while the SUB socket may not have reconnected yet: PUB drops these for it.
        for i in range(5):
            admin.task_create(f"after {i}", assignee="factory")
        head = admin.ping().last_seq
        after = collect(events, head)
        seqs = [e.seq for e in before + after]
        assert seqs == list(range(1, head + 1)), "every event once, in order, across the restart"
        saved = events.cursor
        events.close()

        # A new iterator from a saved cursor resumes where the first one stopped.
        admin.task_create("later", assignee="factory")
        with Events(admin, coordinator.event_endpoint, since=saved) as resumed:
            rest = collect(resumed, admin.ping().last_seq)
        assert [e.seq for e in rest] == list(range(saved + 1, admin.ping().last_seq + 1))
    finally:
        coordinator.stop()
    coordinator.assert_no_secrets()


def test_one_lanes_events_only(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory").token
    admin.lane_register("assembly")
    lane = Client(coordinator.command_endpoint, token)
    with Events(lane, coordinator.event_endpoint, since=0, lane="factory") as events:
        admin.task_create("elsewhere", assignee="assembly")
        mine = admin.task_create("mine", assignee="factory")
        got = collect_until(events, lambda e: e.task_id == mine.id and e.type == "available")
    assert {e.lane for e in got} == {"factory"}
    assert [e.seq for e in got] == sorted({e.seq for e in got})


def collect_until(events: Events, done: object) -> list[Event]:
    got: list[Event] = []
    while True:
        event = events.next(timeout_s=30)
        assert event is not None
        got.append(event)
        if callable(done) and done(event):
            return got
