"""The release build, as people run it: `serve` answers and stops cleanly on SIGTERM, and `runner`
drains and exits 0 on SIGTERM. The optimiser may end a value's life where a debug build keeps it (a
signal source released early once left a release `serve` ignoring SIGTERM); only this build shows that.
Run by scripts/test after it builds `swift build -c release --product kanban-bridge`."""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
from conftest import clean_env, request, wait_for  # noqa: E402

BIN = os.environ.get("KANBAN_BRIDGE_RELEASE_BIN") or str(Path(__file__).resolve().parents[2] / ".build" / "release" / "kanban-bridge")
pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason=f"no release build at {BIN} (scripts/test builds it)")


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_release_serve_answers_and_stops_on_sigterm(tmp_path):
    cmd = f"tcp://127.0.0.1:{port()}"
    log = open(tmp_path / "serve.log", "ab")
    proc = subprocess.Popen([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--command-endpoint", cmd,
                             "--event-endpoint", f"tcp://127.0.0.1:{port()}"], stdout=log, stderr=log,
                            env=clean_env(HERMES_HOME=str(tmp_path / "hermes")))
    try:
        def pings():
            try:
                return request(cmd, b'{"op":"ping"}', timeout_ms=500).get("ok")
            except TimeoutError:
                return False
        wait_for(pings, "the release coordinator answers")
        token = (tmp_path / "admin.token").read_text().strip()
        lane = request(cmd, f'{{"op":"lane.register","auth":"{token}","name":"smoke","request_id":"r1"}}'.encode())
        assert lane["ok"], lane
        runner_log = open(tmp_path / "runner.log", "ab")
        runner = subprocess.Popen([BIN, "runner", "--endpoint", cmd, "--lane", "smoke", "--workspace-root", str(tmp_path / "ws"),
                                   "--", "/bin/echo", "{title}"], stdout=runner_log, stderr=runner_log,
                                  env=clean_env(KANBAN_LANE_TOKEN=lane["result"]["token"]))
        task = request(cmd, f'{{"op":"task.create","auth":"{token}","title":"smoke test","assignee":"smoke","request_id":"r2"}}'.encode())
        task_id = task["result"]["task"]["id"]
        wait_for(lambda: request(cmd, f'{{"op":"task.get","auth":"{token}","task_id":"{task_id}"}}'.encode())["result"]["task"]["status"]
                 == "done", "the release runner completes a task")
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 0, (tmp_path / "runner.log").read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()
    finally:
        for p in (proc,):
            if p.poll() is None:
                p.kill()
                p.wait()
