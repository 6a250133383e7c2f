"""The runner adapters of bridge-config/runners.yaml, run as shipped (the repository path adapted) by
`kanban-bridge runner --config`: Codex CLI, Claude Code, OpenCode and a Hermes profile through
stand-ins of the same names that check their arguments as the real CLI takes them (the real ones need
the network), and the local-model script for real against an Ollama-shaped server on loopback."""
import json
import os
import shutil
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from conftest import BIN, REPO, clean_env, wait_for
from test_config import serve_with

STAND_INS = Path(__file__).parent / "stand-ins" / "bin"


class FakeOllama(BaseHTTPRequestHandler):
    """POST /api/generate as Ollama answers it: the prompt's first line back; busy (503) when asked."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "busy" in request["prompt"]:
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"model": request["model"], "response": f"model says: {request['prompt'].splitlines()[0]}",
                           "done": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def adapters(tmp_path):
    # The shipped file with the worker host's checkout where it says /srv/app.
    repo = tmp_path / "app"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"],
                   check=True)
    shutil.copytree(REPO / "bridge-config" / "adapters", tmp_path / "adapters")
    config = tmp_path / "runners.yaml"
    config.write_text((REPO / "bridge-config" / "runners.yaml").read_text().replace("/srv/app", str(repo)))
    server = HTTPServer(("127.0.0.1", 0), FakeOllama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc, bridge = serve_with(tmp_path, config)
    runners = []

    def run(lane):
        token = bridge.admin("lane.rotate-token", name=lane)["token"]
        env = clean_env(KANBAN_LANE_TOKEN=token, PATH=f"{STAND_INS}:{os.environ['PATH']}",
                        LOCAL_MODEL_URL=f"http://127.0.0.1:{server.server_port}")
        out = open(tmp_path / f"runner-{lane}.log", "ab")
        runners.append(subprocess.Popen([BIN, "runner", "--config", str(config), "--lane", lane, "--endpoint", bridge.command_endpoint,
                                         "--workspace-root", str(tmp_path / "ws")], env=env, stdout=out, stderr=out))
    try:
        yield bridge, run
    finally:
        for r in runners:
            r.send_signal(signal.SIGTERM)
            r.wait(timeout=90)
        server.shutdown()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.parametrize("lane", ["codex", "claude", "opencode", "hermes-remote", "local-model"])
def test_each_adapter_completes_a_task_with_the_agents_output(adapters, lane):
    bridge, run = adapters
    task = bridge.admin("task.create", title="Add a health check", body="GET /healthz returns 200", assignee=lane)["task"]["id"]
    run(lane)
    wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] in ("done", "blocked"), f"{lane} finishes")
    done = bridge.admin("task.get", task_id=task)["task"]
    assert done["status"] == "done", done
    expected = "model says: Add a health check" if lane == "local-model" else f"{lane.split('-')[0]} ok"
    assert expected in done["result"], done["result"]
    if lane == "codex":
        assert "/ws/codex/" in done["result"], "it ran in the task's own worktree on the runner's host"


@pytest.mark.parametrize("lane,title", [("hermes-remote", "ratelimit me"), ("local-model", "busy now")])
def test_rate_limited_agents_are_released_without_a_failure(adapters, lane, title):
    bridge, run = adapters
    task = bridge.admin("task.create", title=title, assignee=lane)["task"]["id"]
    run(lane)
    wait_for(lambda: [r for r in bridge.admin("task.get", task_id=task)["task"]["runs"] if r["outcome"]], f"{lane} ran it")
    t = bridge.admin("task.get", task_id=task)["task"]
    assert t["status"] == "ready" and t["runs"][0]["outcome"] == "released", t
    assert not t.get("consecutive_failures"), t
