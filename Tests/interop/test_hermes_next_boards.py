"""Boards as newer Hermes leaves them (issue #23). Only hermes-agent 0.19.0 installs here, so each board
starts as Hermes 0.19 makes it (its own `init_db`), then gets the ALTER TABLEs newer Hermes applies when it
opens the board, in its migration order. On each shape: the bridge's whole lane lifecycle, a pool, Hermes
0.19's CLI, and Hermes' columns the bridge does not know keep their values through the bridge's writes."""
import sqlite3

import pytest

from conftest import BIN, Bridge, _start, _stop, error_code, ok, wait_for
from test_hermes_sees import hermes_cli, hermes_py

# What newer Hermes appends to a 0.19 board, copied from its source (github.com/NousResearch/hermes-agent,
# main, hermes_cli/kanban_db_connect.py `_migrate_add_optional_columns`): the `_LATER_TASK_COLUMNS` a 0.19
# board lacks (provider_override, reasoning_effort, completion_contract, in that tuple's order), then the
# `_NOTIFY_SUB_COLUMNS` it lacks (notifier_profile is 0.19's already) with the one-shot `delivery_mode`
# backfill. `worker_started_at` holds the dispatcher's spawn fingerprint ("<epoch>|<start>" or
# "unverified", kanban_db_dispatch.py `_set_worker_pid`): on task_runs from 0.21, on tasks from main.
V0_21 = [
    ("tasks", "provider_override TEXT"),
    ("tasks", "reasoning_effort TEXT"),
    ("tasks", "completion_contract TEXT"),
    ("task_runs", "worker_started_at INTEGER"),
    ("kanban_notify_subs", "last_ping_event_id INTEGER NOT NULL DEFAULT 0"),
    ("kanban_notify_subs", "delivery_mode TEXT NOT NULL DEFAULT 'notify'"),
    ("kanban_notify_subs", "chat_type TEXT"),
    ("kanban_notify_subs", "user_id_alt TEXT"),
    ("kanban_notify_subs", "delivery_metadata TEXT"),
]
MAIN = V0_21 + [("tasks", "worker_started_at INTEGER")]
SHAPES = {"0.21": V0_21, "main": MAIN}

# Values in newer Hermes' columns, as its own writes leave them on a card.
FOREIGN = {"provider_override": "openrouter", "reasoning_effort": "high", "completion_contract": '{"needs": ["tests"]}'}


def make_board(tmp_path, shape):
    """A 0.19 board made by Hermes' own code, upgraded as newer Hermes upgrades it."""
    db = tmp_path / "kanban.db"
    hermes_py(tmp_path, db, "kb.init_db()\nprint(json.dumps(True))")
    conn = sqlite3.connect(db)
    with conn:
        for table, ddl in SHAPES[shape]:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {ddl}")
        conn.execute("UPDATE kanban_notify_subs SET delivery_mode = 'notify+wake' WHERE platform != 'tui'")
    conn.close()
    return db


def columns(db, table):
    conn = sqlite3.connect(db)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def foreign_values(db, task_id, shape):
    names = list(FOREIGN) + (["worker_started_at"] if shape == "main" else [])
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(f"SELECT {', '.join(names)} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    finally:
        conn.close()
    return dict(zip(names, row))


def set_foreign(db, task_id, shape):
    values = dict(FOREIGN, **({"worker_started_at": "unverified"} if shape == "main" else {}))
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?", (*values.values(), task_id))
    conn.close()
    return values


def started_bridge(tmp_path):
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path)
    return proc, Bridge(cmd_ep, evt_ep, db, (tmp_path / "admin.token").read_text().strip(), log, pid=proc.pid)


def task(bridge, task_id):
    return bridge.admin("task.get", task_id=task_id)["task"]


