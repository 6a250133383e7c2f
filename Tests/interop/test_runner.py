"""`kanban-bridge runner` on this host (loopback): a pool lane whose worker is any command, with its
exit statuses mapped to the claim's end, its output on the board, its slots reported, and SIGTERM
draining. The same runner on another host, over CURVE, is test_runner_two_hosts.py."""
import os
import signal
import subprocess
import sys
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
        assert f"pid {runner.pid}: " in bridge.cli("lanes", "list").stdout
        assert f"runner  agents  " in bridge.cli("stats").stdout
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


def test_a_lanes_max_concurrency_holds_across_its_runners(bridge, tmp_path):
    token = bridge.register_lane("shared", max_concurrency=3)
    gate = tmp_path / "gate"
    tasks = [bridge.admin("task.create", title=f"slow {i}", assignee="shared")["task"]["id"] for i in range(6)]
    runners = [start_runner(bridge, "shared", token, "--slots", "3", env_extra={"STANDIN_GATE": str(gate)},
                            log=tmp_path / f"runner-{i}.log") for i in range(2)]
    most = 0

    def three_running_both_runners_reported():
        nonlocal most
        lane = next(l for l in bridge.admin("lane.list")["lanes"] if l["name"] == "shared")
        most = max(most, lane["running"])
        return lane["running"] == 3 and len(lane["runners"]) == 2
    try:
        wait_for(three_running_both_runners_reported, "three tasks run, both runners reported")
        gate.touch()
        wait_for(lambda: all(status(bridge, t) == "done" for t in tasks), "all six done")
    finally:
        for r in runners:
            stop(r)
    # Six slots on two hosts, three on the lane: the coordinator never let more than three run.
    assert most == 3
    assert all(len(bridge.admin("task.get", task_id=t)["task"]["runs"]) == 1 for t in tasks)


