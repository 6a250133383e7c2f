"""The HTTP face of the real binary (`kanban-bridge serve --http`), driven with curl (docs/CONSOLE.md)."""
import json
import socket
import subprocess

from conftest import BIN, Bridge, _start, _stop, clean_env, free_port, ok, wait_for


def curl(port, path, *args, method="GET", data=None, headers=(), jar=None):
    """Runs curl; returns (status, headers text, body text). Never sends a token in the URL."""
    cmd = ["curl", "-sS", "--max-time", "20", "-D", "-", "-X", method, f"http://127.0.0.1:{port}{path}"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", data]
    if jar:
        cmd += ["-b", str(jar), "-c", str(jar)]
    # Bytes, not text: text mode would turn the CR LF that ends the headers into LF.
    out = subprocess.run(cmd + list(args), capture_output=True, timeout=30).stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    return int(head.split()[1]), head, body


def test_serve_http_answers_curl_with_login_csrf_metrics_and_errors(tmp_path):
    port = free_port()
    proc, cmd_ep, evt_ep, db, log = _start(tmp_path, extra=("--http", f"127.0.0.1:{port}"))
    admin_token = (tmp_path / "admin.token").read_text().strip()
    bridge = Bridge(cmd_ep, evt_ep, db, admin_token, log)
    jar = tmp_path / "cookies"
    try:
        def healthy():  # the face binds right after the coordinator
            try:
                status, _, body = curl(port, "/healthz")
            except (ValueError, IndexError):
                return None
            return body if status == 200 else None

        body = wait_for(healthy, lambda: f"the HTTP face answers /healthz; log:\n{log.read_text()}")
        assert body == "ok\n"
        token = bridge.register_lane("factory", max_concurrency=2)
        bridge.admin("task.create", title="secret one", assignee="factory")

        status, head, body = curl(port, "/api/tasks")
        assert status == 401 and "secret one" not in body and json.loads(body)["error"]["code"] == "unauthorized"
        assert "content-security-policy: default-src 'self'" in head.lower()

        status, head, body = curl(port, "/api/login", method="POST", data=json.dumps({"token": admin_token}), jar=jar)
        assert status == 200, body
        assert "HttpOnly" in head and "SameSite=Strict" in head
        csrf = json.loads(body)["csrf"]
        status, _, body = curl(port, "/api/tasks?q=SECRET", jar=jar)
        assert status == 200 and json.loads(body)["total"] == 1

        status, _, body = curl(port, "/api/tasks", method="POST", data='{"title": "no csrf"}', jar=jar)
        assert status == 403 and json.loads(body)["error"]["code"] == "csrf"
        status, _, body = curl(port, "/api/tasks", method="POST", data='{"title": "with csrf", "assignee": "factory"}',
                               jar=jar, headers=[f"X-CSRF-Token: {csrf}"])
        assert status == 201, body

        claim = ok(bridge.call("claim", auth=token, lane="factory"))
        status, _, body = curl(port, "/api/lanes", headers=[f"Authorization: Bearer {token}"])
        factory = [lane for lane in json.loads(body)["lanes"] if lane["name"] == "factory"][0]
        assert (factory["running"], factory["max_concurrency"], factory["queued"]) == (1, 2, 1)

        status, _, body = curl(port, f"/api/tasks/{claim['task']['id']}/reclaim", method="POST", data="{}",
                               jar=jar, headers=[f"X-CSRF-Token: {csrf}"])
        assert status == 200 and json.loads(body)["task"]["status"] == "ready", body

        status, head, body = curl(port, "/metrics", headers=[f"Authorization: Bearer {admin_token}"])
        assert status == 200 and "text/plain; version=0.0.4" in head
        samples = dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
        assert samples['kanban_lane_max_concurrency{lane="factory"}'] == "2"
        assert int(samples["kanban_event_seq"]) == bridge.admin("ping")["last_seq"]
        assert curl(port, "/metrics")[0] == 401

        # Junk and oversize: clear errors, and serving goes on.
        with socket.create_connection(("127.0.0.1", port)) as junk:
            junk.sendall(b"\x00\xff garbage\r\n\r\n")
            junk.settimeout(10)
            try:
                junk.recv(100)
            except (ConnectionResetError, socket.timeout):
                pass
        status, _, body = curl(port, "/api/tasks", method="POST", data="x" * (100 * 1024), jar=jar, headers=[f"X-CSRF-Token: {csrf}"])
        assert status == 413 and json.loads(body)["error"]["code"] == "too_large"
        status, _, body = curl(port, "/api/nope", jar=jar)
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
        assert curl(port, "/healthz")[0] == 200
        assert admin_token not in log.read_text(), "tokens never reach the log"
    finally:
        _stop(proc)


def test_metrics_endpoint_flag_is_gone_and_says_where_metrics_went(tmp_path):
    proc = subprocess.run([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--metrics-endpoint", f"tcp://127.0.0.1:{free_port()}"],
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "--http" in proc.stderr and "/metrics" in proc.stderr


def test_http_beyond_loopback_is_refused(tmp_path):
    proc = subprocess.run([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--http", f"0.0.0.0:{free_port()}"],
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--insecure-remote" in proc.stderr, proc.stderr
