"""serve --config: a YAML file declares lanes and pools. The coordinator registers them, spawns the pool's
workers, shows where the board has drifted from the file, and refuses a bad file with its line."""
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import BIN, Bridge, _start, _stop, assert_no_secrets, clean_env, wait_for

CONFIG = """\
# lanes for the interop test
workers:
  factory: { mode: persistent, claim_mode: pull-or-watch, max_concurrency: 2 }
  shellpool:
    mode: pool
    max_concurrency: 2
    workspace_policy: scratch
    command: ["/bin/sh", "-c", "echo working on {task_id}; exec \\"$KANBAN_BRIDGE_BIN\\" complete --result ok"]
"""


def hanging_first_run_pool(tmp_path, lane, pids, max_concurrency, ignore_term=False):
    """A config with one pool whose worker, on a task's first run, writes its pid to `pids/<task>` and
    hangs (ignoring SIGTERM if asked); any later run completes the task with result `second-run`."""
    pids.mkdir()
    trap = 'trap "" TERM; ' if ignore_term else ""
    script = (f'if [ ! -e {pids}/$KANBAN_TASK ]; then {trap}echo $$ > {pids}/$KANBAN_TASK; exec sleep 120; fi; '
              'exec "$KANBAN_BRIDGE_BIN" complete --result second-run')
    config = tmp_path / "bridge.yaml"
    config.write_text(f"workers:\n  {lane}:\n    mode: pool\n    max_concurrency: {max_concurrency}\n"
                      "    command: [\"/bin/sh\", \"-c\", " + json.dumps(script) + "]\n")
    return config


def serve_with(tmp_path, config):
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path, extra=("--config", str(config)))
    token = (tmp_path / "admin.token").read_text().strip()
    return proc, Bridge(cmd_ep, evt_ep, db, token, log)


