"""`kanban-bridge complete --claim-next`: the README recommends claim_next, and the CLI can ask for it
(issue #25, finding 9). A shell worker loops on it: one round trip per task."""
import shlex


def exports(text):
    """The KANBAN_… variables of `--format shell` output."""
    return {k: v for k, _, v in (shlex.split(line)[1].partition("=") for line in text.splitlines() if line.startswith("export "))}


def test_complete_with_claim_next_hands_over_the_next_task_and_says_when_there_is_none(bridge):
    token = bridge.register_lane("factory")
    first = bridge.admin("task.create", title="first", assignee="factory", priority=5)["task"]["id"]
    second = bridge.admin("task.create", title="second", assignee="factory")["task"]["id"]
    claimed = exports(bridge.cli("claim", "--lane", "factory", "--format", "shell", token=token).stdout)
    assert claimed["KANBAN_TASK"] == first

    done = bridge.cli("complete", "--task", first, "--claim-token", claimed["KANBAN_CLAIM_TOKEN"], "--result", "ok",
                      "--claim-next", "--format", "shell", token=token)
    following = exports(done.stdout)
    assert following["KANBAN_TASK"] == second and following["KANBAN_CLAIM_TOKEN"].startswith("ct_")
    assert bridge.admin("task.get", task_id=first)["task"]["status"] == "done"
    assert bridge.admin("task.get", task_id=second)["task"]["status"] == "running"

    last = bridge.cli("complete", "--task", second, "--claim-token", following["KANBAN_CLAIM_TOKEN"], "--claim-next",
                      token=token, check=False)
    assert last.returncode == 3, (last.returncode, last.stderr)
    assert "nothing more to claim" in last.stderr
    assert bridge.admin("task.get", task_id=second)["task"]["status"] == "done", "the completion went through"
