"""`Worker`: runs a handler per claimed task, the loop every lane worker needs (PROTOCOL.md §13).

    worker = Worker(Client.from_env())

    @worker.handler("factory")
    def build(job: Job) -> str:
        job.progress("step 1/2")
        return "built"                       # completes the task with this result

    worker.run()                              # until SIGTERM/SIGINT, then drains

Per task: claim (blocking, `wait_ms`), heartbeat from a thread every third of the lease while the
handler runs, then `complete` (with `claim_next`, so the next task comes in the same round trip),
`block` when the handler raised (the error is the reason), or `release` on `Release`. On SIGTERM or
SIGINT the worker stops claiming, lets running handlers finish within `drain_s`, then releases what is
left. A second signal releases at once."""
from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import zmq

from .client import Client
from .errors import CLAIM_LOST, BridgeError, KanbanError, NotAssigned, NotFound, NotReady
from .keys import secure
from .transport import Cancelled
from .types import Claim, Claimed, Task
from .wire import JSONObject

log = logging.getLogger("kanban_bridge")


class Release(Exception):
    """Raise from a handler to give the task back (`release`): it is ready again at once, no failure counted."""

    def __init__(self, reason: str = "released by the worker") -> None:
        super().__init__(reason)
        self.reason = reason


class Block(Exception):
    """Raise from a handler to block the task with this reason and kind (e.g. `needs_input`)."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


@dataclass(frozen=True)
class Result:
    """A handler's return value when it has more to say than the result text."""

    result: str | None = None
    summary: str | None = None
    metadata: JSONObject | None = None


HandlerReturn = str | Result | None


@dataclass
class Job:
    """What a handler gets: the task, its claim, and ways to report progress and to notice the end."""

    task: Task
    claim: Claim = field(repr=False)
    lane: str
    note: str | None = None
    metadata: JSONObject | None = None
    lost: threading.Event = field(default_factory=threading.Event, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, note: str | None = None, metadata: JSONObject | None = None) -> None:
        """Sets the note (and metadata) the next heartbeat sends."""
        if note is not None:
            self.note = note
        if metadata is not None:
            self.metadata = metadata


Handler = Callable[[Job], HandlerReturn]
_SignalHandler = Callable[[int, FrameType | None], object] | int | None


@dataclass
class _Lane:
    name: str
    handler: Handler
    slots: int
    watch: bool


class _Heartbeats(threading.Thread):
    """Heartbeats one claim every `every_s` from its own socket (ZeroMQ sockets belong to one thread)."""

    def __init__(self, client: Client, job: Job, every_s: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job.task.id}")
        self.client = client.clone(give_up_after_s=every_s)
        self.job, self.every_s = job, every_s
        self.stopped = threading.Event()
        self.beats = 0

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.every_s):
                try:
                    # Cancelled by stop(): the handler is done and must not wait for a silent coordinator.
                    self.client.heartbeat(self.job.task.id, self.job.claim.token, note=self.job.note,
                                          metadata=self.job.metadata, cancel=self.stopped)
                    self.beats += 1
                except Cancelled:
                    return
                except CLAIM_LOST as e:
                    log.warning("lost the claim on %s: %s", self.job.task.id, e)
                    self.job.lost.set()
                    return
                except KanbanError as e:  # down for now (a restart); the lease may still hold
                    log.info("heartbeat of %s failed: %s", self.job.task.id, e)
        finally:
            self.client.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()


