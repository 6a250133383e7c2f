"""kanban-events: the JSON-lines tail prints what the coordinator published, and the dashboard
renders under a real terminal (tmux) with the right slot counts."""
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import REPO, clean_env, ok, wait_for

EVENTS_BIN = os.environ.get("KANBAN_EVENTS_BIN") or str(REPO / ".build" / "debug" / "kanban-events")


def events_cmd(bridge, *args, event_option="--events-endpoint"):
    """The tail's command line. `--event-endpoint` (serve's and doctor's name) and `--events-endpoint`
    (this tool's older one) are the same option: the tests use both."""
    return [EVENTS_BIN, "--endpoint", bridge.command_endpoint, event_option, bridge.event_endpoint,
            "--db", str(bridge.db_path), *args]


def printed(path):
    """The JSON lines the tail has written to `path` so far (a line still being written is left out)."""
    return [json.loads(l) for l in path.read_text().split("\n")[:-1] if l.strip()]


def at_least(count, lines):
    """`lines` once there are `count` of them, else None (for `wait_for`)."""
    return lines if len(lines) >= count else None


def test_follow_json_prints_exactly_what_was_published(bridge, tmp_path):
    token = bridge.register_lane("factory", max_concurrency=2)
    start = bridge.admin("ping")["last_seq"]
    out = open(tmp_path / "follow.jsonl", "w")
    # --since replays from a known point, so nothing depends on when the tail's SUB socket joins.
    tail = subprocess.Popen(events_cmd(bridge, "--follow", "--json", "--since", str(start)), stdout=out,
                            stderr=subprocess.PIPE, env=clean_env(), text=True)
    try:
        ids = [bridge.admin("task.create", title=f"job {i}", assignee="factory")["task"]["id"] for i in range(3)]
        claim = ok(bridge.call("claim", auth=token, lane="factory"))
        ok(bridge.call("complete", auth=token, task_id=claim["task"]["id"], claim_token=claim["claim"]["token"]))
        expected = bridge.admin("events", since=start, limit=1000)["events"]
        lines = wait_for(lambda: at_least(len(expected), printed(tmp_path / "follow.jsonl")),
                         lambda: f"the tail printed {len(expected)} events: {printed(tmp_path / 'follow.jsonl')}")
    finally:
        tail.terminate()
        tail.wait(timeout=10)
    assert lines == expected, "the tail prints the published events, in order, unchanged"
    assert {e["task_id"] for e in lines if e["type"] == "created"} == set(ids)


def test_follow_filters_by_lane(bridge, tmp_path):
    bridge.register_lane("factory")
    bridge.register_lane("other")
    start = bridge.admin("ping")["last_seq"]
    out = open(tmp_path / "lane.jsonl", "w")
    tail = subprocess.Popen(events_cmd(bridge, "--follow", "--json", "--since", str(start), "--lane", "other",
                                       event_option="--event-endpoint"),
                            stdout=out, stderr=subprocess.DEVNULL, env=clean_env())
    try:
        bridge.admin("task.create", title="not shown", assignee="factory")
        mine = bridge.admin("task.create", title="shown", assignee="other")["task"]["id"]
        lines = wait_for(lambda: at_least(2, printed(tmp_path / "lane.jsonl")),
                         lambda: f"the tail printed two events: {printed(tmp_path / 'lane.jsonl')}")
    finally:
        tail.terminate()
        tail.wait(timeout=10)
    assert [(e["lane"], e["type"], e["task_id"]) for e in lines] == [("other", "created", mine), ("other", "available", mine)]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by scripts/setup")
def test_dashboard_renders_lane_slots_in_a_real_terminal(bridge):
    factory = bridge.register_lane("factory", max_concurrency=4)
    bridge.register_lane("backend-hermes", kind="pool", max_concurrency=3)
    long_name = "a-lane-with-a-name-longer-than-the-column"  # issue #25, finding 10: columns stay in line
    bridge.register_lane(long_name)
    for i in range(3):
        bridge.admin("task.create", title=f"f{i}", assignee="factory")
    for i in range(4):
        bridge.admin("task.create", title=f"b{i}", assignee="backend-hermes")
    ok(bridge.call("claim", auth=factory, lane="factory"))
    session = f"kb-{uuid.uuid4().hex[:8]}"
    cmd = " ".join(f"'{a}'" for a in events_cmd(bridge, "--no-color", "--refresh-ms", "200"))
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", cmd], check=True, env=clean_env())
    try:
        def capture():
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

        def both_lanes_and_a_claim():
            screen = capture()
            return screen if all(word in screen for word in ("factory", "backend-hermes", "claimed")) else None

        screen = wait_for(both_lanes_and_a_claim, lambda: f"the dashboard shows both lanes and a claim:\n{capture()}",
                          timeout_s=15)
        rows = {line.split()[0]: line for line in screen.splitlines() if line.split() and line.split()[0] in ("factory", "backend-hermes")}
        assert "persistent" in rows["factory"] and "1/4 running" in rows["factory"] and "2 queued" in rows["factory"], screen
        assert "pool" in rows["backend-hermes"] and "0/3 running" in rows["backend-hermes"] and "4 queued" in rows["backend-hermes"], screen
        assert "factory.claimed" in screen, screen
        lines = screen.splitlines()
        header = next(l for l in lines if l.startswith("LANE"))
        kind_at = header.index("KIND")
        for name in ("factory", "backend-hermes", long_name):
            row = next(l for l in lines if l.startswith(name + " "))
            assert row[kind_at:].split()[0] in ("persistent", "pool"), (name, header, row)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
