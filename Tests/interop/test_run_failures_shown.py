"""Why a run failed is on the surface (issue #25, finding 2): `task show` names the run's lane and its
error, and `task log` of a task whose runs failed before writing anything says so, with the reason."""
import os

from conftest import BIN, _stop, wait_for
from test_config import serve_with


def test_a_pool_whose_worker_cannot_start_shows_why(tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n  brokenpool:\n    mode: pool\n    max_concurrency: 1\n"
                      "    command: [\"/nonexistent/agent-cli\", \"{task_id}\"]\n")
    proc, bridge = serve_with(tmp_path, config)
    try:
        task = bridge.admin("task.create", title="never starts", assignee="brokenpool")["task"]["id"]
        wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "blocked", "the task gives up")
        shown = bridge.cli("task", "show", task).stdout
        assert "spawn_failed  lane brokenpool" in shown, shown
        assert "error: " in shown and "/nonexistent/agent-cli" in shown, shown

        log = bridge.cli("task", "log", task).stdout
        assert log.count("did not start: cannot start /nonexistent/agent-cli") == 3, log
    finally:
        _stop(proc)


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