def test_a_runner_takes_its_lanes_from_the_file_serve_reads(tmp_path):
    from test_config import serve_with
    config = tmp_path / "bridge.yaml"
    config.write_text(f"""workers:
  agents:
    mode: pool
    runner: true
    max_concurrency: 2
    command: ["{STANDIN}", "{{title}}"]
    workspace_policy: scratch
""")
    proc, bridge = serve_with(tmp_path, config)
    runner = None
    try:
        # Registered for runners: the coordinator itself never spawns it.
        lane = next(l for l in bridge.admin("lane.list")["lanes"] if l["name"] == "agents")
        assert (lane["kind"], lane["max_concurrency"]) == ("persistent", 2), lane
        token = bridge.admin("lane.rotate-token", name="agents")["token"]
        task = bridge.admin("task.create", title="from the file", assignee="agents")["task"]["id"]
        env = clean_env(KANBAN_LANE_TOKEN=token)
        out = open(tmp_path / "runner.log", "ab")
        runner = subprocess.Popen([BIN, "runner", "--config", str(config), "--endpoint", bridge.command_endpoint,
                                   "--workspace-root", str(tmp_path / "ws")], env=env, stdout=out, stderr=out)
        wait_for(lambda: status(bridge, task) == "done", "the runner completes the task")
        result = bridge.admin("task.get", task_id=task)["task"]["result"]
        assert f"workspace {tmp_path}/ws/agents/" in result, result  # a scratch directory on the runner's host
        # The runner's output is where Hermes keeps worker logs: Hermes' own `kanban log` shows it.
        env = clean_env(HERMES_HOME=str(tmp_path))
        for key in ("HERMES_KANBAN_HOME", "HERMES_KANBAN_DB", "HERMES_PROFILE"):
            env.pop(key, None)
        hermes = Path(sys.executable).parent / "hermes"
        out = subprocess.run([str(hermes), "kanban", "log", task], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "agent: done: from the file" in out.stdout, (out.stdout, out.stderr)
    finally:
        if runner:
            stop(runner)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_restarted_runner_stops_the_workers_its_killed_predecessor_left(bridge, tmp_path):
    token = bridge.register_lane("orphans", max_concurrency=1, lease_seconds=3)
    gate, pids = tmp_path / "gate", tmp_path / "pids"
    task = bridge.admin("task.create", title="slow work", assignee="orphans")["task"]["id"]
    env = {"STANDIN_GATE": str(gate), "STANDIN_PIDS": str(pids)}
    first = start_runner(bridge, "orphans", token, env_extra=env, log=tmp_path / "first.log")
    wait_for(lambda: pids.exists() and pids.read_text().strip(), "the worker started")
    worker = int(pids.read_text().split()[1])
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert alive(worker), "a worker outlives its runner's kill -9"
    second = start_runner(bridge, "orphans", token, env_extra=env, log=tmp_path / "second.log")
    try:
        wait_for(lambda: not alive(worker), "the new runner stops the old worker")
        assert "stopping a worker an earlier runner left running" in (tmp_path / "second.log").read_text()
        gate.touch()
        wait_for(lambda: status(bridge, task) == "done", "the task runs again, once, and completes")
        outcomes = [r["outcome"] for r in bridge.admin("task.get", task_id=task)["task"]["runs"]]
        assert outcomes[0] == "timed_out" and outcomes[-1] == "completed" and outcomes.count("completed") == 1, outcomes
    finally:
        stop(second)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_task_whose_body_is_longer_than_exec_takes_still_runs(bridge):
    # Linux refuses an argument or environment string over 128 KiB; the body (in {body} and in
    # KANBAN_TASK_BODY) is cut to 64 KiB with a note instead of the worker never starting.
    token = bridge.register_lane("bigbody", max_concurrency=1)
    task = bridge.admin("task.create", title="big", body="x" * 200_000, assignee="bigbody")["task"]["id"]
    runner = start_runner(bridge, "bigbody", token)
    try:
        wait_for(lambda: status(bridge, task) in ("done", "blocked"), "the task ends")
    finally:
        stop(runner)
    t = bridge.admin("task.get", task_id=task)["task"]
    assert t["status"] == "done", t["runs"]
    assert "the task's text is 200000 bytes" in t["result"], t["result"][-300:]


def test_the_runners_ops_answer_bad_input_with_a_code_and_the_coordinator_serves_on(bridge):
    token = bridge.register_lane("strict", max_concurrency=1)
    bridge.admin("task.create", title="t", assignee="strict")
    claim = bridge.call("claim", auth=token, lane="strict")["result"]
    ref = {"task_id": claim["task"]["id"], "claim_token": claim["claim"]["token"]}
    bad = [
        ("log.append", dict(ref)),                                         # no chunk
        ("log.append", dict(ref, chunk="x" * 40_000)),                     # over 32 KiB
        ("log.append", dict(ref, chunk=7)),                                # not a string
        ("fail", dict(ref, exit_code=999)),
        ("fail", dict(ref, signal=0)),
        ("release", dict(ref, retry_after_seconds=0)),
        ("release", dict(ref, retry_after_seconds=86_401)),
        ("runner.report", dict(lane="../x", runner_id="r", host="h")),
        ("runner.report", dict(lane="strict", runner_id="r", host="h", running=["t"] * 300)),
        ("runner.report", dict(lane="strict", host="h")),                  # no runner_id
    ]
    for op, fields in bad:
        reply = bridge.call(op, auth=token, request_id=f"bad-{op}-{len(str(fields))}", **fields)
        assert reply["error"]["code"] == "bad_request", (op, fields, reply)
    # Another lane's runners are not this lane's to report.
    other = bridge.register_lane("other")
    assert bridge.call("runner.report", auth=other, lane="strict", runner_id="r", host="h")["error"]["code"] == "forbidden"
    # The claim is intact and the coordinator serves on.
    assert bridge.call("heartbeat", auth=token, request_id="hb", **ref)["ok"]
    assert bridge.call("log.append", auth=token, request_id="ok-chunk", chunk="fine\n", **ref)["ok"]
