"""One REQ socket to the command endpoint, the Lazy Pirate way: a REQ socket that missed its reply cannot
send again, so after a timeout it is closed and the next attempt opens a fresh one (PROTOCOL.md §1)."""
from __future__ import annotations

import threading

import zmq

from .errors import KanbanError
from .keys import CurveKeys

CANCEL_POLL_MS = 100  # how often a long wait looks at its cancel flag


class Cancelled(KanbanError):
    """The wait for a reply was given up on purpose (a worker draining); the request was abandoned."""


class Connection:
    def __init__(self, endpoint: str, curve: CurveKeys | None, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        self.endpoint = endpoint
        self.curve = curve
        self.context = context
        self.sock: zmq.Socket[bytes] | None = None

    def round_trip(self, frame: bytes, timeout_ms: int, cancel: threading.Event | None = None) -> bytes | None:
        """Sends one frame and returns the reply frame, or None when none came within `timeout_ms`."""
        if self.sock is None:
            self.sock = self.context.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                self.curve.apply(self.sock)
            self.sock.connect(self.endpoint)
        sock = self.sock
        sock.send(frame)
        left = timeout_ms
        while left > 0:
            step = left if cancel is None else min(left, CANCEL_POLL_MS)
            if sock.poll(step):
                return sock.recv()
            left -= step
            if cancel is not None and cancel.is_set():
                if sock.poll(0):  # a reply that came in just now is kept: the caller decides what to do
                    return sock.recv()
                # Closing the socket makes the coordinator's reply undeliverable, and an undeliverable
                # claim is released at once (PROTOCOL.md §10 "Undeliverable claims").
                self.close()
                raise Cancelled(self.endpoint)
        self.close()
        return None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
