"""Security from the outside: CURVE keys made by the CLI, a coordinator that admits only registered keys
(the CLI, a pyzmq worker and a spawned worker all get in with theirs; a stranger gets no reply), and a
coordinator that refuses to listen beyond loopback without CURVE."""
import json
import os
import stat
import subprocess
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from conftest import BIN, REPO, _start, _stop, assert_no_secrets, clean_env, free_port, wait_for

# Monitor events that say the other side has ruled on a connection's handshake, one way or the other
# (a refused mechanism may show only as the connection being dropped).
HANDSHAKE_DECIDED = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_DISCONNECTED
                     | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def cli(*args, env=None, check=True):
    proc = subprocess.run([BIN, *args], env=env or clean_env(), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"kanban-bridge {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def keypair(path):
    """Makes `<path>.key`/`<path>.pub` with the CLI and returns (public, secret) from the .key file."""
    cli("keys", "generate", str(path))
    fields = dict(line.split(": ", 1) for line in path.with_suffix(".key").read_text().splitlines() if not line.startswith("#"))
    return fields["public-key"], fields["secret-key"]


def curve_request(endpoint, server_public, public, secret, message, timeout_ms=3000):
    """One REQ round trip over CURVE; None when no reply comes (the handshake was refused)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
    sock.curve_serverkey = server_public.encode()
    sock.curve_publickey = public.encode()
    sock.curve_secretkey = secret.encode()
    try:
        sock.connect(endpoint)
        sock.send_json(message)
        try:
            return sock.recv_json()
        except zmq.Again:
            return None
    finally:
        sock.close()


def test_keys_generate_writes_a_private_keypair_and_a_public_file(tmp_path):
    out = cli("keys", "generate", str(tmp_path / "server")).stdout
    key, pub = tmp_path / "server.key", tmp_path / "server.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "secret-key" not in pub.read_text()
    public = [l.split(": ")[1] for l in pub.read_text().splitlines() if l.startswith("public-key")][0]
    assert len(public) == 40 and public in out
    again = cli("keys", "generate", str(tmp_path / "server"), check=False)
    assert again.returncode != 0 and "server.key" in again.stderr, "an existing key is never overwritten"


def test_curve_admits_registered_keys_only_and_the_key_decides_who_you_are(tmp_path):
    server_pub, _ = keypair(tmp_path / "server")
    admin_pub, admin_sec = keypair(tmp_path / "admin")
    lane_pub, lane_sec = keypair(tmp_path / "factory")

    def ping(endpoint):
        reply = curve_request(endpoint, server_pub, admin_pub, admin_sec, {"op": "ping"}, timeout_ms=500)
        return reply is not None and reply.get("ok")

    proc, cmd_ep, evt_ep, db, log = _start(tmp_path, ping=ping, extra=(
        "--curve-secret-key", str(tmp_path / "server.key"), "--curve-admin-key", str(tmp_path / "admin.pub"),
        "--log-level", "trace"))  # every log line the coordinator can write is scanned for secrets below
    admin_env = clean_env(KANBAN_BRIDGE_ENDPOINT=cmd_ep, KANBAN_CURVE_SERVER_KEY=str(tmp_path / "server.pub"),
                          KANBAN_CURVE_KEY_FILE=str(tmp_path / "admin.key"))
    try:
        # The CLI as admin, with the keys from the environment.
        cli("lanes", "register", "factory", "--curve-public-key", str(tmp_path / "factory.pub"), env=admin_env)
        cli("lanes", "register", "shell", "--kind", "spawn", "--", "/bin/sh", "-c", 'exec "$KANBAN_BRIDGE_BIN" complete --result spawned-ok',
            env=admin_env)
        task = json.loads(cli("task", "create", "Build widget", "--assignee", "factory", "--json", env=admin_env).stdout)["task"]["id"]
        spawned = json.loads(cli("task", "create", "Run me", "--assignee", "shell", "--json", env=admin_env).stdout)["task"]["id"]

        # A pyzmq worker with the lane's keys claims and completes; no token anywhere.
        claim = curve_request(cmd_ep, server_pub, lane_pub, lane_sec, {"op": "claim", "lane": "factory"})
        assert claim["ok"] and claim["result"]["task"]["id"] == task
        done = curve_request(cmd_ep, server_pub, lane_pub, lane_sec,
                             {"op": "complete", "task_id": task, "claim_token": claim["result"]["claim"]["token"]})
        assert done["ok"], done
        # The lane key is a lane, whatever the JSON says.
        admin_token = (tmp_path / "admin.token").read_text().strip()
        refused = curve_request(cmd_ep, server_pub, lane_pub, lane_sec,
                                {"op": "task.create", "auth": admin_token, "title": "sneaky", "assignee": "factory"})
        assert refused["error"]["code"] == "forbidden"

        # The Python example worker, with a lane key from the environment and no token.
        keypair(tmp_path / "pyworker")
        cli("lanes", "register", "pyworker", "--curve-public-key", str(tmp_path / "pyworker.pub"), env=admin_env)
        py_task = json.loads(cli("task", "create", "From Python", "--assignee", "pyworker", "--json", env=admin_env).stdout)["task"]["id"]
        worker = subprocess.run(
            [sys.executable, str(REPO / "examples" / "python-worker" / "worker.py"), "--tasks", "1", "--wait-ms", "3000",
             "--work-seconds", "0.1"],
            env=clean_env(KANBAN_BRIDGE_ENDPOINT=cmd_ep, KANBAN_EVENT_ENDPOINT=evt_ep, KANBAN_LANE="pyworker",
                          KANBAN_CURVE_SERVER_KEY=str(tmp_path / "server.pub"), KANBAN_CURVE_KEY_FILE=str(tmp_path / "pyworker.key")),
            capture_output=True, text=True, timeout=60)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        assert json.loads(cli("task", "show", py_task, "--json", env=admin_env).stdout)["task"]["status"] == "done"

        # A stranger's key gets no reply at all, and changes nothing.
        stranger_pub, stranger_sec = zmq.curve_keypair()
        before = json.loads(cli("ping", "--json", env=admin_env).stdout)["last_seq"]
        assert curve_request(cmd_ep, server_pub, stranger_pub.decode(), stranger_sec.decode(),
                             {"op": "task.create", "auth": admin_token, "title": "intruder"}, timeout_ms=700) is None
        assert json.loads(cli("ping", "--json", env=admin_env).stdout)["last_seq"] == before

        # The dispatcher hands its spawned worker a keypair of its own for the lane.
        def spawned_done():
            task = json.loads(cli("task", "show", spawned, "--json", env=admin_env).stdout)["task"]
            return task if task["status"] == "done" else None

        done = wait_for(spawned_done, "the spawned worker's task is done", timeout_s=20)
        assert done["result"] == "spawned-ok", done
    finally:
        _stop(proc)
    assert "refused a connection: its credential is not registered" in log.read_text()
    secrets = [admin_sec, lane_sec, stranger_sec.decode(), (tmp_path / "admin.token").read_text().strip(),
               claim["result"]["claim"]["token"]]
    secrets += [l.split(": ")[1] for l in (tmp_path / "server.key").read_text().splitlines() if l.startswith("secret-key")]
    assert_no_secrets(log, known=secrets)


def test_listening_beyond_loopback_without_curve_is_refused(tmp_path):
    proc = subprocess.run([BIN, "serve", "--db", str(tmp_path / "kanban.db"),
                           "--command-endpoint", f"tcp://0.0.0.0:{free_port()}"],
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "unprotected" in proc.stderr and "--insecure-remote" in proc.stderr, proc.stderr
    assert not (tmp_path / "kanban.db").exists(), "refused before anything was created"


def test_events_reach_no_subscriber_without_a_token(bridge):
    """Without CURVE the event socket runs PLAIN: a subscriber shows a token (admin, lane or a spawned
    worker's) as its password. One with no credential, or a wrong token, gets not a single message,
    while a lane-token subscriber sees the same events, notes and reasons included."""
    lane_token = bridge.register_lane("leaky")
    strangers = []
    for password in (None, "lt_not-a-token"):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        if password:
            sub.plain_username, sub.plain_password = b"kanban", password.encode()
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        monitor = sub.get_monitor_socket(HANDSHAKE_DECIDED)
        sub.connect(bridge.event_endpoint)
        strangers.append((sub, monitor))
    # The coordinator has ruled on each stranger's handshake before anything below is published, so a
    # stranger it let in would be subscribed by then (instead of merely not connected yet).
    for sub, monitor in strangers:
        assert monitor.poll(10_000), "the coordinator answered the stranger's handshake"
        decided = recv_monitor_message(monitor)["event"]
        assert decided != zmq.EVENT_HANDSHAKE_SUCCEEDED, "a subscriber without a valid token was let in"
        sub.disable_monitor()
        monitor.close()
    member = bridge.subscribe("", token=lane_token)
    task = bridge.admin("task.create", title="secret plans", assignee="leaky")["task"]["id"]
    claim = bridge.call("claim", auth=lane_token, lane="leaky")["result"]["claim"]
    bridge.call("block", auth=lane_token, task_id=task, claim_token=claim["token"], reason="password=hunter2")

    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(b"hunter2" in body for body in seen):
        if member.poll(200, zmq.POLLIN):
            seen.append(member.recv_multipart()[1])
    assert any(b"hunter2" in body for body in seen), "a subscriber with a lane token gets the events"
    for sub, _ in strangers:
        assert not sub.poll(500, zmq.POLLIN), "no payload reaches a subscriber without a valid token"
        sub.close()
    member.close()
    assert "hunter2" not in bridge.log_path.read_text()
