"""`Client`: every op of the wire protocol (docs/PROTOCOL.md §5), typed, with safe retries.

Every mutation carries a fresh `request_id` and a `timeout_ms` a little under the client's own timeout.
A request that gets no reply is resent with the same `request_id` on a fresh socket until
`give_up_after_s` has passed, so a coordinator restart costs nothing and nothing runs twice. A `busy`
reply is resent the same way, up to `busy_retries` times."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from typing import Any

import zmq

from .errors import Busy, ProtocolError, Unreachable, error_for
from .keys import CurveKeys
from .transport import Connection
from .types import (
    Claimed,
    Completed,
    Event,
    EventPage,
    Lane,
    LaneList,
    Lease,
    Ping,
    Principal,
    Registered,
    Stats,
    Task,
    TaskLog,
)
from .wire import JSONObject, Reader

log = logging.getLogger("kanban_bridge")

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_EVENT_ENDPOINT = "tcp://127.0.0.1:5556"
# Ops that change nothing: no request_id (the coordinator ignores it) and safe to resend as they are.
READS = frozenset({"ping", "lane.list", "lane.get", "task.get", "task.list", "task.log", "events", "stats", "runner.report"})
MAX_PAUSE_S = 2.0


def pause(attempt: int) -> float:
    """The pause before resend number `attempt` (1, 2, …): 0.1 s, doubling, at most 2 s."""
    return float(min(MAX_PAUSE_S, 0.1 * 2 ** (attempt - 1)))


class Client:
    """A connection to the coordinator's command socket.

    One call at a time (calls from several threads take turns); give each thread that must not wait for
    the others its own client (`clone()`). Credential: `token` (a lane or the admin token) is sent as
    `auth`; with `curve` the socket's key is the credential and `token` is only used for nothing."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None, *,
                 curve: CurveKeys | None = None, timeout_ms: int = 5000, give_up_after_s: float = 60.0,
                 busy_retries: int = 5, context: zmq.Context[zmq.Socket[bytes]] | None = None) -> None:
        self.endpoint = endpoint
        self.token = token
        self.curve = curve
        self.timeout_ms = timeout_ms
        self.give_up_after_s = give_up_after_s
        self.busy_retries = busy_retries
        self.context: zmq.Context[zmq.Socket[bytes]] = context or zmq.Context.instance()
        self._conn = Connection(endpoint, curve, self.context)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token
        return f"Client({self.endpoint!r}, curve={self.curve is not None})"

    @classmethod
    def from_env(cls, endpoint: str | None = None, token: str | None = None, **options: Any) -> Client:
        """Endpoint and credential as the kanban-bridge CLI takes them: KANBAN_BRIDGE_ENDPOINT,
        KANBAN_LANE_TOKEN, and with CURVE KANBAN_CURVE_SERVER_KEY + KANBAN_CURVE_KEY_FILE."""
        options.setdefault("curve", CurveKeys.from_env())
        return cls(endpoint or os.environ.get("KANBAN_BRIDGE_ENDPOINT") or DEFAULT_ENDPOINT,
                   token or os.environ.get("KANBAN_LANE_TOKEN") or None, **options)

    def clone(self, **overrides: Any) -> Client:
        """A new client with the same endpoint, credential and settings (and its own socket)."""
        settings: dict[str, Any] = dict(token=self.token, curve=self.curve, timeout_ms=self.timeout_ms,
                                        give_up_after_s=self.give_up_after_s, busy_retries=self.busy_retries,
                                        context=self.context)
        settings.update(overrides)
        return Client(self.endpoint, **settings)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # The envelope, retries and reply checks

    def call(self, op: str, fields: JSONObject | None = None, *, wait_ms: int = 0, request_id: str | None = None,
             cancel: threading.Event | None = None) -> JSONObject:
        """Sends `op` with `fields` (None values left out) and returns the reply's `result` object. Raises
        the BridgeError subclass of an error reply, Unreachable when no reply came within
        `give_up_after_s`, ProtocolError for a reply that breaks the protocol, and `transport.Cancelled`
        when `cancel` was set while waiting."""
        request: JSONObject = {"op": op}
        if self.token:
            request["auth"] = self.token
        if op not in READS:
            request["request_id"] = request_id or uuid.uuid4().hex  # one id per logical request
            request["timeout_ms"] = self.timeout_ms * 4 // 5  # answered `busy` before we stop listening
        request.update({k: v for k, v in (fields or {}).items() if v is not None})
        if wait_ms:
            request["wait_ms"] = wait_ms
        frame = json.dumps(request, separators=(",", ":")).encode()
        with self._lock:
            return self._send(op, frame, wait_ms, cancel)

    def _send(self, op: str, frame: bytes, wait_ms: int, cancel: threading.Event | None) -> JSONObject:
        deadline = time.monotonic() + self.give_up_after_s + wait_ms / 1000
        silent = busy = 0
        while True:
            reply = self._conn.round_trip(frame, self.timeout_ms + wait_ms, cancel)
            if reply is None:
                silent += 1
                if time.monotonic() >= deadline:
                    raise Unreachable(f"{op}: no reply from {self.endpoint} within {self.give_up_after_s:g} s")
                log.info("%s: no reply from %s; resending (attempt %d)", op, self.endpoint, silent + 1)
                self._wait(pause(silent), cancel)
                continue
            try:
                return parse_reply(op, reply)
            except Busy:
                busy += 1
                if busy > self.busy_retries:
                    raise
                log.info("%s: the board is busy; resending (attempt %d)", op, busy + 1)
                self._wait(pause(busy), cancel)

    @staticmethod
    def _wait(seconds: float, cancel: threading.Event | None) -> None:
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            from .transport import Cancelled
            raise Cancelled("cancelled while waiting to resend")

    # Ops. Optional fields left as None are not sent, so the coordinator's defaults apply.

    def ping(self) -> Ping:
        r = Reader(self.call("ping"), "ping")
        who = r.opt_child("principal")
        return Ping(version=r.string("version"), protocol=r.integer("protocol"), now_ms=r.integer("now_ms"),
                    last_seq=r.integer("last_seq"),
                    principal=Principal(who.string("role"), who.opt_string("lane")) if who else None)

    def lane_register(self, name: str, *, kind: str | None = None, claim_mode: str | None = None,
                      max_concurrency: int | None = None, lease_seconds: int | None = None,
                      command: list[str] | None = None, profile: str | None = None,
                      workspace_policy: str | None = None, repo: str | None = None,
                      max_runtime_seconds: int | None = None, keep_workspaces: bool | None = None,
                      curve_public_key: str | None = None) -> Registered:
        """Registers a lane (admin). The token in the result is shown once."""
        r = Reader(self.call("lane.register", dict(
            name=name, kind=kind, claim_mode=claim_mode, max_concurrency=max_concurrency,
            lease_seconds=lease_seconds, command=command, profile=profile, workspace_policy=workspace_policy,
            repo=repo, max_runtime_seconds=max_runtime_seconds, keep_workspaces=keep_workspaces,
            curve_public_key=curve_public_key)), "lane.register")
        lane = Lane.parse(r.child("lane"))
        return Registered(lane=lane.name, token=r.string("token"), detail=lane)

    def lane_update(self, name: str, *, kind: str | None = None, claim_mode: str | None = None,
                    max_concurrency: int | None = None, lease_seconds: int | None = None,
                    command: list[str] | None = None, profile: str | None = None,
                    workspace_policy: str | None = None, repo: str | None = None,
                    max_runtime_seconds: int | None = None, keep_workspaces: bool | None = None,
                    curve_public_key: str | None = None) -> Lane:
        """Changes the given settings of a lane (admin); `curve_public_key=""` removes its key."""
        r = Reader(self.call("lane.update", dict(
            name=name, kind=kind, claim_mode=claim_mode, max_concurrency=max_concurrency,
            lease_seconds=lease_seconds, command=command, profile=profile, workspace_policy=workspace_policy,
            repo=repo, max_runtime_seconds=max_runtime_seconds, keep_workspaces=keep_workspaces,
            curve_public_key=curve_public_key)), "lane.update")
        return Lane.parse(r.child("lane"))

    def lane_list(self) -> LaneList:
        r = Reader(self.call("lane.list"), "lane.list")
        return LaneList(lanes=[Lane.parse(x) for x in r.children("lanes")],
                        unregistered=[x.obj for x in r.children("unregistered", optional=True)])

    def lane_get(self, name: str) -> Lane:
        return Lane.parse(Reader(self.call("lane.get", {"name": name}), "lane.get").child("lane"))

    def lane_remove(self, name: str) -> str:
        return Reader(self.call("lane.remove", {"name": name}), "lane.remove").string("removed")

    def lane_rotate_token(self, name: str) -> Registered:
        """A new token for the lane (admin); the old one stops working at once."""
        r = Reader(self.call("lane.rotate-token", {"name": name}), "lane.rotate-token")
        return Registered(lane=r.string("lane"), token=r.string("token"))

    def task_create(self, title: str, *, assignee: str | None = None, body: str | None = None,
                    priority: int | None = None, parents: list[str] | None = None,
                    idempotency_key: str | None = None, tenant: str | None = None) -> Task:
        return self._task("task.create", dict(title=title, assignee=assignee, body=body, priority=priority,
                                              parents=parents, idempotency_key=idempotency_key, tenant=tenant))

    def task_get(self, task_id: str) -> Task:
        """The task with its `runs`."""
        return self._task("task.get", {"task_id": task_id})

    def task_list(self, *, status: str | None = None, assignee: str | None = None,
                  limit: int | None = None) -> list[Task]:
        r = Reader(self.call("task.list", dict(status=status, assignee=assignee, limit=limit)), "task.list")
        return [Task.parse(x) for x in r.children("tasks")]

    def task_log(self, task_id: str, *, max_bytes: int | None = None) -> TaskLog:
        r = Reader(self.call("task.log", dict(task_id=task_id, max_bytes=max_bytes)), "task.log")
        return TaskLog(task_id=r.string("task_id"), tail=r.opt_string("tail"), size=r.integer("size"),
                       truncated=r.boolean("truncated"))

    def task_assign(self, task_id: str, assignee: str | None) -> Task:
        """Assigns the task (admin); None unassigns."""
        return self._task("task.assign", {"task_id": task_id, "assignee": assignee})

    def task_link(self, parent_id: str, child_id: str) -> Task:
        """Makes the child wait for the parent (admin); returns the child."""
        return self._task("task.link", {"parent_id": parent_id, "child_id": child_id})

    def task_reclaim(self, task_id: str, *, reason: str | None = None) -> Task:
        return self._task("task.reclaim", {"task_id": task_id, "reason": reason})

    def task_unblock(self, task_id: str) -> Task:
        return self._task("task.unblock", {"task_id": task_id})

    def claim(self, lane: str, *, task_id: str | None = None, lease_seconds: int | None = None,
              wait_ms: int = 0, cancel: threading.Event | None = None) -> Claimed:
        """Claims the lane's best task (or `task_id`), waiting up to `wait_ms` for one. An empty `Claimed`
        (falsy) when nothing came. `cancel` abandons a waiting claim (its grant, if any, is released)."""
        r = Reader(self.call("claim", dict(lane=lane, task_id=task_id, lease_seconds=lease_seconds),
                             wait_ms=wait_ms, cancel=cancel), "claim")
        return Claimed.parse(r)

    def heartbeat(self, task_id: str, claim_token: str, *, note: str | None = None,
                  metadata: JSONObject | None = None, cancel: threading.Event | None = None) -> Lease:
        r = Reader(self.call("heartbeat", dict(task_id=task_id, claim_token=claim_token, note=note,
                                               metadata=metadata), cancel=cancel), "heartbeat")
        return Lease(lease_expires_at=r.integer("lease_expires_at"), lease_expires_at_ms=r.integer("lease_expires_at_ms"))

    def complete(self, task_id: str, claim_token: str, *, result: str | None = None, summary: str | None = None,
                 metadata: JSONObject | None = None, claim_next: bool = False) -> Completed:
        """Completes the task; with `claim_next`, `next` holds the lane's next claim (maybe empty)."""
        r = Reader(self.call("complete", dict(task_id=task_id, claim_token=claim_token, result=result,
                                              summary=summary, metadata=metadata,
                                              claim_next=claim_next or None)), "complete")
        following = r.opt_child("next")
        return Completed(task=Task.parse(r.child("task")), next=Claimed.parse(following) if following else None)

    def block(self, task_id: str, claim_token: str, *, reason: str | None = None, kind: str | None = None) -> Task:
        return self._task("block", dict(task_id=task_id, claim_token=claim_token, reason=reason, kind=kind))

    def release(self, task_id: str, claim_token: str, *, reason: str | None = None,
                retry_after_seconds: int | None = None) -> Task:
        """Gives the task back, no failure counted; with `retry_after_seconds` it is claimable again only
        after that wait (a rate-limited worker)."""
        return self._task("release", dict(task_id=task_id, claim_token=claim_token, reason=reason,
                                           retry_after_seconds=retry_after_seconds))

    def fail(self, task_id: str, claim_token: str, *, reason: str | None = None, exit_code: int | None = None,
             signal: int | None = None) -> Task:
        """The worker failed: the run ends `crashed` and a failure is counted (retried, or given up)."""
        return self._task("fail", dict(task_id=task_id, claim_token=claim_token, reason=reason,
                                       exit_code=exit_code, signal=signal))

    def log_append(self, task_id: str, claim_token: str, chunk: str) -> int:
        """Appends output to the task's worker log on the coordinator and renews the lease; returns the
        new lease expiry (ms)."""
        r = Reader(self.call("log.append", dict(task_id=task_id, claim_token=claim_token, chunk=chunk)), "log.append")
        return r.integer("lease_expires_at_ms")

    def runner_report(self, lane: str, *, runner_id: str, host: str, pid: int, slots: int,
                      running: list[str] | None = None, version: str | None = None) -> int:
        """Says this runner serves `lane` (shown by `lane.list` and `stats`); returns how often to report (ms)."""
        fields: JSONObject = dict(lane=lane, runner_id=runner_id, host=host, pid=pid, slots=slots,
                                  running=list(running or []), version=version)
        return Reader(self.call("runner.report", fields), "runner.report").integer("report_every_ms")

    def events(self, since: int = 0, *, limit: int | None = None, lane: str | None = None) -> EventPage:
        """Events with `seq` > `since`, oldest first; `lane="_"` for events with no lane."""
        r = Reader(self.call("events", dict(since=since, limit=limit, lane=lane)), "events")
        return EventPage(events=[Event.parse(x) for x in r.children("events")], last_seq=r.integer("last_seq"))

    def stats(self, *, window_seconds: int | None = None) -> Stats:
        return self.call("stats", {"window_seconds": window_seconds})

    def workspace_prune(self, *, lane: str | None = None) -> list[str]:
        return Reader(self.call("workspace.prune", {"lane": lane}), "workspace.prune").strings("queued")

    def _task(self, op: str, fields: JSONObject) -> Task:
        return Task.parse(Reader(self.call(op, fields), op).child("task"))


def parse_reply(op: str, frame: bytes) -> JSONObject:
    """The `result` of an ok reply; raises the error reply's exception, or ProtocolError."""
    try:
        reply = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"{op}: the reply is not JSON ({e}): {frame[:80]!r}") from None
    r = Reader(reply, f"{op}: reply")
    if r.obj.get("ok") is True:
        return r.child("result").obj
    if r.obj.get("ok") is False:
        error = r.child("error")
        raise error_for(error.string("code"), error.string("message"), op)
    raise ProtocolError(f"{op}: the reply has no boolean 'ok': {frame[:80]!r}")
