"""Fixtures for the interop tests: a real `kanban-bridge serve` on loopback, driven with pyzmq."""
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zmq

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("KANBAN_BRIDGE_BIN") or str(REPO / ".build" / "debug" / "kanban-bridge")
# Variables that would change which credential or coordinator the bridge and its CLI use.
SCRUBBED = ("KANBAN_BRIDGE_ADMIN_TOKEN", "KANBAN_LANE_TOKEN", "KANBAN_BRIDGE_ENDPOINT",
            "KANBAN_TASK", "KANBAN_CLAIM_TOKEN", "KANBAN_CURVE_SERVER_KEY", "KANBAN_CURVE_KEY_FILE",
            "KANBAN_CURVE_SECRET_KEY")
REPLY_TIMEOUT_MS = 5000
POLL_INTERVAL_S = 0.05  # how often `wait_for` looks again: the one sleep the interop tests have
# A lane that exists only so a new subscriber can hear a probe event (see `Bridge.subscribe`).
PROBE_LANE = "slow-joiner-probe"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def wait_for(condition, what="the condition", timeout_s=30):
    """Polls `condition()` until it returns something truthy, and returns that; fails the test at the
    deadline. For "wait until X has happened": the deadline is generous because a slow machine may only
    make a test slower, never make it fail. Never use it to let time pass (there is nothing to wait for
    then). `what` may be a callable, evaluated only for the failure message."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout_s} s: {what() if callable(what) else what}")
        time.sleep(POLL_INTERVAL_S)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(endpoint, frame, timeout_ms=REPLY_TIMEOUT_MS):
    """One REQ round trip with a fresh socket: bytes out, parsed JSON reply back."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
    sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
    try:
        sock.connect(endpoint)
        sock.send(frame)
        try:
            return json.loads(sock.recv())
        except zmq.Again:
            raise TimeoutError(f"no reply from {endpoint} within {timeout_ms} ms") from None
    finally:
        sock.close()