@pytest.mark.parametrize("shape", SHAPES)
def test_lane_lifecycle_and_pool_on_a_newer_board_keep_hermes_columns(tmp_path, shape):
    db = make_board(tmp_path, shape)
    # The migrated order differs from a fresh board's: the appended columns come last.
    assert columns(db, "tasks")[-3 - (shape == "main"):] == list(FOREIGN) + (["worker_started_at"] if shape == "main" else [])
    proc, bridge = started_bridge(tmp_path)
    try:
        token = bridge.register_lane("factory", max_concurrency=3)
        quick = bridge.register_lane("quick", lease_seconds=1)
        bridge.register_lane("coders", kind="pool", max_concurrency=1, command=[BIN, "complete", "--result", "pooled"])
        ids = {name: bridge.admin("task.create", title=name, assignee="factory")["task"]["id"]
               for name in ("complete", "block", "release")}
        ids["expire"] = bridge.admin("task.create", title="expire", assignee="quick")["task"]["id"]
        written = {name: set_foreign(db, task_id, shape) for name, task_id in ids.items()}

        grants = {name: ok(bridge.call("claim", auth=token, lane="factory", task_id=ids[name]))["claim"]
                  for name in ("complete", "block", "release")}
        for name, grant in grants.items():
            ok(bridge.call("heartbeat", auth=token, task_id=ids[name], claim_token=grant["token"], note="busy"))
        ok(bridge.call("complete", auth=token, task_id=ids["complete"], claim_token=grants["complete"]["token"], result="built"))
        ok(bridge.call("block", auth=token, task_id=ids["block"], claim_token=grants["block"]["token"], reason="needs a key"))
        ok(bridge.call("release", auth=token, task_id=ids["release"], claim_token=grants["release"]["token"], reason="later"))
        expiring = ok(bridge.call("claim", auth=quick, lane="quick", task_id=ids["expire"]))["claim"]
        wait_for(lambda: [r for r in task(bridge, ids["expire"])["runs"] if r["outcome"] == "timed_out"], "the 1 s lease expires")
        assert error_code(bridge.call("heartbeat", auth=quick, task_id=ids["expire"], claim_token=expiring["token"])) == "stale_claim"

        pooled = bridge.admin("task.create", title="pooled", assignee="coders")["task"]["id"]
        written["pooled"] = set_foreign(db, pooled, shape)
        ids["pooled"] = pooled
        wait_for(lambda: task(bridge, pooled)["status"] == "done", "the pool's worker completes its task")
    finally:
        _stop(proc)

    statuses = {name: hermes_cli(tmp_path, db, "show", task_id, json_out=True)["task"]["status"] for name, task_id in ids.items()}
    assert statuses == {"complete": "done", "block": "blocked", "release": "ready", "expire": "ready", "pooled": "done"}
    for name, task_id in ids.items():
        assert foreign_values(db, task_id, shape) == written[name], f"{name}: Hermes' own columns kept their values"
    # Hermes 0.19's CLI still reads and writes the newer board (its schema pass leaves extra columns alone).
    listed = {t["id"] for t in hermes_cli(tmp_path, db, "list", json_out=True)}
    assert set(ids.values()) <= listed
    hermes_cli(tmp_path, db, "unblock", ids["block"])
    assert hermes_cli(tmp_path, db, "show", ids["block"], json_out=True)["task"]["status"] == "ready"
    assert foreign_values(db, ids["block"], shape) == written["block"]
    runs = hermes_cli(tmp_path, db, "runs", ids["complete"], json_out=True)
    assert [(r["status"], r["outcome"]) for r in runs] == [("done", "completed")]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_board_hermes_upgraded_while_the_bridge_served_keeps_working(tmp_path, shape):
    """Hermes appends its columns whenever a newer version first opens the board: also under a running
    coordinator, whose prepared statements then meet a changed `tasks` table."""
    make_board(tmp_path, "0.21" if shape == "main" else shape)
    proc, bridge = started_bridge(tmp_path)
    try:
        token = bridge.register_lane("factory")
        first = bridge.admin("task.create", title="before", assignee="factory")["task"]["id"]
        grant = ok(bridge.call("claim", auth=token, lane="factory"))["claim"]
        conn = sqlite3.connect(bridge.db_path)
        with conn:
            conn.execute("ALTER TABLE tasks ADD COLUMN worker_started_at INTEGER")
            conn.execute("ALTER TABLE tasks ADD COLUMN hermes_next_column TEXT DEFAULT 'kept'")
        conn.close()
        ok(bridge.call("heartbeat", auth=token, task_id=first, claim_token=grant["token"]))
        ok(bridge.call("complete", auth=token, task_id=first, claim_token=grant["token"], result="ok"))
        second = bridge.admin("task.create", title="after", assignee="factory")["task"]["id"]
        assert ok(bridge.call("claim", auth=token, lane="factory"))["task"]["id"] == second
    finally:
        _stop(proc)
    conn = sqlite3.connect(tmp_path / "kanban.db")
    try:
        assert conn.execute("SELECT hermes_next_column FROM tasks WHERE id = ?", (second,)).fetchone() == ("kept",)
    finally:
        conn.close()


HERMES_TABLES = ("tasks", "task_links", "task_comments", "task_events", "task_runs", "task_attachments", "kanban_notify_subs")


def test_bridge_sql_names_the_columns_of_hermes_tables():
    """The audit behind the tests above, kept: newer Hermes appends columns, so a board's column order is
    its history. No `SELECT *` from a Hermes table, and every INSERT lists its columns (reads by position
    are of the bridge's own SELECT lists, which name their columns)."""
    from conftest import REPO
    import re
    problems = []
    for path in sorted((REPO / "Sources").rglob("*.swift")):
        text = path.read_text()
        for table in HERMES_TABLES:
            for bad in (rf"SELECT\s+\*\s+FROM\s+{table}\b", rf"SELECT\s+\w+\.\*.*\bFROM\s+{table}\b",
                        rf"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+{table}\s+(?:VALUES|SELECT)\b"):
                problems += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in re.finditer(bad, text, re.IGNORECASE)]
    assert not problems, problems
