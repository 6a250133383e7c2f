"""Each example's first command works as its README writes it, from the repository after the quick
start (issue #25, finding 6: `python3 worker.py` had no pyzmq, and `lane-worker.sh` found no
`kanban-bridge` unless KANBAN_BRIDGE was set). The lines are read from the READMEs and run by a shell
in the repository's root, with only the variables the README exports and a PATH without the CLI."""
import os
import re
import subprocess

import pytest

from conftest import REPO, clean_env

PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"  # no kanban-bridge here, as on a fresh machine


def readme_line(example, marker):
    """The line of the example README's first sh block that contains `marker`, comment removed."""
    text = (REPO / "examples" / example / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1) if example == "shell-worker" else text
    line = next(l for l in block.splitlines() if marker in l and not l.lstrip().startswith("#"))
    return re.sub(r"\s+#.*$", "", line).strip()


@pytest.mark.parametrize("example, marker, done_by", [
    ("python-worker", "worker.py --once", "completed t_"),
    ("shell-worker", "lane-worker.sh --tasks 1", "done: first widget"),
])
def test_the_first_command_of_an_example_runs_as_written(bridge, example, marker, done_by):
    token = bridge.register_lane("factory")
    task = bridge.admin("task.create", title="first widget", assignee="factory")["task"]["id"]
    line = readme_line(example, marker)
    env = clean_env(KANBAN_BRIDGE_ENDPOINT=bridge.command_endpoint, KANBAN_LANE="factory", KANBAN_LANE_TOKEN=token)
    env.pop("KANBAN_BRIDGE", None)
    env["PATH"] = PLAIN_PATH
    proc = subprocess.run(["/bin/sh", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{line}\nexited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    done = bridge.admin("task.get", task_id=task)["task"]
    assert done["status"] == "done", (line, done["status"], proc.stdout, proc.stderr)
    assert done_by in proc.stdout + proc.stderr + (done["result"] or ""), (proc.stdout, proc.stderr, done["result"])


def test_the_hermes_board_example_runs_as_written():
    line = next(l for l in (REPO / "examples" / "hermes-board" / "README.md").read_text().splitlines()
                if l.startswith("examples/hermes-board/run.sh"))
    line = re.sub(r"\s+#.*$", "", line).strip()
    env = clean_env()
    for name in ("HERMES", "KANBAN_BRIDGE", "HERMES_HOME"):
        env.pop(name, None)
    env["PATH"] = PLAIN_PATH
    proc = subprocess.run(["/bin/sh", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{line}\nexited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert "all four tasks done, as Hermes sees them" in proc.stdout, proc.stdout[-3000:]
