"""Each example worker (examples/) runs against a real coordinator and works a small task graph to the end."""
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import BIN, Bridge, clean_env, free_port, wait_for
from examples_support import EXAMPLES, Coordinator, assert_graph_done, create_graph, worker_env

PY_WORKER = EXAMPLES / "python-worker" / "worker.py"
SHELL_WORKER = EXAMPLES / "shell-worker" / "lane-worker.sh"
C_WORKER = EXAMPLES / "c-worker" / "worker.c"
SWIFT_WORKER = Path(BIN).parent / "kanban-example-swift-worker"  # built beside kanban-bridge


def run_worker(argv, env, timeout=120):
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{argv[0]} still running after {timeout} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}") from None
    assert proc.returncode == 0, f"{argv[0]} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


# Python (pyzmq)

def test_python_worker_completes_a_task_graph(bridge):
    token = bridge.register_lane("factory")
    graph = create_graph(bridge, "factory")
    out = run_worker([sys.executable, str(PY_WORKER), "--tasks", "4", "--wait-ms", "3000", "--work-seconds", "0.1"],
                     worker_env(bridge, "factory", token)).stdout
    assert out.count("completed t_") == 4, out
    assert_graph_done(bridge, graph)


def test_python_worker_on_a_watch_lane_claims_what_available_events_name(bridge):
    token = bridge.register_lane("docs", claim_mode="watch")
    graph = create_graph(bridge, "docs")
    out = run_worker([sys.executable, str(PY_WORKER), "--watch", "--tasks", "4", "--wait-ms", "3000",
                      "--work-seconds", "0.1"], worker_env(bridge, "docs", token)).stdout
    assert out.count("completed t_") == 4, out
    assert_graph_done(bridge, graph)


def test_python_worker_heartbeats_while_it_works(bridge):
    token = bridge.register_lane("factory", lease_seconds=1)  # the work outlasts the lease three times over
    task_id = bridge.admin("task.create", title="Slow widget", assignee="factory")["task"]["id"]
    run_worker([sys.executable, str(PY_WORKER), "--once", "--wait-ms", "3000", "--work-seconds", "3"],
               worker_env(bridge, "factory", token))
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "done" and [r["outcome"] for r in task["runs"]] == ["completed"]
    beats = [e for e in bridge.admin("events", since=0)["events"] if e["type"] == "heartbeat" and e["task_id"] == task_id]
    assert len(beats) >= 3, beats


