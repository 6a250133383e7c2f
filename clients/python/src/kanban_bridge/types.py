"""The protocol's objects (docs/PROTOCOL.md §6) and op results, as frozen dataclasses.

Each has `parse(reader)` that checks the types, and keeps the reply's whole object in `raw`, so a key
a newer coordinator adds is still at hand. Times: `*_at` are Unix seconds, `*_ms` milliseconds (§7)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .wire import JSONObject, Reader


@dataclass(frozen=True)
class Run:
    """One run (one claim) of a task, as `task.get` lists them."""

    id: int
    task_id: str
    status: str
    lane: str | None
    profile: str | None
    outcome: str | None
    summary: str | None
    error: str | None
    claim_lock: str | None
    started_at: int | None
    ended_at: int | None
    raw: JSONObject = field(repr=False, compare=False)

    @classmethod
    def parse(cls, r: Reader) -> Run:
        return cls(id=r.integer("id"), task_id=r.string("task_id"), status=r.string("status"), lane=r.opt_string("lane"),
                   profile=r.opt_string("profile"), outcome=r.opt_string("outcome"), summary=r.opt_string("summary"),
                   error=r.opt_string("error"), claim_lock=r.opt_string("claim_lock"),
                   started_at=r.opt_integer("started_at"), ended_at=r.opt_integer("ended_at"), raw=r.obj)


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    status: str
    body: str | None
    assignee: str | None
    priority: int
    tenant: str | None
    idempotency_key: str | None
    result: str | None
    created_at: int
    started_at: int | None
    completed_at: int | None
    claim_lock: str | None
    claim_expires: int | None
    current_run_id: int | None
    last_heartbeat_at: int | None
    parents: list[str]
    children: list[str]
    runs: list[Run] | None  # `task.get` only
    raw: JSONObject = field(repr=False, compare=False)

    @classmethod
    def parse(cls, r: Reader) -> Task:
        runs = [Run.parse(x) for x in r.children("runs")] if "runs" in r.obj else None
        return cls(id=r.string("id"), title=r.string("title"), status=r.string("status"), body=r.opt_string("body"),
                   assignee=r.opt_string("assignee"), priority=r.integer("priority"), tenant=r.opt_string("tenant"),
                   idempotency_key=r.opt_string("idempotency_key"), result=r.opt_string("result"),
                   created_at=r.integer("created_at"), started_at=r.opt_integer("started_at"),
                   completed_at=r.opt_integer("completed_at"), claim_lock=r.opt_string("claim_lock"),
                   claim_expires=r.opt_integer("claim_expires"), current_run_id=r.opt_integer("current_run_id"),
                   last_heartbeat_at=r.opt_integer("last_heartbeat_at"), parents=r.strings("parents"),
                   children=r.strings("children"), runs=runs, raw=r.obj)


@dataclass(frozen=True)
class LaneClaim:
    """A live claim as `lane.get` shows it (never the token)."""

    task_id: str
    run_id: int
    claimed_at_ms: int
    lease_ms: int
    lease_expires_at_ms: int
    last_heartbeat_at: int | None

    @classmethod
    def parse(cls, r: Reader) -> LaneClaim:
        return cls(task_id=r.string("task_id"), run_id=r.integer("run_id"), claimed_at_ms=r.integer("claimed_at_ms"),
                   lease_ms=r.integer("lease_ms"), lease_expires_at_ms=r.integer("lease_expires_at_ms"),
                   last_heartbeat_at=r.opt_integer("last_heartbeat_at"))


@dataclass(frozen=True)
class Lane:
    name: str
    kind: str
    claim_mode: str
    max_concurrency: int
    lease_seconds: int | None
    command: list[str] | None
    profile: str | None
    workspace_policy: str
    repo: str | None
    running: int
    queued: int
    oldest_queued_at: int | None
    claims: list[LaneClaim]
    created_at: int
    updated_at: int
    parked: int | None  # `lane.list` only
    raw: JSONObject = field(repr=False, compare=False)

    @classmethod
    def parse(cls, r: Reader) -> Lane:
        return cls(name=r.string("name"), kind=r.string("kind"), claim_mode=r.string("claim_mode"),
                   max_concurrency=r.integer("max_concurrency"), lease_seconds=r.opt_integer("lease_seconds"),
                   command=r.opt_strings("command"), profile=r.opt_string("profile"),
                   workspace_policy=r.string("workspace_policy"), repo=r.opt_string("repo"), running=r.integer("running"),
                   queued=r.integer("queued"), oldest_queued_at=r.opt_integer("oldest_queued_at"),
                   claims=[LaneClaim.parse(c) for c in r.children("claims", optional=True)],
                   created_at=r.integer("created_at"), updated_at=r.integer("updated_at"), parked=r.opt_integer("parked"),
                   raw=r.obj)


@dataclass(frozen=True)
class Claim:
    """A granted claim. The token is the only proof of it and is shown once: never log it."""

    token: str = field(repr=False)
    run_id: int
    lease_expires_at: int
    lease_expires_at_ms: int

    @classmethod
    def parse(cls, r: Reader) -> Claim:
        return cls(token=r.string("token"), run_id=r.integer("run_id"), lease_expires_at=r.integer("lease_expires_at"),
                   lease_expires_at_ms=r.integer("lease_expires_at_ms"))


@dataclass(frozen=True)
class Claimed:
    """A task and its claim, both None when nothing was claimable within the wait."""

    task: Task | None
    claim: Claim | None

    def __bool__(self) -> bool:
        return self.task is not None

    @classmethod
    def parse(cls, r: Reader) -> Claimed:
        task, claim = r.opt_child("task"), r.opt_child("claim")
        if (task is None) != (claim is None):
            from .errors import ProtocolError
            raise ProtocolError(f"{r.where}: 'task' and 'claim' must both be set or both be null")
        return cls(task=Task.parse(task) if task else None, claim=Claim.parse(claim) if claim else None)


@dataclass(frozen=True)
class Completed:
    """`complete`'s result; `next` is set when it was sent with `claim_next`."""

    task: Task
    next: Claimed | None


