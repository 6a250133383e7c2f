"""The bridge and Hermes give up on a failing task at the same count, and `hermes kanban show` says the
limit the bridge applies (issue #25, finding 8). Hermes applies `kanban.failure_limit` from
$HERMES_HOME/config.yaml, else 2, to every task without its own `max_retries`; the bridge follows it by
default, and writes a different `--max-retries` on each task it claims."""
import json
import sqlite3

from conftest import Bridge, _start, _stop, wait_for
from test_hermes_sees import hermes_cli


def failing_pool(tmp_path, extra=(), hermes_config=None):
    home = tmp_path / "hermes-home"
    home.mkdir(exist_ok=True)
    if hermes_config:
        (home / "config.yaml").write_text(hermes_config)
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path, extra=extra, hermes_home=home)
    bridge = Bridge(cmd_ep, evt_ep, db, (tmp_path / "admin.token").read_text().strip(), log)
    # A worker that never starts: each claim ends `spawn_failed`, a failure by both tools' count.
    bridge.register_lane("brokenpool", kind="pool", max_concurrency=1, command=["/nonexistent/agent-cli"])
    return proc, bridge


def give_up(tmp_path, bridge):
    task = bridge.admin("task.create", title="never starts", assignee="brokenpool")["task"]["id"]
    wait_for(lambda: bridge.admin("task.get", task_id=task)["task"]["status"] == "blocked", "the task gives up")
    runs = bridge.admin("task.get", task_id=task)["task"]["runs"]
    events = [e for e in hermes_cli(tmp_path, bridge.db_path, "show", task, json_out=True)["events"] if e["kind"] == "gave_up"]
    payload = events[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    return task, len(runs), payload


def test_by_default_the_bridge_gives_up_where_hermes_would(tmp_path):
    proc, bridge = failing_pool(tmp_path)
    try:
        task, runs, gave_up = give_up(tmp_path, bridge)
    finally:
        _stop(proc)
    assert runs == 2 and gave_up["effective_limit"] == 2, (runs, gave_up)
    # Hermes' own show tells the same story: its default, 2, and the task gave up after 2 failures.
    assert "max-retries: 2" in hermes_cli(tmp_path, bridge.db_path, "show", task)


def test_hermes_configured_failure_limit_is_the_bridges_default(tmp_path):
    proc, bridge = failing_pool(tmp_path, hermes_config="kanban:\n  failure_limit: 4\n")
    try:
        task, runs, gave_up = give_up(tmp_path, bridge)
    finally:
        _stop(proc)
    assert runs == 4 and gave_up["effective_limit"] == 4, (runs, gave_up)
    assert "max-retries: 4" in hermes_cli(tmp_path, bridge.db_path, "show", task)


def test_a_different_bridge_limit_is_written_where_hermes_reads_it(tmp_path):
    proc, bridge = failing_pool(tmp_path, extra=("--max-retries", "3"))
    try:
        task, runs, gave_up = give_up(tmp_path, bridge)
        # Written at the claim, before any failure: Hermes' show never disagrees with the bridge.
        lane = bridge.register_lane("factory", max_concurrency=2)
        fresh = bridge.admin("task.create", title="claimed", assignee="factory")["task"]["id"]
        own = bridge.admin("task.create", title="its own limit", assignee="factory")["task"]["id"]
        db_write(bridge.db_path, "UPDATE tasks SET max_retries = 5 WHERE id = ?", own)
        for named in (fresh, own):
            assert bridge.call("claim", auth=lane, lane="factory", task_id=named)["ok"]
    finally:
        _stop(proc)
    assert runs == 3 and gave_up["effective_limit"] == 3 and gave_up["limit_source"] == "task", (runs, gave_up)
    assert "max-retries: 3 (task)" in hermes_cli(tmp_path, bridge.db_path, "show", task)
    assert "max-retries: 3 (task)" in hermes_cli(tmp_path, bridge.db_path, "show", fresh)
    # A task's own limit wins, and the bridge leaves it alone.
    assert "max-retries: 5 (task)" in hermes_cli(tmp_path, bridge.db_path, "show", own)


def db_write(db, sql, *args):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(sql, args)
    conn.close()