def test_python_worker_finishes_the_graph_across_a_coordinator_kill(tmp_path):
    coordinator = Coordinator(tmp_path, f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}")
    coordinator.start()
    worker = None
    try:
        bridge = Bridge(coordinator.command_endpoint, coordinator.event_endpoint, coordinator.db,
                        (tmp_path / "admin.token").read_text().strip(), coordinator.log)
        token = bridge.register_lane("factory", lease_seconds=30)
        graph = create_graph(bridge, "factory")
        worker = subprocess.Popen([sys.executable, str(PY_WORKER), "--tasks", "4", "--wait-ms", "2000",
                                   "--work-seconds", "1.5"], env=worker_env(bridge, "factory", token),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []  # the worker's output so far, read on a thread so the test never blocks on it

        def read_output():
            for line in worker.stdout:
                lines.append(line)

        reader = threading.Thread(target=read_output, daemon=True)
        reader.start()
        first = wait_for(lambda: lines and lines[0], "the worker's first line")
        assert first.startswith("claimed "), first
        coordinator.kill()  # mid-task (the work takes 1.5 s): the worker will want to complete
        # Down until the worker has found no coordinator and is resending, with the same request_id.
        wait_for(lambda: any("no reply from" in line for line in lines), lambda: f"the worker notices: {lines}")
        coordinator.start()
        worker.wait(timeout=120)
        reader.join(timeout=30)
        out = "".join(lines)
        assert worker.returncode == 0, out
        assert out.count("completed t_") == 4, out
        assert_graph_done(bridge, graph)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        coordinator.stop()


# POSIX shell around `kanban-bridge claim --format shell`

def test_shell_worker_completes_a_task_graph_with_the_commands_output(bridge):
    token = bridge.register_lane("factory")
    graph = create_graph(bridge, "factory")
    # The "agent": prints what it was given. A quote in a title must arrive intact.
    command = ["sh", "-c", 'printf "did %s (run %s)\\n" "$KANBAN_TASK_TITLE" "$KANBAN_RUN_ID"']
    proc = run_worker(["sh", str(SHELL_WORKER), "--tasks", "4", "--wait-ms", "3000", "--", *command],
                      worker_env(bridge, "factory", token))
    assert proc.stderr.count("completed t_") == 4, proc.stderr
    assert_graph_done(bridge, graph)
    parent = bridge.admin("task.get", task_id=graph["parent"])["task"]
    assert parent["result"] == f"did Design the widget (run {parent['runs'][0]['id']})\n"


def test_shell_worker_blocks_a_task_whose_command_fails_and_survives_hostile_titles(bridge):
    token = bridge.register_lane("factory")
    title = "it's $(touch pwned) `touch pwned2` \"q\" \\ \n second line"
    task_id = bridge.admin("task.create", title=title, assignee="factory", body="body with 'quotes'")["task"]["id"]
    # The command checks it got the title and body verbatim, then fails on purpose.
    check = ('[ "$KANBAN_TASK_TITLE" = "$EXPECTED" ] && [ "$(cat)" = "body with \'quotes\'" ] || exit 9; '
             'echo "could not do it" >&2; exit 4')
    env = worker_env(bridge, "factory", token, EXPECTED=title)
    proc = subprocess.run(["sh", str(SHELL_WORKER), "--tasks", "1", "--wait-ms", "3000", "--", "sh", "-c", check],
                          env=env, capture_output=True, text=True, timeout=60, cwd=bridge.db_path.parent)
    assert proc.returncode == 0, proc.stderr
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "blocked", task
    assert task["runs"][-1]["error"].startswith("exit 4: could not do it"), task["runs"][-1]
    assert not (bridge.db_path.parent / "pwned").exists() and not (bridge.db_path.parent / "pwned2").exists()


def test_claim_format_shell_quotes_every_value_for_eval(bridge):
    token = bridge.register_lane("factory", max_concurrency=2)
    title = "a'b \"c\" $HOME `id` \\n ; exit 1"
    bridge.admin("task.create", title=title, assignee="factory", body="x\ny'")
    out = bridge.cli("claim", "--lane", "factory", "--format", "shell", token=token).stdout
    printed = subprocess.run(["sh", "-c", out + '\nprintf "%s|%s|%s" "$KANBAN_TASK_TITLE" "$KANBAN_TASK_BODY" "$KANBAN_TASK"'],
                             capture_output=True, text=True, check=True).stdout
    title_out, body_out, task_id = printed.split("|")
    assert (title_out, body_out) == (title, "x\ny'") and task_id.startswith("t_")
    nothing = bridge.cli("claim", "--lane", "factory", "--format", "shell", token=token, check=False)
    assert (nothing.returncode, nothing.stdout) == (3, "")  # nothing left: exit 3, nothing to eval


def test_shell_worker_heartbeats_while_a_slow_command_runs(bridge):
    token = bridge.register_lane("factory", lease_seconds=3)  # the command outlasts the lease
    task_id = bridge.admin("task.create", title="Slow widget", assignee="factory")["task"]["id"]
    run_worker(["sh", str(SHELL_WORKER), "--tasks", "1", "--wait-ms", "3000", "--", "sh", "-c", "sleep 4; echo ok"],
               worker_env(bridge, "factory", token))
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "done" and [r["outcome"] for r in task["runs"]] == ["completed"], task
    beats = [e for e in bridge.admin("events", since=0)["events"] if e["type"] == "heartbeat" and e["task_id"] == task_id]
    assert len(beats) >= 2, beats


# C against libzmq

@pytest.fixture(scope="module")
def c_worker(tmp_path_factory):
    cc = shutil.which("cc")
    assert cc, "no C compiler: scripts/setup installs gcc"
    binary = tmp_path_factory.mktemp("c-worker") / "worker"
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(C_WORKER), "-lzmq", "-lpthread"],
                   check=True, capture_output=True, text=True)
    return binary


def test_c_worker_completes_a_task_graph(bridge, c_worker):
    token = bridge.register_lane("factory")
    graph = create_graph(bridge, "factory")
    out = run_worker([str(c_worker), "--tasks", "4", "--wait-ms", "3000", "--work-ms", "100"],
                     worker_env(bridge, "factory", token)).stdout
    assert out.count("completed t_") == 4, out
    assert_graph_done(bridge, graph)