@dataclass(frozen=True)
class Lease:
    """`heartbeat`'s result: the lease's new end."""

    lease_expires_at: int
    lease_expires_at_ms: int


@dataclass(frozen=True)
class Principal:
    role: str  # admin, lane or worker
    lane: str | None


@dataclass(frozen=True)
class Ping:
    version: str
    protocol: int
    now_ms: int
    last_seq: int
    principal: Principal | None  # None without a valid credential


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    task_id: str | None
    lane: str | None
    run_id: int | None
    at: int  # ms
    data: JSONObject
    raw: JSONObject = field(repr=False, compare=False)

    @property
    def topic(self) -> str:
        return f"{self.lane or '_'}.{self.type}"

    @classmethod
    def parse(cls, r: Reader) -> Event:
        return cls(seq=r.integer("seq"), type=r.string("type"), task_id=r.opt_string("task_id"), lane=r.opt_string("lane"),
                   run_id=r.opt_integer("run_id"), at=r.integer("at"), data=r.raw_obj("data"), raw=r.obj)


@dataclass(frozen=True)
class EventPage:
    """`events`' result: `last_seq` is the last returned, or the stream's head when none was."""

    events: list[Event]
    last_seq: int


@dataclass(frozen=True)
class LaneList:
    lanes: list[Lane]
    unregistered: list[JSONObject]  # {"assignee", "queued", "oldest_queued_at"}


@dataclass(frozen=True)
class Registered:
    """`lane.register` / `lane.rotate-token`: the lane and its new token, shown once."""

    lane: str
    token: str = field(repr=False)
    detail: Lane | None = None  # `lane.register` returns the whole lane


@dataclass(frozen=True)
class TaskLog:
    task_id: str
    tail: str | None
    size: int
    truncated: bool


Stats = dict[str, Any]  # `stats`' result, as documented in PROTOCOL.md (a dashboard's numbers)
