"""CURVE (docs/SECURITY.md): keys from `kanban-bridge keys generate`; the client, the worker and the event
stream get in with registered keys and no token; a stranger's key gets no reply (Unreachable)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import zmq
from conftest import BIN, Coordinator, clean_env

from kanban_bridge import Client, CurveKeys, Events, Forbidden, Unreachable, Worker


def keys_generate(path: Path) -> None:
    subprocess.run([BIN, "keys", "generate", str(path)], env=clean_env(), check=True, capture_output=True, timeout=60)


def test_curve_client_worker_and_events(tmp_path: Path) -> None:
    for name in ("server", "admin", "factory"):
        keys_generate(tmp_path / name)
    admin_keys = CurveKeys.load(str(tmp_path / "server.pub"), str(tmp_path / "admin.key"))
    shown = admin_keys.secret in repr(admin_keys)
    assert not shown
    coordinator = Coordinator(tmp_path, ("--curve-secret-key", str(tmp_path / "server.key"),
                                         "--curve-admin-key", str(tmp_path / "admin.pub")), curve=admin_keys)
    coordinator.start()
    try:
        admin = Client(coordinator.command_endpoint, curve=admin_keys)  # no token: the key is the credential
        assert admin.ping().principal is not None
        lane_public = CurveKeys.load(str(tmp_path / "server.pub"), str(tmp_path / "factory.key")).public
        admin.lane_register("factory", curve_public_key=lane_public)
        task_id = admin.task_create("over CURVE", assignee="factory").id

        # The lane's keys from the environment, as the CLI and spawned workers take them.
        lane_keys = CurveKeys.from_env({"KANBAN_CURVE_SERVER_KEY": str(tmp_path / "server.pub"),
                                        "KANBAN_CURVE_KEY_FILE": str(tmp_path / "factory.key")})
        assert lane_keys is not None and lane_keys.public == lane_public
        lane = Client(coordinator.command_endpoint, curve=lane_keys)
        with pytest.raises(Forbidden):
            lane.task_create("the key decides: a lane cannot create tasks")
        with Events(lane, coordinator.event_endpoint, since=0) as events:
            worker = Worker(lane, wait_ms=1000)
            worker.handler("factory")(lambda job: "done over CURVE")
            assert worker.run(max_tasks=1, install_signals=False) == 1
            seen = []
            while not seen or seen[-1].type != "completed":
                event = events.next(timeout_s=30)
                assert event is not None, [e.type for e in seen]
                seen.append(event)
        assert admin.task_get(task_id).result == "done over CURVE"

        public, secret = (k.decode() for k in zmq.curve_keypair())
        stranger = Client(coordinator.command_endpoint, curve=CurveKeys(admin_keys.server_public, public, secret),
                          timeout_ms=300, give_up_after_s=0.5)
        with pytest.raises(Unreachable):
            stranger.ping()
    finally:
        coordinator.stop()
    coordinator.assert_no_secrets()