def test_c_worker_reads_and_writes_escaped_strings_exactly(bridge, c_worker):
    token = bridge.register_lane("factory")
    title = 'quote " backslash \\ slash / tab \t newline \n ünïcødé 🦀 {"json":[1,2]}'
    task_id = bridge.admin("task.create", title=title, assignee="factory")["task"]["id"]
    run_worker([str(c_worker), "--tasks", "1", "--wait-ms", "3000", "--work-ms", "10"], worker_env(bridge, "factory", token))
    assert bridge.admin("task.get", task_id=task_id)["task"]["result"] == "processed " + title


def test_c_worker_heartbeats_while_it_works(bridge, c_worker):
    token = bridge.register_lane("factory", lease_seconds=1)
    task_id = bridge.admin("task.create", title="Slow widget", assignee="factory")["task"]["id"]
    run_worker([str(c_worker), "--tasks", "1", "--wait-ms", "3000", "--work-ms", "2500"], worker_env(bridge, "factory", token))
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "done" and [r["outcome"] for r in task["runs"]] == ["completed"], task


def test_c_worker_exits_idle_when_no_work_comes(bridge, c_worker):
    token = bridge.register_lane("factory")
    out = run_worker([str(c_worker), "--idle-exit", "--wait-ms", "200"], worker_env(bridge, "factory", token)).stdout
    assert "no task for lane factory" in out


# Swift with KanbanClient's LaneWorker (the kanban-example-swift-worker product)

@pytest.fixture(scope="module")
def swift_worker():
    assert SWIFT_WORKER.exists(), f"{SWIFT_WORKER} is missing: run `swift build` (scripts/setup does)"
    return SWIFT_WORKER


def test_swift_worker_completes_a_task_graph(bridge, swift_worker):
    token = bridge.register_lane("factory")
    graph = create_graph(bridge, "factory")
    out = run_worker([str(swift_worker), "--tasks", "4", "--wait-ms", "3000", "--work-ms", "100"],
                     worker_env(bridge, "factory", token)).stdout
    assert out.count("finished t_") == 4, out
    assert_graph_done(bridge, graph)
    parent = bridge.admin("task.get", task_id=graph["parent"])["task"]
    assert parent["result"] == "processed Design the widget"


def test_swift_worker_blocks_a_task_its_handler_fails(bridge, swift_worker):
    token = bridge.register_lane("factory")
    task_id = bridge.admin("task.create", title="Please fail", assignee="factory")["task"]["id"]
    run_worker([str(swift_worker), "--tasks", "1", "--wait-ms", "3000", "--work-ms", "10"], worker_env(bridge, "factory", token))
    task = bridge.admin("task.get", task_id=task_id)["task"]
    assert task["status"] == "blocked" and task["runs"][-1]["error"] == "the task asked to fail", task


# A Hermes board: Hermes makes it and plans the work, the bridge serves it, Hermes sees it done

def test_hermes_board_example_runs_end_to_end(tmp_path):
    hermes = Path(sys.executable).parent / "hermes"
    home = tmp_path / "hermes-home"
    home.mkdir()
    env = clean_env(HERMES=str(hermes), KANBAN_BRIDGE=BIN, HERMES_HOME=str(home),
                    BRIDGE_COMMAND_ENDPOINT=f"tcp://127.0.0.1:{free_port()}",
                    BRIDGE_EVENT_ENDPOINT=f"tcp://127.0.0.1:{free_port()}")
    proc = run_worker(["sh", str(EXAMPLES / "hermes-board" / "run.sh")], env)
    assert "all four tasks done, as Hermes sees them" in proc.stdout, proc.stdout
    # Ask Hermes again, independently of the script: four done tasks, each with one completed run.
    listed = subprocess.run([str(hermes), "kanban", "list", "--json"], env=env, capture_output=True, text=True, check=True)
    tasks = json.loads(listed.stdout)
    assert sorted(t["status"] for t in tasks) == ["done"] * 4, tasks
    for t in tasks:
        runs = json.loads(subprocess.run([str(hermes), "kanban", "runs", t["id"], "--json"], env=env, capture_output=True,
                                         text=True, check=True).stdout)
        assert [(r["status"], r["outcome"], r["profile"]) for r in runs] == [("done", "completed", "builder")], runs