@dataclass
class Bridge:
    command_endpoint: str
    event_endpoint: str
    db_path: Path
    admin_token: str = field(repr=False)  # a failing test's report must not print it
    log_path: Path
    pid: int = 0  # the coordinator's process, where the fixture started one

    def call(self, op, auth=None, timeout_ms=REPLY_TIMEOUT_MS, **fields):
        """Sends `{"op": op, "auth": auth, **fields}` and returns the whole reply object."""
        msg = {"op": op, **fields}
        if auth is not None:
            msg["auth"] = auth
        return request(self.command_endpoint, json.dumps(msg).encode(), timeout_ms)

    def raw(self, frame: bytes):
        return request(self.command_endpoint, frame)

    def admin(self, op, **fields):
        """An admin call that must succeed; returns its result."""
        return ok(self.call(op, auth=self.admin_token, **fields))

    def register_lane(self, name, **fields):
        """Registers a lane and returns its token."""
        fields.setdefault("kind", "persistent")
        fields.setdefault("claim_mode", "pull-or-watch")
        return self.admin("lane.register", name=name, **fields)["token"]

    def subscribe(self, prefix, token=None):
        """A SUB socket on the event stream (admitted with the admin token, or `token`, as the PLAIN
        password), known to be receiving `prefix`: ZeroMQ's PUB drops what it publishes before a new
        subscription reaches it (the slow joiner), and nothing says when that is. So the socket also
        subscribes to a probe lane's topic, after `prefix` and on the same connection (the PUB takes a
        connection's subscriptions in order), and the probe lane is updated until one of its events
        arrives; then the probe topic is dropped again. Only a subscriber to everything (`""`) also
        sees the probe lane's `lane_registered`/`lane_updated` events."""
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.plain_username, sub.plain_password = b"kanban", (token or self.admin_token).encode()
        sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        sub.connect(self.event_endpoint)
        probe = f"{PROBE_LANE}.".encode()
        sub.setsockopt(zmq.SUBSCRIBE, probe)
        registered = self.call("lane.register", auth=self.admin_token, name=PROBE_LANE, kind="persistent")
        assert registered.get("ok") or registered["error"]["code"] == "conflict", registered

        def heard_probe():
            self.admin("lane.update", name=PROBE_LANE, max_concurrency=1)
            while sub.poll(POLL_INTERVAL_S * 1000, zmq.POLLIN):
                if sub.recv_multipart()[0].startswith(probe):
                    return True
            return False

        # Anything published before this returns may be missed, as a subscriber that did not exist yet.
        wait_for(heard_probe, f"the subscriber to {prefix!r} hears a probe event")
        if not probe.startswith(prefix.encode()):
            sub.setsockopt(zmq.UNSUBSCRIBE, probe)  # a SUB filters on receipt too: queued probes are dropped
        return sub

    def cli(self, *args, token=None, timeout=60, check=True):
        """Runs the kanban-bridge CLI against this coordinator and board."""
        env = clean_env(KANBAN_BRIDGE_ENDPOINT=self.command_endpoint)
        if token:
            env["KANBAN_LANE_TOKEN"] = token
        proc = subprocess.run([BIN, *args, "--db", str(self.db_path)], env=env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kanban-bridge {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc


# Every secret the bridge hands out has one of these shapes: admin (at_), lane (lt_), claim (ct_)
# and spawned-worker (wt_<lane>.<run>.) tokens, each with 43 base64url characters.
TOKEN_SHAPE = re.compile(r"(?:at_|lt_|ct_|wt_[a-z0-9_-]{1,64}\.(?:[0-9]{1,19}\.)?)[A-Za-z0-9_-]{43}")


def assert_no_secrets(log_path, known=()):
    """Fails if the coordinator's log holds anything shaped like a token, or any of the `known` secrets
    (CURVE secret keys, the admin token)."""
    text = Path(log_path).read_text(errors="replace")
    leaked = TOKEN_SHAPE.findall(text) + [k for k in known if k and k in text]
    assert not leaked, f"secrets in the coordinator's log {log_path}: {[l[:8] + '...' for l in leaked]}"


def ok(reply):
    assert reply.get("ok") is True, f"expected success, got {reply}"
    return reply["result"]


def error_code(reply):
    assert reply.get("ok") is False, f"expected an error, got {reply}"
    return reply["error"]["code"]


def receive_until(sub, done, timeout_s=10):
    """Collects (topic, body) pairs from `sub` until `done(body)` is true or the deadline passes."""
    got = []
    deadline = time.monotonic() + timeout_s
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while time.monotonic() < deadline:
        if not poller.poll(100):
            continue
        topic, body = sub.recv_multipart()
        event = json.loads(body)
        got.append((topic.decode(), event))
        if done(event):
            return got
    raise AssertionError(f"condition not met within {timeout_s}s; received {[e['type'] for _, e in got]}")


def _plain_ping(endpoint):
    return request(endpoint, b'{"op":"ping"}', timeout_ms=500).get("ok")


def _start(tmp_path, extra=(), ping=_plain_ping, hermes_home=None):
    """Starts `kanban-bridge serve` on a board in `tmp_path` (plus `extra` flags) and waits until
    `ping(command_endpoint)` succeeds (a CURVE coordinator needs a ping with keys). Hermes' home is
    `hermes_home`, else an empty `tmp_path/hermes-home`: the bridge reads Hermes' config there
    (its failure limit), so the developer's own ~/.hermes never changes a test's outcome."""
    db = tmp_path / "kanban.db"
    log = tmp_path / "bridge.log"
    for _ in range(5):  # a port picked free may be taken again before the bridge binds it
        cmd_ep, evt_ep = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        with open(log, "ab") as out:
            proc = subprocess.Popen([BIN, "serve", "--db", str(db), "--command-endpoint", cmd_ep,
                                     "--event-endpoint", evt_ep, *extra], stdout=out, stderr=out,
                                    env=clean_env(HERMES_HOME=str(hermes_home or tmp_path / "hermes-home")))
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if ping(cmd_ep):
                    return proc, cmd_ep, evt_ep, db, log
            except TimeoutError:
                pass
        _stop(proc)
    raise RuntimeError(f"kanban-bridge did not come up; log:\n{log.read_text()}")


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def bridge(tmp_path):
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path)
    token = (tmp_path / "admin.token").read_text().strip()
    try:
        yield Bridge(cmd_ep, evt_ep, db, token, log, pid=proc.pid)
    finally:
        _stop(proc)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"kanban-bridge exited {proc.returncode}; log:\n{log.read_text()}")
    # Every test that used a coordinator doubles as a check that its log holds no secret.
    assert_no_secrets(log, known=[token])
