"""A server that breaks the protocol (a fake ROUTER in the test) gives clear exceptions, never a KeyError
or a hang; a silent one gives Unreachable after resends that carry the same request_id."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import zmq

from kanban_bridge import BridgeError, Client, NotFound, ProtocolError, Unreachable


class FakeServer:
    """A ROUTER that answers each request with the next canned reply (None: no reply at all)."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.replies = replies
        self.requests: list[dict[str, object]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set() and self.replies:
            if not self.sock.poll(50):
                continue
            *envelope, body = self.sock.recv_multipart()
            self.requests.append(json.loads(body))
            reply = self.replies.pop(0)
            if reply is not None:
                self.sock.send_multipart([*envelope, reply])

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def fake() -> Iterator[type[FakeServer]]:
    made: list[FakeServer] = []

    def make(replies: list[bytes | None]) -> FakeServer:
        server = FakeServer(replies)
        made.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in made:
        server.close()


@pytest.mark.parametrize("reply, message", [
    (b"\xff not json", "the reply is not JSON"),
    (b"[1, 2]", "expected a JSON object, got list"),
    (b'{"result": {}}', "no boolean 'ok'"),
    (b'{"ok": true}', "missing 'result'"),
    (b'{"ok": false, "error": {"code": 5, "message": "x"}}', "'code' is a number, expected str"),
    (b'{"ok": true, "result": {"task": {"id": "t_1"}}}', "task.get.task: missing 'title'"),
    (b'{"ok": true, "result": {"task": {"id": 7}}}', "task.get.task: 'id' is a number, expected str"),
])
def test_a_reply_that_breaks_the_protocol_is_a_protocol_error(fake: type[FakeServer], reply: bytes,
                                                               message: str) -> None:
    server = fake([reply])
    with pytest.raises(ProtocolError, match=message):
        Client(server.endpoint, "lt_x", timeout_ms=5000, give_up_after_s=5).task_get("t_1")


def test_a_claim_with_a_task_but_no_claim_is_a_protocol_error(fake: type[FakeServer]) -> None:
    task = {"id": "t_1", "title": "x", "status": "running", "priority": 0, "created_at": 1}
    server = fake([json.dumps({"ok": True, "result": {"task": task, "claim": None}}).encode()])
    with pytest.raises(ProtocolError, match="both be set or both be null"):
        Client(server.endpoint, "lt_x").claim("factory")


def test_error_codes_become_their_exception_and_unknown_codes_keep_theirs(fake: type[FakeServer]) -> None:
    server = fake([b'{"ok": false, "error": {"code": "not_found", "message": "no task t_1"}}',
                   b'{"ok": false, "error": {"code": "brand_new", "message": "from a newer coordinator"}}'])
    client = Client(server.endpoint, "lt_x")
    with pytest.raises(NotFound) as known:
        client.task_get("t_1")
    assert (known.value.code, known.value.message, known.value.op) == ("not_found", "no task t_1", "task.get")
    with pytest.raises(BridgeError) as unknown:
        client.task_get("t_1")
    assert type(unknown.value) is BridgeError and unknown.value.code == "brand_new"


def test_a_lost_reply_is_resent_with_the_same_request_id_on_a_fresh_socket(fake: type[FakeServer]) -> None:
    task = {"id": "t_1", "title": "x", "status": "ready", "priority": 0, "created_at": 1}
    server = fake([None, None, json.dumps({"ok": True, "result": {"task": task}}).encode()])
    got = Client(server.endpoint, "at_x", timeout_ms=200, give_up_after_s=30).task_create("x")
    assert got.id == "t_1"
    ids = {r["request_id"] for r in server.requests}
    assert len(server.requests) == 3 and len(ids) == 1, server.requests
    assert all(r["timeout_ms"] == 160 for r in server.requests)


def test_busy_is_resent_then_raised(fake: type[FakeServer]) -> None:
    busy = b'{"ok": false, "error": {"code": "busy", "message": "the board is locked"}}'
    server = fake([busy, busy, busy])
    with pytest.raises(BridgeError, match="busy"):
        Client(server.endpoint, "at_x", busy_retries=2).task_unblock("t_1")
    assert len({r["request_id"] for r in server.requests}) == 1 and len(server.requests) == 3


def test_a_silent_server_is_unreachable(fake: type[FakeServer]) -> None:
    server = fake([None] * 100)
    with pytest.raises(Unreachable, match="no reply from"):
        Client(server.endpoint, timeout_ms=100, give_up_after_s=0.3).ping()
    assert all("request_id" not in r for r in server.requests), "reads carry no request_id"
