"""Why a lane or a run cannot work is on the surface (issue #25, findings 1 and 2): `serve` and `doctor`
refuse a declared lane that cannot run here, workers find the coordinator's own CLI, `task show` names a
run's lane and its error, and `task log` says why a run has no output."""
import os
import subprocess

from conftest import BIN, _stop, clean_env, wait_for
from test_config import serve_with


def test_a_pool_whose_worker_cannot_start_shows_why(bridge):
    # Registered over the wire: `serve --config` would refuse this lane at start (LaneRunnability).
    bridge.register_lane("brokenpool", kind="pool", max_concurrency=1, command=["/nonexistent/agent-cli", "{task_id}"])
    task = bridge.admin("task.create", title="never starts", assignee="brokenpool")["task"]["id"]
    wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "blocked", "the task gives up")
    shown = bridge.cli("task", "show", task).stdout
    assert "spawn_failed  lane brokenpool" in shown, shown
    assert "error: " in shown and "/nonexistent/agent-cli" in shown, shown
    log = bridge.cli("task", "log", task).stdout
    # Hermes' default failure limit (2), which the bridge follows (finding 8).
    assert log.count("did not start: cannot start /nonexistent/agent-cli") == 2, log
    # stats over the wire counts the two failed runs once each, and the give-up apart (finding 7).
    lane = next(l for l in bridge.admin("stats", window_seconds=3600)["lanes"] if l["lane"] == "brokenpool")
    assert (lane["failed_runs"], lane["window"]["spawn_failed"], lane["window"]["gave_up"]) == (2, 2, 1), lane


def test_serve_and_doctor_refuse_a_declared_lane_that_cannot_run_here(tmp_path):
    """Issue #25, finding 1: a pool on a repository that does not exist, or with a program its workers
    cannot find, is refused at start with file:line, and doctor says the same."""
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n"
                      "  ok-pool: { mode: pool, command: [\"/bin/sh\", \"-c\", \"true\"] }\n"
                      "  wt-pool:\n    mode: pool\n    workspace_policy: worktree-per-task\n"
                      f"    repo: {tmp_path}/no-such-repo\n"
                      "    command: [\"no-such-agent-cli\", \"{task_id}\"]\n")
    serve = subprocess.run([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--config", str(config)],
                           env=clean_env(), capture_output=True, text=True, timeout=30)
    assert serve.returncode == 2, serve.stderr
    assert f"{config}:6:11: lane 'wt-pool': repo {tmp_path}/no-such-repo does not exist" in serve.stderr, serve.stderr
    assert f"{config}:7:14: lane 'wt-pool': command 'no-such-agent-cli' is not found" in serve.stderr, serve.stderr
    assert "ok-pool" not in serve.stderr
    assert not (tmp_path / "kanban.db").exists(), "nothing is created from a refused config"
    doctor = subprocess.run([BIN, "doctor", "--no-sockets", "--db", str(tmp_path / "kanban.db"), "--config", str(config)],
                            env=clean_env(), capture_output=True, text=True, timeout=30)
    assert doctor.returncode == 1 and doctor.stdout.count("lane cannot run") == 2, doctor.stdout


def test_task_log_of_a_task_without_a_log_says_why(bridge):
    bridge.register_lane("factory")
    task = bridge.admin("task.create", title="waits", assignee="factory")["task"]["id"]
    log = bridge.cli("task", "log", task, check=False)
    assert log.returncode == 5 and "it has not run yet" in log.stderr, log.stderr


def test_a_pool_command_finds_the_coordinators_own_cli_on_its_path(tmp_path):
    """Issue #25, finding 1: `exec kanban-bridge complete` in a pool command failed with `not found`
    unless the CLI was installed on PATH. Workers get the coordinator's own directory first on PATH."""
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n  shellpool:\n    mode: pool\n    max_concurrency: 1\n    workspace_policy: scratch\n"
                      "    command: [\"/bin/sh\", \"-c\", \"unset KANBAN_BRIDGE_BIN; "
                      "echo found $(command -v kanban-bridge); exec kanban-bridge complete --result via-path\"]\n")
    proc, bridge = serve_with(tmp_path, config)
    try:
        task = bridge.admin("task.create", title="complete by PATH", assignee="shellpool")["task"]["id"]
        done = wait_for(lambda: (t := bridge.admin("task.get", task_id=task)["task"])["status"] in ("done", "blocked") and t,
                        "the pool's worker ends the task")
        assert (done["status"], done["result"]) == ("done", "via-path"), bridge.cli("task", "log", task).stdout
        assert f"found {os.path.realpath(BIN)}" in bridge.cli("task", "log", task).stdout
    finally:
        _stop(proc)
