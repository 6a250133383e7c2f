"""`kanban-bridge runner` on this host (loopback): a pool lane whose worker is any command, with its
exit statuses mapped to the claim's end, its output on the board, its slots reported, and SIGTERM
draining. The same runner on another host, over CURVE, is test_runner_two_hosts.py."""
import os
import signal
import subprocess
from pathlib import Path

from conftest import BIN, clean_env, wait_for

STANDIN = str(Path(__file__).parent / "stand-ins" / "agent-cli.sh")


def start_runner(bridge, lane, token, *extra, command=(STANDIN, "{title}: {body}"), env_extra=None, log=None):
    env = clean_env(KANBAN_LANE_TOKEN=token, **(env_extra or {}))
    out = open(log or bridge.log_path.with_name(f"runner-{lane}.log"), "ab")
    return subprocess.Popen([BIN, "runner", "--endpoint", bridge.command_endpoint, "--lane", lane,
                             "--workspace-root", str(bridge.db_path.parent / "runner-ws"), *extra, "--", *command],
                            env=env, stdout=out, stderr=out)


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(timeout=90)


def status(bridge, task):
    return bridge.admin("task.get", task_id=task)["task"]["status"]


def test_a_runner_runs_a_pool_and_maps_exit_statuses(bridge, tmp_path):
    token = bridge.register_lane("agents", max_concurrency=3)
    tasks = {what: bridge.admin("task.create", title=what, body=f"the {what} task", assignee="agents")["task"]["id"]
             for what in ("plain", "ratelimit", "crash", "needs-human", "chatty")}
    runner = start_runner(bridge, "agents", token, "--slots", "3", "--exit", "2=block")
    try:
        wait_for(lambda: status(bridge, tasks["plain"]) == "done", "the plain task completes")
        done = bridge.admin("task.get", task_id=tasks["plain"])["task"]
        # The result is the output's tail; the prompt had the title and the body ({title}: {body}).
        assert "agent: done: plain: the plain task" in done["result"], done
        wait_for(lambda: status(bridge, tasks["needs-human"]) == "blocked", "exit 2 blocks (by --exit)")
        wait_for(lambda: status(bridge, tasks["chatty"]) == "done", "the chatty task completes")
        # A crash counts a failure and is retried up to the failure limit (Hermes' 2), then gives up.
        wait_for(lambda: status(bridge, tasks["crash"]) == "blocked", "the crashing task gives up")
        crash_runs = bridge.admin("task.get", task_id=tasks["crash"])["task"]["runs"]
        assert [r["outcome"] for r in crash_runs] == ["crashed", "crashed"], crash_runs
        # 75 is "rate-limited": released with a wait, no failure counted.
        wait_for(lambda: bridge.admin("task.get", task_id=tasks["ratelimit"])["task"]["runs"], "the rate-limited task ran")
        limited = bridge.admin("task.get", task_id=tasks["ratelimit"])["task"]
        assert limited["status"] == "ready" and limited["runs"][0]["outcome"] == "released", limited
        assert limited.get("consecutive_failures", 0) == 0, limited
        # The runner is visible on its lane while it runs.
        lane = next(l for l in bridge.admin("lane.list")["lanes"] if l["name"] == "agents")
        assert len(lane["runners"]) == 1 and lane["runners"][0]["slots"] == 3, lane
        assert lane["runners"][0]["pid"] == runner.pid, lane
    finally:
        stop(runner)
    # The output reached the board's log in chunks, all of it (100 KiB > one chunk).
    # (read where the coordinator keeps worker logs: `task log` shows only the last 64 KiB)
    log = (bridge.db_path.parent / "kanban" / "logs" / f"{tasks['chatty']}.log").read_text()
    lines = [l for l in log.splitlines() if l.startswith("line ")]
    assert lines == [f"line {i}: " + "0123456789" * 5 + "01234" for i in range(1600)], "every line, once, in order"
    assert "line 1599:" in bridge.cli("task", "log", tasks["chatty"]).stdout
    assert f"=== run" in bridge.cli("task", "log", tasks["plain"]).stdout
    assert runner.returncode == 0


def test_sigterm_drains_then_releases_what_is_left(bridge, tmp_path):
    token = bridge.register_lane("slowlane", max_concurrency=2)
    gate = tmp_path / "gate"
    slow = bridge.admin("task.create", title="slow one", assignee="slowlane")["task"]["id"]
    runner = start_runner(bridge, "slowlane", token, "--drain-seconds", "1", env_extra={"STANDIN_GATE": str(gate)})
    try:
        wait_for(lambda: status(bridge, slow) == "running", "the slow task runs")
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)
    finally:
        stop(runner, signal.SIGKILL)
    task = bridge.admin("task.get", task_id=slow)["task"]
    # Past the drain deadline the worker was stopped and the task released: ready for another runner.
    assert task["status"] == "ready" and task["runs"][-1]["outcome"] == "released", task
    assert runner.returncode == 0


def test_a_runner_refuses_to_send_its_token_off_this_machine_in_clear(tmp_path):
    proc = subprocess.run([BIN, "runner", "--endpoint", "tcp://10.1.2.3:5555", "--lane", "x", "--", "true"],
                          env=clean_env(KANBAN_LANE_TOKEN="lt_x"), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "CURVE" in proc.stderr, proc.stderr
    proc = subprocess.run([BIN, "runner", "--lane", "x", "--", "true"], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "KANBAN_LANE_TOKEN" in proc.stderr, proc.stderr