class Worker:
    """Runs handlers for lanes. `slots` is how many tasks of a lane run at once (one thread each);
    `wait_ms` how long each claim waits for work; `lease_seconds` the lease asked for (None: the lane's);
    `drain_s` how long running handlers may go on after SIGTERM/SIGINT before their tasks are released."""

    def __init__(self, client: Client, *, slots: int = 1, wait_ms: int = 30_000, lease_seconds: int | None = None,
                 drain_s: float = 30.0, event_endpoint: str | None = None) -> None:
        self.client = client
        self.slots, self.wait_ms, self.lease_seconds, self.drain_s = slots, wait_ms, lease_seconds, drain_s
        self.event_endpoint = event_endpoint
        self.lanes: list[_Lane] = []
        self.stopping = threading.Event()  # no new claims
        self.abandon = threading.Event()  # release what is still running
        self.done = 0  # tasks finished (completed, blocked or released) by this worker
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.error: KanbanError | None = None  # what stopped a slot for good (e.g. `unauthorized`)
        self._max_tasks: int | None = None
        self._idle_exit = False

    def handler(self, lane: str, *, slots: int | None = None, watch: bool = False) -> Callable[[Handler], Handler]:
        """Decorator: `fn(job)` handles the tasks of `lane`. `watch=True` for a watch lane: it claims the
        tasks `<lane>.available` events name (and lists its ready tasks on start and after quiet waits)."""
        def register(fn: Handler) -> Handler:
            self.lanes.append(_Lane(lane, fn, slots or self.slots, watch))
            return fn
        return register

    # Running

    def run(self, *, max_tasks: int | None = None, idle_exit: bool = False, install_signals: bool = True) -> int:
        """Works until stopped (a signal, `stop()`), `max_tasks` are finished, or with `idle_exit` a claim
        finds no work within `wait_ms`. Returns how many tasks it finished. When a slot had to stop on an
        error it cannot get past (`unauthorized`, `forbidden`, `Unreachable`, …), the worker drains and
        raises that error."""
        if not self.lanes:
            raise ValueError("no handler registered: use @worker.handler(lane)")
        self._max_tasks, self._idle_exit = max_tasks, idle_exit
        previous = self._install_signals() if install_signals else {}
        threads = [threading.Thread(target=self._slot, args=(lane,), daemon=True, name=f"{lane.name}-{i}")
                   for lane in self.lanes for i in range(lane.slots)]
        try:
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads) and not self.stopping.is_set():
                _first_alive(threads).join(0.2)
            self._drain(threads)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.error is not None:
            raise self.error
        return self.done

    def stop(self) -> None:
        """Stop claiming; running handlers get `drain_s` to finish (a second call releases them now)."""
        if self.stopping.is_set():
            self.abandon.set()
        self.stopping.set()
        with self._lock:
            for job in self._jobs.values():
                job.stopping.set()

    def _install_signals(self) -> dict[signal.Signals, _SignalHandler]:
        previous: dict[signal.Signals, _SignalHandler] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, lambda signum, _frame: self._on_signal(signum))
        return previous

    def _on_signal(self, signum: int) -> None:
        log.info("%s: stopping; running tasks get %g s to finish", signal.Signals(signum).name, self.drain_s)
        self.stop()

    def _drain(self, threads: list[threading.Thread]) -> None:
        deadline = time.monotonic() + self.drain_s
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline and not self.abandon.is_set():
            _first_alive(threads).join(min(0.2, max(0.0, deadline - time.monotonic())))
        self.abandon.set()
        with self._lock:
            left = list(self._jobs.values())
        if left:
            releaser = self.client.clone(give_up_after_s=10.0)
            for job in left:
                job.lost.set()
                try:
                    releaser.release(job.task.id, job.claim.token, reason="worker stopped")
                    log.info("released %s", job.task.id)
                except KanbanError as e:
                    log.warning("could not release %s: %s", job.task.id, e)
            releaser.close()

    # One slot: claim, work, finish, and again

    def _slot(self, lane: _Lane) -> None:
        client = self.client.clone()
        hints = _Hints(client, lane.name, self.event_endpoint) if lane.watch else None
        claimed: Claimed | None = None
        try:
            while not self.stopping.is_set():
                if not claimed:
                    claimed = hints.claim(self) if hints else self._claim(client, lane.name)
                if claimed is None:
                    return  # cancelled: the worker is stopping
                if not claimed:
                    log.info("no task for lane %s within %d ms", lane.name, self.wait_ms)
                    if self._idle_exit:
                        self.stop()
                        return
                    continue
                claimed = self._work(client, lane, claimed)
        except KanbanError as e:  # the coordinator refused the lane, or stayed unreachable: nothing to retry
            log.error("lane %s: %s", lane.name, e)
            with self._lock:
                self.error = self.error or e
            self.stop()
        finally:
            if hints:
                hints.close()
            client.close()

    def _claim(self, client: Client, lane: str, task_id: str | None = None) -> Claimed | None:
        try:
            got = client.claim(lane, task_id=task_id, lease_seconds=self.lease_seconds, wait_ms=self.wait_ms,
                               cancel=self.stopping)
        except Cancelled:
            return None
        if got and self.stopping.is_set():
            self._give_back(client, got)
            return None
        return got

    def _give_back(self, client: Client, got: Claimed) -> None:
        assert got.task is not None and got.claim is not None
        try:
            client.release(got.task.id, got.claim.token, reason="worker stopped")
        except KanbanError as e:
            log.warning("could not release %s: %s", got.task.id, e)

    def _work(self, client: Client, lane: _Lane, claimed: Claimed) -> Claimed | None:
        """Runs the handler on one claimed task and finishes it; returns the next claim, if it came along."""
        assert claimed.task is not None and claimed.claim is not None
        task, claim = claimed.task, claimed.claim
        job = Job(task=task, claim=claim, lane=lane.name, note="started")
        log.info("claimed %s run %d: %s", task.id, claim.run_id, task.title)
        with self._lock:
            self._jobs[task.id] = job
        lease_s = self.lease_seconds or max(1.0, claim.lease_expires_at_ms / 1000 - time.time())
        beats = _Heartbeats(client, job, every_s=max(0.2, lease_s / 3))
        beats.start()
        try:
            outcome: HandlerReturn | BaseException = lane.handler(job)
        except Exception as e:  # Release, Block, or the handler failed
            outcome = e
        finally:
            beats.stop()
        with self._lock:
            self._jobs.pop(task.id, None)
        if job.lost.is_set():
            log.warning("lost the claim on %s; its outcome is dropped", task.id)
            return None
        more = self._max_tasks is None or self.done + 1 < self._max_tasks
        try:
            if isinstance(outcome, Release):
                client.release(task.id, claim.token, reason=outcome.reason)
                log.info("released %s", task.id)
                nxt = None
            elif isinstance(outcome, BaseException):
                reason, kind = ((outcome.reason, outcome.kind) if isinstance(outcome, Block)
                                else (f"{type(outcome).__name__}: {outcome}", "worker_error"))
                client.block(task.id, claim.token, reason=reason, kind=kind)
                log.info("blocked %s: %s", task.id, reason)
                nxt = None
            else:
                done = outcome if isinstance(outcome, Result) else Result(result=outcome)
                nxt = client.complete(task.id, claim.token, result=done.result, summary=done.summary,
                                      metadata=done.metadata,
                                      claim_next=more and not lane.watch and not self.stopping.is_set()).next
                log.info("completed %s", task.id)
        except CLAIM_LOST as e:
            log.warning("lost the claim on %s: %s", task.id, e)  # lease ran out, or reclaimed meanwhile
            return None
        self._count()
        if nxt and self.stopping.is_set():
            self._give_back(client, nxt)
            return None
        return nxt

    def _count(self) -> None:
        with self._lock:
            self.done += 1
            if self._max_tasks is not None and self.done >= self._max_tasks:
                self.stopping.set()


