"""Shared by the example-worker tests: a small task graph, checks on how it was done, a restartable coordinator."""
import os
import subprocess
import time
from pathlib import Path

from conftest import BIN, REPO, _stop, clean_env, request

EXAMPLES = REPO / "examples"


def create_graph(bridge, lane):
    """parent → two children → one grandchild (waiting for both). Returns the ids by role."""
    def create(title, *parents):
        fields = {"title": title, "assignee": lane}
        if parents:
            fields["parents"] = list(parents)
        return bridge.admin("task.create", **fields)["task"]["id"]

    parent = create("Design the widget")
    left = create("Build the left half", parent)
    right = create("Build the right half", parent)
    grandchild = create("Assemble the widget", left, right)
    return {"parent": parent, "left": left, "right": right, "grandchild": grandchild}


def assert_graph_done(bridge, graph, runs_per_task=1):
    """Every task is done with one completed run, and no child completed before its parents."""
    for role, task_id in graph.items():
        task = bridge.admin("task.get", task_id=task_id)["task"]
        assert task["status"] == "done", f"{role} {task_id} is {task['status']}"
        completed = [r for r in task["runs"] if r["outcome"] == "completed"]
        assert len(completed) == 1, f"{role} {task_id} runs: {task['runs']}"
        assert len(task["runs"]) <= runs_per_task, f"{role} {task_id} runs: {task['runs']}"
    order = [e["task_id"] for e in bridge.admin("events", since=0, limit=10000)["events"] if e["type"] == "completed"]
    position = {task_id: order.index(task_id) for task_id in graph.values()}
    assert position[graph["parent"]] < position[graph["left"]] < position[graph["grandchild"]]
    assert position[graph["parent"]] < position[graph["right"]] < position[graph["grandchild"]]


def worker_env(bridge, lane, token, **extra):
    env = clean_env(KANBAN_BRIDGE_ENDPOINT=bridge.command_endpoint, KANBAN_EVENT_ENDPOINT=bridge.event_endpoint,
                    KANBAN_LANE=lane, KANBAN_LANE_TOKEN=token, **extra)
    env["PATH"] = str(Path(BIN).parent) + os.pathsep + env.get("PATH", "")  # kanban-bridge for shell workers
    return env


class Coordinator:
    """A `kanban-bridge serve` that can be killed and started again on the same endpoints and board."""

    def __init__(self, tmp_path, command_endpoint, event_endpoint):
        self.db, self.log = tmp_path / "kanban.db", tmp_path / "bridge.log"
        self.command_endpoint, self.event_endpoint = command_endpoint, event_endpoint
        self.proc = None

    def start(self):
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([BIN, "serve", "--db", str(self.db), "--command-endpoint", self.command_endpoint,
                                          "--event-endpoint", self.event_endpoint], stdout=out, stderr=out, env=clean_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}:\n{self.log.read_text()}"
            try:
                if request(self.command_endpoint, b'{"op":"ping"}', timeout_ms=500).get("ok"):
                    return
            except TimeoutError:
                pass
        raise AssertionError(f"serve did not answer:\n{self.log.read_text()}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc is not None:
            _stop(self.proc)