def test_a_config_with_a_typo_is_refused_with_file_line_and_reason(tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n  factory:\n    mode: persistent\n    max_concurency: 2\n")
    proc = subprocess.run([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--config", str(config)],
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert f"{config}:4:5: unknown setting 'max_concurency'" in proc.stderr, proc.stderr
    assert not (tmp_path / "kanban.db").exists(), "nothing is created from a refused config"


def test_declared_pool_runs_its_tasks_and_the_board_is_diffed_against_the_file(tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text(CONFIG)
    proc, bridge = serve_with(tmp_path, config)
    try:
        assert "registered lanes match" in bridge.cli("lanes", "diff", "--config", str(config)).stdout
        lanes = {l["name"]: l for l in bridge.admin("lane.list")["lanes"]}
        assert (lanes["factory"]["kind"], lanes["factory"]["max_concurrency"]) == ("persistent", 2)
        assert (lanes["shellpool"]["kind"], lanes["shellpool"]["max_concurrency"]) == ("pool", 2)

        ids = [bridge.admin("task.create", title=f"job {i}", assignee="shellpool")["task"]["id"] for i in range(3)]
        held = bridge.admin("task.create", title="for the persistent lane", assignee="factory")["task"]["id"]
        wait_for(lambda: all(bridge.admin("task.get", task_id=t)["task"]["status"] == "done" for t in ids))
        assert bridge.admin("task.get", task_id=held)["task"]["status"] == "ready", "persistent lanes are never spawned"
        log = bridge.cli("task", "log", ids[0]).stdout
        assert f"working on {ids[0]}" in log, log

        bridge.cli("lanes", "update", "shellpool", "--max-concurrency", "3")
        drift = bridge.cli("lanes", "diff", "--config", str(config), check=False)
        assert drift.returncode == 1
        assert "~ shellpool: max_concurrency: 2 (registered: 3)" in drift.stdout, drift.stdout
    finally:
        _stop(proc)

    # A restart applies the file again: the declared state wins over the hand-made change.
    proc, bridge = serve_with(tmp_path, config)
    try:
        assert bridge.cli("lanes", "diff", "--config", str(config)).returncode == 0
        assert bridge.admin("lane.get", name="shellpool")["lane"]["max_concurrency"] == 2
    finally:
        _stop(proc)
    assert_no_secrets(bridge.log_path, known=[bridge.admin_token])


def test_after_a_kill_dash_nine_orphaned_workers_are_stopped_and_their_tasks_run_again(tmp_path):
    """A crashed coordinator leaves its spawned workers running unsupervised. The restarted one stops
    them (it checks the process really is that run's worker) and takes their tasks back, so no task
    runs twice at once; the task then runs again and completes."""
    marker = tmp_path / "first-run-started"
    config = tmp_path / "bridge.yaml"
    # The first run writes its pid and hangs; any later run completes the task.
    script = (f'if [ ! -e {marker} ]; then echo $$ > {marker}; exec sleep 60; fi; '
              'exec "$KANBAN_BRIDGE_BIN" complete --result second-run')
    config.write_text("workers:\n  slow:\n    mode: spawn\n    command: [\"/bin/sh\", \"-c\", " + json.dumps(script) + "]\n")
    proc, bridge = serve_with(tmp_path, config)
    task = bridge.admin("task.create", title="survive a crash", assignee="slow")["task"]["id"]
    wait_for(lambda: marker.exists() and marker.read_text().strip())
    orphan = int(marker.read_text())
    proc.kill()  # SIGKILL: no shutdown, the worker is left behind
    proc.wait()
    assert process_alive(orphan), "the worker outlived its coordinator"

    proc, bridge = serve_with(tmp_path, config)
    try:
        wait_for(lambda: not process_alive(orphan))
        wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "done")
        shown = bridge.admin("task.get", task_id=task)["task"]
        assert shown["result"] == "second-run"
        outcomes = [r["outcome"] for r in shown["runs"]]
        assert outcomes[0] == "reclaimed" and outcomes[-1] == "completed", outcomes
        assert "took back a spawned task left over from a crash" in bridge.log_path.read_text()
    finally:
        _stop(proc)


def test_restart_answers_first_while_orphans_that_ignore_sigterm_are_stopped(tmp_path):
    """Stopping an orphan that ignores SIGTERM takes the grace period (5 s) before SIGKILL. The
    dispatcher does that on its own threads, so the restarted coordinator answers its first request
    while all three orphans are still alive, and takes their tasks back once they are gone."""
    pids = tmp_path / "pids"
    config = hanging_first_run_pool(tmp_path, "stubborn", pids, max_concurrency=3, ignore_term=True)
    proc, bridge = serve_with(tmp_path, config)
    tasks = [bridge.admin("task.create", title=f"stubborn {i}", assignee="stubborn")["task"]["id"] for i in range(3)]
    wait_for(lambda: all((pids / t).exists() and (pids / t).read_text().strip() for t in tasks))
    # An orphan is a worker whose start the coordinator recorded (its `spawned` event, with the pid)
    # before it crashed: wait for those commits too, or the kill can land between a worker's first
    # line and the record of its start (seen once under the full suite's load).
    def spawned():
        events = bridge.admin("events", since=0, limit=10000)["events"]
        return {e["task_id"] for e in events if e["type"] == "spawned"} >= set(tasks)
    wait_for(spawned)
    orphans = [int((pids / t).read_text()) for t in tasks]
    proc.kill()
    proc.wait()
    assert all(process_alive(p) for p in orphans)

    proc, bridge = serve_with(tmp_path, config)  # returns as soon as a ping is answered
    try:
        still = [p for p in orphans if process_alive(p)]
        assert still == orphans, "the first request was answered before any orphan had to be killed"
        assert bridge.admin("task.list")["tasks"], "reads are answered during recovery"
        wait_for(lambda: not any(process_alive(p) for p in orphans))
        wait_for(lambda: all(bridge.admin("task.get", task_id=t)["task"]["status"] == "done" for t in tasks))
        for t in tasks:
            outcomes = [r["outcome"] for r in bridge.admin("task.get", task_id=t)["task"]["runs"]]
            assert outcomes[0] == "reclaimed" and outcomes[-1] == "completed", outcomes
        assert "stopped with SIGKILL" in bridge.log_path.read_text()
    finally:
        _stop(proc)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[-1].split()[0] != "Z"


def test_hermes_kanban_log_prints_a_pool_workers_output(tmp_path):
    """A spawned worker's output goes where Hermes keeps the board's worker logs, so Hermes' own
    `hermes kanban log T` shows it (the board in Hermes' layout: HERMES_HOME holds kanban.db)."""
    config = tmp_path / "bridge.yaml"
    config.write_text(CONFIG)
    proc, bridge = serve_with(tmp_path, config)
    try:
        task = bridge.admin("task.create", title="logged", assignee="shellpool")["task"]["id"]
        wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "done")
        hermes = Path(sys.executable).parent / "hermes"
        env = clean_env(HERMES_HOME=str(tmp_path))
        for key in ("HERMES_KANBAN_HOME", "HERMES_KANBAN_DB", "HERMES_PROFILE"):
            env.pop(key, None)
        out = subprocess.run([str(hermes), "kanban", "log", task], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and f"working on {task}" in out.stdout, (out.stdout, out.stderr)
        assert f"working on {task}" in bridge.cli("task", "log", task).stdout
    finally:
        _stop(proc)


def test_pool_workers_show_alive_in_hermes_and_a_hermes_reclaim_stops_them(tmp_path):
    """A spawned worker's pid is in worker_pid, so Hermes' dashboard lists it among active workers.
    Hermes never signals it (the bridge's lock is not its host's): when a person reclaims the task with
    Hermes' CLI, the coordinator stops the worker itself, and the task runs again."""
    marks = tmp_path / "marks"
    config = hanging_first_run_pool(tmp_path, "pool", marks, max_concurrency=2)
    proc, bridge = serve_with(tmp_path, config)
    try:
        task = bridge.admin("task.create", title="watched by Hermes", assignee="pool")["task"]["id"]
        wait_for(lambda: (marks / task).exists() and (marks / task).read_text().strip())
        pid = int((marks / task).read_text())
        env = clean_env(HERMES_HOME=str(tmp_path))
        for key in ("HERMES_KANBAN_HOME", "HERMES_KANBAN_DB", "HERMES_PROFILE"):
            env.pop(key, None)
        active = subprocess.run([sys.executable, "-c", (
            "import json; from plugins.kanban.dashboard.plugin_api import list_active_workers as f; "
            "print(json.dumps(f(board=None)))")], env=env, capture_output=True, text=True, timeout=60)
        assert active.returncode == 0, active.stderr
        workers = json.loads(active.stdout.strip().splitlines()[-1])["workers"]
        assert [(w["task_id"], w["worker_pid"]) for w in workers] == [(task, pid)], workers

        hermes = Path(sys.executable).parent / "hermes"
        out = subprocess.run([str(hermes), "kanban", "reclaim", task, "--reason", "a person took it back"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (out.stdout, out.stderr)
        wait_for(lambda: not process_alive(pid))
        wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "done")
        runs = bridge.admin("task.get", task_id=task)["task"]["runs"]
        assert [r["outcome"] for r in runs] == ["reclaimed", "completed"], runs
        assert "stopping a worker whose run was taken back" in bridge.log_path.read_text()
    finally:
        _stop(proc)
