"""A real `kanban-bridge serve` per test, on loopback ports and a board in tmp_path, that a test can kill
with -9 and start again on the same board and ports. The binary: $KANBAN_BRIDGE_BIN, else the repository's
.build/debug/kanban-bridge (as Tests/interop/conftest.py finds it)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kanban_bridge import Client, CurveKeys

REPO = Path(__file__).resolve().parents[3]
BIN = os.environ.get("KANBAN_BRIDGE_BIN") or str(REPO / ".build" / "debug" / "kanban-bridge")
SCRUBBED = ("KANBAN_BRIDGE_ADMIN_TOKEN", "KANBAN_LANE_TOKEN", "KANBAN_BRIDGE_ENDPOINT", "KANBAN_EVENT_ENDPOINT",
            "KANBAN_LANE", "KANBAN_TASK", "KANBAN_CLAIM_TOKEN", "KANBAN_CURVE_SERVER_KEY", "KANBAN_CURVE_KEY_FILE",
            "KANBAN_CURVE_SECRET_KEY")
POLL_S = 0.05
# The shapes of the bridge's tokens (docs/SECURITY.md): none may show in a coordinator's log.
TOKEN_SHAPE = re.compile(r"(?:at_|lt_|ct_|wt_[a-z0-9_-]{1,64}\.(?:[0-9]{1,19}\.)?)[A-Za-z0-9_-]{43}")
T = TypeVar("T")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def wait_for(condition: Callable[[], T], what: str = "the condition", timeout_s: float = 30) -> T:
    """Polls until `condition()` is truthy and returns it; fails at the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(POLL_S)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Coordinator:
    """`kanban-bridge serve` on a board in `root`; `kill()` (-9) and `start()` keep the board and ports."""

    def __init__(self, root: Path, extra: tuple[str, ...] = (), curve: CurveKeys | None = None) -> None:
        self.root, self.extra, self.curve = root, extra, curve
        self.db, self.log = root / "kanban.db", root / "bridge.log"
        self.command_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def admin_token(self) -> str:
        return (self.root / "admin.token").read_text().strip()

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--db", str(self.db), "--command-endpoint", self.command_endpoint,
                 "--event-endpoint", self.event_endpoint, *self.extra],
                stdout=out, stderr=out, env=clean_env(HERMES_HOME=str(self.root / "hermes-home")))
        probe = Client(self.command_endpoint, curve=self.curve, timeout_ms=300, give_up_after_s=0)

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                probe.ping()
                return True
            except Exception:
                return False

        wait_for(up, "the coordinator answers ping")
        probe.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def assert_no_secrets(self) -> None:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        leaked = bool(TOKEN_SHAPE.search(text)) or self.admin_token in text
        assert not leaked, f"a token-shaped secret in the coordinator's log {self.log}"

    def admin(self, **options: Any) -> Client:
        return Client(self.command_endpoint, self.admin_token, curve=self.curve, **options)


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[Coordinator]:
    c = Coordinator(tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop()
    c.assert_no_secrets()


@pytest.fixture
def admin(coordinator: Coordinator) -> Iterator[Client]:
    client = coordinator.admin()
    yield client
    client.close()
