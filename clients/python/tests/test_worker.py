"""`Worker` against a real coordinator: outcomes of a handler, concurrency, heartbeats past the lease, and a
coordinator killed with -9 and restarted mid-task."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from conftest import Coordinator, wait_for

from kanban_bridge import Block, Client, Job, Release, Result, Unauthorized, Worker


def run_in_thread(worker: Worker, **options: object) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs=dict(install_signals=False, **options), daemon=True)
    thread.start()
    return thread


def events_of(admin: Client, task_id: str, kind: str) -> list[dict[str, object]]:
    return [e.data for e in admin.events(since=0).events if e.task_id == task_id and e.type == kind]


def test_a_handlers_outcome_completes_blocks_or_releases(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory").token
    ids = {title: admin.task_create(title, assignee="factory", priority=p).id
           for p, title in enumerate(["release me", "block me", "fail", "rich", "plain"])}
    seen: list[str] = []
    worker = Worker(Client(coordinator.command_endpoint, token), wait_ms=1000)

    @worker.handler("factory")
    def handle(job: Job) -> str | Result | None:
        seen.append(job.task.title)
        if job.task.title == "fail":
            raise ValueError("the widget broke")
        if job.task.title == "block me":
            raise Block("needs a key", kind="needs_input")
        if job.task.title == "release me":
            if seen.count("release me") == 1:
                raise Release("not now")
            return None
        if job.task.title == "rich":
            return Result(result="r", summary="s", metadata={"files": 2})
        return "plain result"

    assert worker.run(max_tasks=6, install_signals=False) == 6
    assert seen == ["plain", "rich", "fail", "block me", "release me", "release me"]
    tasks = {title: admin.task_get(task_id) for title, task_id in ids.items()}
    assert (tasks["plain"].status, tasks["plain"].result) == ("done", "plain result")
    assert (tasks["rich"].status, tasks["rich"].result) == ("done", "r")
    assert tasks["rich"].runs is not None and tasks["rich"].runs[0].summary == "s"
    fail_runs = tasks["fail"].runs
    assert tasks["fail"].status == "blocked" and fail_runs is not None
    assert fail_runs[0].error == "ValueError: the widget broke"
    assert events_of(admin, ids["block me"], "blocked")[0]["kind"] == "needs_input"
    release_runs = tasks["release me"].runs
    assert tasks["release me"].status == "done" and release_runs is not None
    assert [r.outcome for r in release_runs] == ["released", "completed"]


def test_complete_claims_the_next_task_in_the_same_round_trip(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory").token
    for i in range(3):
        admin.task_create(f"task {i}", assignee="factory")
    worker = Worker(Client(coordinator.command_endpoint, token), wait_ms=500)
    worker.handler("factory")(lambda job: job.task.title)
    assert worker.run(max_tasks=3, install_signals=False) == 3
    assert all(t.status == "done" for t in admin.task_list(assignee="factory"))
    # Three claims in all: the first by `claim`, the next two by `complete` with claim_next.
    assert sum(e.type == "claimed" for e in admin.events(since=0).events) == 3


def test_slots_run_tasks_at_once(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory", max_concurrency=3).token
    for i in range(3):
        admin.task_create(f"task {i}", assignee="factory")
    together = threading.Barrier(3, timeout=30)  # passes only when three handlers run at the same time
    worker = Worker(Client(coordinator.command_endpoint, token), slots=3, wait_ms=500)

    @worker.handler("factory")
    def handle(job: Job) -> str:
        together.wait()
        return "ok"

    assert worker.run(max_tasks=3, install_signals=False) == 3
    assert len({t.id for t in admin.task_list(status="done")}) == 3


def test_a_handler_outlives_its_lease_kept_alive_by_heartbeats(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory", lease_seconds=2).token
    task_id = admin.task_create("slow widget", assignee="factory").id
    finish = threading.Event()
    worker = Worker(Client(coordinator.command_endpoint, token), wait_ms=1000)

    @worker.handler("factory")
    def handle(job: Job) -> str:
        job.progress("halfway", metadata={"pct": 50})
        assert finish.wait(60)
        return "slow but done"

    thread = run_in_thread(worker, max_tasks=1)
    # Four heartbeats, a third of the lease apart, span more than the 2 s lease.
    wait_for(lambda: len(events_of(admin, task_id, "heartbeat")) >= 4, "four heartbeats")
    finish.set()
    thread.join(30)
    task = admin.task_get(task_id)
    assert task.status == "done" and task.runs is not None and [r.outcome for r in task.runs] == ["completed"]
    beat = events_of(admin, task_id, "heartbeat")[0]
    assert beat["note"] == "halfway" and beat["metadata"] == {"pct": 50}


def test_a_coordinator_restart_mid_task_completes_it_exactly_once(tmp_path: Path) -> None:
    coordinator = Coordinator(tmp_path)
    coordinator.start()
    resends: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "no reply from" in record.getMessage():
                resends.append(record.getMessage())

    collect = Collect()
    logging.getLogger("kanban_bridge").addHandler(collect)
    logging.getLogger("kanban_bridge").setLevel(logging.INFO)
    try:
        admin = coordinator.admin()
        token = admin.lane_register("factory", lease_seconds=60).token
        task_id = admin.task_create("widget", assignee="factory").id
        started, finish = threading.Event(), threading.Event()
        worker = Worker(Client(coordinator.command_endpoint, token, timeout_ms=500), wait_ms=500)

        @worker.handler("factory")
        def handle(job: Job) -> str:
            started.set()
            assert finish.wait(60)
            return "survived"

        thread = run_in_thread(worker, max_tasks=1)
        assert started.wait(30)
        coordinator.kill()
        finish.set()  # the handler returns while nobody listens: `complete` goes unanswered
        wait_for(lambda: any(m.startswith("complete:") for m in resends), "the worker resends complete")
        coordinator.start()
        thread.join(60)
        assert not thread.is_alive() and worker.done == 1
        admin = coordinator.admin()
        task = admin.task_get(task_id)
        assert (task.status, task.result) == ("done", "survived")
        assert task.runs is not None and [r.outcome for r in task.runs] == ["completed"]
        assert len(events_of(admin, task_id, "completed")) == 1
    finally:
        logging.getLogger("kanban_bridge").removeHandler(collect)
        coordinator.stop()
    coordinator.assert_no_secrets()


def test_a_lost_claim_drops_the_outcome(coordinator: Coordinator, admin: Client) -> None:
    token = admin.lane_register("factory", lease_seconds=3).token
    task_id = admin.task_create("reclaimed", assignee="factory").id
    worker = Worker(Client(coordinator.command_endpoint, token), wait_ms=500)
    running = threading.Event()
    runs: list[int] = []

    @worker.handler("factory")
    def handle(job: Job) -> str:
        runs.append(job.claim.run_id)
        if len(runs) == 1:
            running.set()
            assert job.lost.wait(30), "the heartbeat notices the reclaim"
            return "too late"
        return "second run"

    thread = run_in_thread(worker, max_tasks=1)
    assert running.wait(30)
    admin.task_reclaim(task_id, reason="operator took it")
    thread.join(30)
    task = admin.task_get(task_id)
    assert (task.status, task.result) == ("done", "second run")
    assert task.runs is not None and [r.outcome for r in task.runs] == ["reclaimed", "completed"]


@pytest.mark.parametrize("watch", [True])
def test_a_watch_lane_claims_what_available_events_name(coordinator: Coordinator, admin: Client, watch: bool) -> None:
    token = admin.lane_register("docs", claim_mode="watch").token
    first = admin.task_create("before the worker", assignee="docs").id
    worker = Worker(Client(coordinator.command_endpoint, token), wait_ms=1000, event_endpoint=coordinator.event_endpoint)
    worker.handler("docs", watch=watch)(lambda job: "read")
    thread = run_in_thread(worker, max_tasks=2)
    wait_for(lambda: admin.task_get(first).status == "done", "the listed task is done")
    second = admin.task_create("after", assignee="docs").id
    thread.join(30)
    assert admin.task_get(second).status == "done"


def test_a_refused_lane_stops_the_worker_with_that_error(coordinator: Coordinator, admin: Client) -> None:
    admin.lane_register("factory")
    worker = Worker(Client(coordinator.command_endpoint, "lt_not-a-lane-token"), wait_ms=500)
    worker.handler("factory")(lambda job: "never")
    with pytest.raises(Unauthorized):
        worker.run(install_signals=False)