class _Hints:
    """Where a watch lane's slot finds work: `<lane>.available` events, and the lane's ready tasks listed
    on start and after each quiet wait, because PUB/SUB drops what was sent while nobody listened."""

    def __init__(self, client: Client, lane: str, endpoint: str | None) -> None:
        import os

        from .client import DEFAULT_EVENT_ENDPOINT
        self.client, self.lane = client, lane
        self.endpoint = endpoint or os.environ.get("KANBAN_EVENT_ENDPOINT") or DEFAULT_EVENT_ENDPOINT
        self.sub: zmq.Socket[bytes] | None = None
        self.queue: list[str] = []

    def claim(self, worker: Worker) -> Claimed | None:
        if self.sub is None:
            self.sub = self.client.context.socket(zmq.SUB)
            self.sub.setsockopt(zmq.LINGER, 0)
            secure(self.sub, self.client.curve, self.client.token, subscriber=True)
            self.sub.setsockopt(zmq.SUBSCRIBE, f"{self.lane}.available".encode())
            self.sub.connect(self.endpoint)
            # Subscribed first, then the tasks already waiting: nothing falls in between.
            self.queue += [t.id for t in self.client.task_list(status="ready", assignee=self.lane)]
        deadline = time.monotonic() + worker.wait_ms / 1000
        while not worker.stopping.is_set():
            while self.queue:
                try:
                    got = worker._claim(self.client, self.lane, self.queue.pop(0))
                except (NotReady, NotAssigned, NotFound):
                    continue  # someone else took it, or it changed: an event is only a hint
                if got is None or got:
                    return got
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()  # quiet for a whole wait: list again next time, in case an event was lost
                return Claimed(None, None)
            if self.sub.poll(int(min(left, 0.2) * 1000) + 1):
                frames = self.sub.recv_multipart()
                task_id = json.loads(frames[-1]).get("task_id")
                if isinstance(task_id, str):
                    self.queue.append(task_id)
        return None

    def close(self) -> None:
        if self.sub is not None:
            self.sub.close()
            self.sub = None


def _first_alive(threads: list[threading.Thread]) -> threading.Thread:
    return next((t for t in threads if t.is_alive()), threads[0])


__all__ = ["Block", "BridgeError", "Job", "Release", "Result", "Worker"]
