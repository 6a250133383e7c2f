"""`Events`: the event stream as an iterator that misses nothing (PROTOCOL.md §9, "Replay").

PUB/SUB drops what is published while a subscriber is away (a reconnect, a coordinator restart, a full
queue). So this subscribes first, then catches up with the `events` op from its cursor, skips live
events it already has, replays again on a gap in `seq`, and every `check_every_s` of silence asks for
anything past its cursor. Events come out in `seq` order, each once."""
from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Iterator

import zmq

from .client import DEFAULT_EVENT_ENDPOINT, Client
from .errors import ProtocolError
from .keys import secure
from .types import Event
from .wire import Reader

log = logging.getLogger("kanban_bridge")
PAGE = 1000


class Events:
    """Iterate to get every event after `since` (None: after the stream's head now, i.e. only new ones).

    `lane` limits the stream to one lane's events (`"_"`: events with no lane). The SUB socket shows the
    client's credential: its CURVE keys, else its token as the PLAIN password. `cursor` is the `seq` of the
    last event handed out: persist it and pass it as `since` to resume after a restart."""

    def __init__(self, client: Client, endpoint: str | None = None, *, since: int | None = None,
                 lane: str | None = None, check_every_s: float = 2.0) -> None:
        self.client = client.clone()  # its own socket: an Events may live in another thread than `client`
        self.endpoint = endpoint or os.environ.get("KANBAN_EVENT_ENDPOINT") or DEFAULT_EVENT_ENDPOINT
        self.lane = lane
        self.check_every_s = check_every_s
        self._pending: deque[Event] = deque()
        self._sub: zmq.Socket[bytes] | None = None
        self._catch_up = True
        self._subscribe()  # first, so nothing published from now on falls between replay and live
        self.cursor = self.client.ping().last_seq if since is None else since
        self.replays = 0  # how many times it caught up with `events` (for tests and metrics)

    def _subscribe(self) -> None:
        sub = self.client.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        secure(sub, self.client.curve, self.client.token, subscriber=True)
        sub.setsockopt(zmq.SUBSCRIBE, b"" if self.lane is None else f"{self.lane}.".encode())
        sub.connect(self.endpoint)
        self._sub = sub

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while True:
            event = self.next(timeout_s=None)
            if event is not None:
                return event

    def next(self, timeout_s: float | None = None) -> Event | None:
        """The next event, or None when none came within `timeout_s` (None: wait as long as it takes)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while True:
            if self._pending:
                replayed = self._pending.popleft()
                self.cursor = replayed.seq
                return replayed
            if self._catch_up:
                self._replay()
                continue
            wait = self.check_every_s - (time.monotonic() - quiet_since)
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            assert self._sub is not None
            if wait > 0 and self._sub.poll(int(wait * 1000) + 1):
                event = self._live(self._sub.recv_multipart())
                if event is not None:
                    return event
                continue
            if deadline is not None and time.monotonic() >= deadline:
                return None
            if time.monotonic() - quiet_since >= self.check_every_s:
                # A quiet stream may be a lost connection: look for anything past the cursor.
                quiet_since = time.monotonic()
                self._catch_up = True

    def _live(self, frames: list[bytes]) -> Event | None:
        if len(frames) != 2:
            raise ProtocolError(f"an event message has 2 frames (topic, JSON), got {len(frames)}")
        try:
            event = Event.parse(Reader(json.loads(frames[1]), "event"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProtocolError(f"an event is not JSON ({e})") from None
        if event.seq <= self.cursor:
            return None  # replay covered it
        if event.seq > self.cursor + 1:
            # Unfiltered: something was missed. Filtered to a lane, other lanes' events make gaps too,
            # and only a replay (cheap, by lane) tells them apart; it includes this event.
            self._catch_up = True
            return None
        self.cursor = event.seq
        return event

    def _replay(self) -> None:
        page = self.client.events(since=self.cursor, limit=PAGE, lane=self.lane)
        self.replays += 1
        self._pending.extend(e for e in page.events if e.seq > self.cursor)
        self._catch_up = len(page.events) >= PAGE  # a full page: more to fetch once these are handed out
        if page.last_seq < self.cursor and not page.events:
            log.warning("events: the cursor %d is past the stream's head %d (another board?)",
                        self.cursor, page.last_seq)

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        self.client.close()

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
