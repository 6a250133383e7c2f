"""SIGTERM/SIGINT drain of a `kanban-worker` process: it stops claiming, lets running handlers finish
within --drain-seconds, then releases what is left. Also the CLI's environment and arguments."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import Coordinator, clean_env, wait_for

from kanban_bridge import Client

HANDLER = '''
def handle(job):
    print(f"started {job.task.title}", flush=True)
    with open(f"go-{job.task.title}") as go:  # a FIFO: the test says when the work is done
        go.readline()
    return "finished " + job.task.title
'''


def kanban_worker() -> list[str]:
    """The installed entry point, else the module (a checkout without `pip install`)."""
    script = Path(sys.executable).parent / "kanban-worker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kanban_bridge.cli"]


class WorkerProcess:
    def __init__(self, tmp_path: Path, coordinator: Coordinator, token: str, *args: str) -> None:
        (tmp_path / "slow_handler.py").write_text(HANDLER)
        self.dir = tmp_path
        env = clean_env(KANBAN_BRIDGE_ENDPOINT=coordinator.command_endpoint, KANBAN_LANE_TOKEN=token)
        self.proc = subprocess.Popen([*kanban_worker(), "slow_handler:handle", *args], cwd=tmp_path, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def finish(self, title: str) -> None:
        with open(self.dir / f"go-{title}", "w") as go:  # opens once the handler listens
            go.write("go\n")

    def wait(self) -> int:
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the worker is still running: {self.lines}") from None
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(10)
        return code


def test_sigterm_stops_claiming_and_lets_running_handlers_finish(tmp_path: Path, coordinator: Coordinator,
                                                                 admin: Client) -> None:
    token = admin.lane_register("factory", max_concurrency=2).token
    for title in "ABC":
        os.mkfifo(tmp_path / f"go-{title}")
    a, b, c = (admin.task_create(t, assignee="factory", priority=p).id for t, p in (("A", 3), ("B", 2), ("C", 1)))
    worker = WorkerProcess(tmp_path, coordinator, token, "--lane", "factory", "--slots", "2", "--wait-ms", "1000",
                           "--drain-seconds", "60")
    wait_for(lambda: worker.saw("started ") == 2, lambda: f"two handlers run: {worker.lines}")  # type: ignore[arg-type]
    worker.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: worker.saw("SIGTERM: stopping"), "the worker takes the signal")
    worker.finish("A")
    worker.finish("B")
    assert worker.wait() == 0, worker.lines
    assert [admin.task_get(t).status for t in (a, b)] == ["done", "done"]
    left = admin.task_get(c)
    assert left.status == "ready" and left.runs == [], "nothing was claimed after the signal"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_past_the_drain_deadline_the_task_is_released(tmp_path: Path, coordinator: Coordinator, admin: Client,
                                                      signum: signal.Signals) -> None:
    token = admin.lane_register("factory").token
    os.mkfifo(tmp_path / "go-never finishes")
    task_id = admin.task_create("never finishes", assignee="factory").id
    worker = WorkerProcess(tmp_path, coordinator, token, "--lane", "factory", "--wait-ms", "1000",
                           "--drain-seconds", "0.5")
    wait_for(lambda: worker.saw("started "), lambda: f"the handler runs: {worker.lines}")  # type: ignore[arg-type]
    worker.proc.send_signal(signum)
    assert worker.wait() == 0, worker.lines
    task = admin.task_get(task_id)
    assert task.status == "ready" and task.runs is not None
    assert [(r.outcome, r.error) for r in task.runs] == [("released", "released: worker stopped")]


def test_the_cli_reads_the_bridge_clis_variables_and_refuses_without_a_credential(tmp_path: Path,
                                                                                 coordinator: Coordinator,
                                                                                 admin: Client) -> None:
    (tmp_path / "echo_handler.py").write_text("def handle(job):\n    return 'echo ' + job.task.title\n")
    token = admin.lane_register("factory").token
    task_id = admin.task_create("hello", assignee="factory").id
    env = clean_env(KANBAN_BRIDGE_ENDPOINT=coordinator.command_endpoint, KANBAN_LANE_TOKEN=token, KANBAN_LANE="factory")
    done = subprocess.run([*kanban_worker(), "echo_handler:handle", "--tasks", "1", "--wait-ms", "2000"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"completed {task_id}" in done.stdout and admin.task_get(task_id).result == "echo hello"
    leaked = token in done.stdout + done.stderr  # apart, so a failure never prints the token
    assert not leaked
    bare = clean_env(KANBAN_BRIDGE_ENDPOINT=coordinator.command_endpoint)
    refused = subprocess.run([*kanban_worker(), "echo_handler:handle", "--lane", "factory"], cwd=tmp_path, env=bare,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "credential" in refused.stderr
