"""A subscriber with no credential is refused, and now said to be (issue #25, finding 3): the
coordinator logs the refused handshake (rate-limited, as ZAP refusals are), and kanban-events refuses to
start without a credential instead of showing an empty dashboard."""
import os
import subprocess

import zmq

from conftest import REPO, clean_env, wait_for

EVENTS_BIN = os.environ.get("KANBAN_EVENTS_BIN") or str(REPO / ".build" / "debug" / "kanban-events")


def test_a_subscriber_without_a_credential_is_logged_once_per_burst(bridge):
    ctx = zmq.Context()
    strangers = []
    try:
        for _ in range(5):  # each reconnects and fails again and again: still a bounded number of lines
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(bridge.event_endpoint)
            strangers.append(sub)
        wait_for(lambda: "refused a subscriber: its handshake failed" in bridge.log_path.read_text(),
                 "the coordinator logs the refused subscriber")
    finally:
        for sub in strangers:
            sub.close()
        ctx.term()
    lines = [l for l in bridge.log_path.read_text().splitlines() if "refused a subscriber" in l]
    assert 1 <= len(lines) <= 2, lines  # at most one line every 10 s, with a count
    assert bridge.admin("ping")["version"], "the coordinator goes on serving"


def test_kanban_events_without_any_credential_says_so(tmp_path):
    proc = subprocess.run([EVENTS_BIN, "--follow", "--db", str(tmp_path / "no-board.db"), "--endpoint", "tcp://127.0.0.1:1"],
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "no credential" in proc.stderr, proc.stderr
