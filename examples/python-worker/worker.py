#!/usr/bin/env python3
"""A persistent-lane KanbanBridge worker using nothing but pyzmq.

Loop: wait for work, claim it, heartbeat from a background thread while working, complete.
- Pull lanes claim with wait_ms: the coordinator holds the request until a task is claimable.
- Watch lanes (--watch) subscribe to '<lane>.available' events and claim the task each names.
  On start and after every reconnect they also list the lane's ready tasks, because PUB/SUB
  drops what was published while nobody listened.
Every mutation carries a request_id and is resent with the same id after a timeout, so a
coordinator restart (even kill -9) in the middle of a task costs nothing: the worker finishes.
A failure in the work blocks the task with the error as reason; Ctrl-C or SIGTERM releases it.

Environment:
  KANBAN_BRIDGE_ENDPOINT  command socket (default tcp://127.0.0.1:5555)
  KANBAN_EVENT_ENDPOINT   event socket, for --watch (default tcp://127.0.0.1:5556)
  KANBAN_LANE             lane name, e.g. factory
  KANBAN_LANE_TOKEN       the lane's token from `kanban-bridge lanes register`
With a coordinator that runs CURVE (docs/SECURITY.md), the lane's keypair replaces the token:
  KANBAN_CURVE_SERVER_KEY the coordinator's public key, or its .pub file
  KANBAN_CURVE_KEY_FILE   the lane's .key file (or KANBAN_CURVE_SECRET_KEY: its secret key)
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid

import zmq


class BridgeError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


def read_key_file(path):
    """`name: value` lines of a kanban-bridge key file (a bare 40-character line is a public key)."""
    fields = {}
    for line in open(path):
        line = line.strip()
        if len(line) == 40:
            fields["public-key"] = line
        elif line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip()
    return fields


def curve_keys():
    """(server public, own public, own secret) from the environment, or None without CURVE."""
    server = os.environ.get("KANBAN_CURVE_SERVER_KEY")
    if not server:
        return None
    if os.path.exists(server):
        server = read_key_file(server)["public-key"]
    secret = os.environ.get("KANBAN_CURVE_SECRET_KEY") or read_key_file(os.environ["KANBAN_CURVE_KEY_FILE"])["secret-key"]
    return server, zmq.curve_public(secret.encode()).decode(), secret


def secure(sock, token=None):
    """Makes `sock` a CURVE client when the coordinator runs CURVE; call before connect. Without CURVE,
    a SUB socket shows `token` as its PLAIN password: the event socket admits no one without a token."""
    keys = curve_keys()
    if keys:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = (k.encode() for k in keys)
    elif token:
        sock.plain_username, sock.plain_password = b"kanban", token.encode()
    return sock


class Client:
    """A REQ client: one request at a time; after a lost reply, a fresh socket and the same request_id."""

    READS = {"ping", "lane.list", "lane.get", "task.get", "task.list", "events"}

    def __init__(self, endpoint, token, timeout_ms=3000, give_up_after_s=120):
        self.endpoint, self.token = endpoint, token
        self.timeout_ms, self.give_up_after_s = timeout_ms, give_up_after_s
        self.ctx = zmq.Context.instance()
        self.sock = None

    def call(self, op, wait_ms=0, **fields):
        request = {"op": op, **fields}
        if self.token:
            request["auth"] = self.token  # without CURVE the token is the credential
        if op not in self.READS:
            request["request_id"] = uuid.uuid4().hex  # one id per logical request, reused by its retries
        if wait_ms:
            request["wait_ms"] = wait_ms
        deadline = time.monotonic() + self.give_up_after_s
        while True:
            reply = self._round_trip(request, self.timeout_ms + wait_ms)
            if reply is not None:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{op}: no reply from {self.endpoint} for {self.give_up_after_s} s")
            log(f"{op}: no reply from {self.endpoint}; resending")
            time.sleep(0.5)
        if not reply.get("ok"):
            raise BridgeError(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def _round_trip(self, request, timeout_ms):
        if self.sock is None:
            self.sock = secure(self.ctx.socket(zmq.REQ))
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.endpoint)
        self.sock.send_json(request)
        if self.sock.poll(timeout_ms):
            return self.sock.recv_json()
        self.close()  # a REQ socket that missed its reply cannot send again (Lazy Pirate)
        return None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Heartbeats(threading.Thread):
    """Heartbeats one claim every `every_s` from its own socket (ZeroMQ sockets belong to one thread)."""

    def __init__(self, endpoint, token, ref, every_s):
        super().__init__(daemon=True)
        self.client = Client(endpoint, token, give_up_after_s=every_s)
        self.ref, self.every_s = ref, every_s
        self.note = "started"
        self.lost = None  # set to the error once the claim is gone
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.every_s):
            try:
                self.client.call("heartbeat", note=self.note, **self.ref)
            except BridgeError as e:
                if e.code in ("stale_claim", "not_claim_owner", "not_found"):
                    self.lost = e
                    break
            except TimeoutError:
                pass  # coordinator down for now; the lease may still hold, so keep trying
        self.client.close()

    def stop(self):
        self.stopped.set()
        self.join()


def log(message):
    print(message, flush=True)


def work(task, progress, seconds):
    """The actual job. Replace with yours; `progress(note)` sets the note the next heartbeat sends."""
    steps = 5
    for i in range(1, steps + 1):
        time.sleep(seconds / steps)  # stand-in for real work
        progress(f"step {i}/{steps}")
    if "fail" in task["title"].lower():
        raise RuntimeError("the task asked to fail")
    return f"processed {task['title']!r}", f"done in {steps} steps"


class Lane:
    def __init__(self, args):
        self.name = os.environ.get("KANBAN_LANE")
        self.token = os.environ.get("KANBAN_LANE_TOKEN")
        if not self.name or not (self.token or curve_keys()):
            sys.exit("set KANBAN_LANE and KANBAN_LANE_TOKEN (or, with CURVE, KANBAN_CURVE_SERVER_KEY and KANBAN_CURVE_KEY_FILE)")
        self.endpoint = os.environ.get("KANBAN_BRIDGE_ENDPOINT", "tcp://127.0.0.1:5555")
        self.events = os.environ.get("KANBAN_EVENT_ENDPOINT", "tcp://127.0.0.1:5556")
        self.args = args
        self.client = Client(self.endpoint, self.token)
        self.sub = None
        self.hints = []  # task ids from available events, oldest first

    def next_claim(self):
        """Claims the next task: (task, claim), or (None, None) when no work came within the wait."""
        if not self.args.watch:
            got = self.client.call("claim", lane=self.name, wait_ms=self.args.wait_ms)
            return got["task"], got["claim"]
        if self.sub is None:
            self.sub = secure(zmq.Context.instance().socket(zmq.SUB), token=self.token)
            self.sub.setsockopt(zmq.LINGER, 0)
            self.sub.setsockopt(zmq.SUBSCRIBE, f"{self.name}.available".encode())
            self.sub.connect(self.events)
            # Subscribe first, then catch up on what is already waiting: nothing falls in between.
            ready = self.client.call("task.list", status="ready", assignee=self.name)["tasks"]
            self.hints += [t["id"] for t in ready]
        deadline = time.monotonic() + self.args.wait_ms / 1000
        while True:
            while self.hints:
                task_id = self.hints.pop(0)
                try:
                    got = self.client.call("claim", lane=self.name, task_id=task_id, wait_ms=self.args.wait_ms)
                except BridgeError as e:
                    if e.code in ("not_ready", "not_assigned", "not_found"):
                        continue  # someone else took it, or it changed: the event was only a hint
                    raise
                if got["task"] is not None:
                    return got["task"], got["claim"]
            left = deadline - time.monotonic()
            if left <= 0:
                # Quiet for a whole wait: maybe the event stream dropped something. List again.
                self.sub.close()
                self.sub = None
                return None, None
            if self.sub.poll(int(left * 1000)):
                _topic, body = self.sub.recv_multipart()
                self.hints.append(json.loads(body)["task_id"])

    def run_one(self):
        """Claims and finishes one task. Returns False when no task arrived within the wait."""
        task, claim = self.next_claim()
        if task is None:
            return False
        ref = {"task_id": task["id"], "claim_token": claim["token"]}
        log(f"claimed {task['id']} run {claim['run_id']}: {task['title']}")
        lease_s = max(1.0, claim["lease_expires_at_ms"] / 1000 - time.time())
        beats = Heartbeats(self.endpoint, self.token, ref, every_s=max(0.2, lease_s / 3))
        beats.start()
        try:
            result, summary = work(task, lambda note: setattr(beats, "note", note), self.args.work_seconds)
        except KeyboardInterrupt:
            beats.stop()
            self.client.close()  # the interrupt may have come between a request and its reply
            self.client.call("release", reason="worker stopped", **ref)
            log(f"released {task['id']}")
            raise
        except Exception as e:  # the work failed: say why on the board instead of dying
            beats.stop()
            self.finish("block", task, ref, reason=f"{type(e).__name__}: {e}", kind="worker_error")
            return True
        beats.stop()
        if beats.lost:
            log(f"lost the claim on {task['id']}: {beats.lost}")  # e.g. reclaimed in Hermes
            return True
        self.finish("complete", task, ref, result=result, summary=summary)
        return True

    def finish(self, op, task, ref, **fields):
        try:
            self.client.call(op, **ref, **fields)
            log(f"{ {'complete': 'completed', 'block': 'blocked'}[op]} {task['id']}")
        except BridgeError as e:
            if e.code != "stale_claim":
                raise
            log(f"lost the claim on {task['id']}: {e}")  # lease expired or reclaimed meanwhile


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="exit after one task, or when none arrives within the wait")
    parser.add_argument("--tasks", type=int, default=0, help="exit after this many tasks (0: run until stopped)")
    parser.add_argument("--idle-exit", action="store_true", help="exit when no task arrives within the wait")
    parser.add_argument("--wait-ms", type=int, default=30000, help="how long each claim waits for work")
    parser.add_argument("--watch", action="store_true", help="claim the tasks of 'available' events (watch lanes)")
    parser.add_argument("--work-seconds", type=float, default=0.25, help="how long the stand-in work takes")
    args = parser.parse_args()
    if args.once:
        args.tasks, args.idle_exit = 1, True
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C: release, then exit
    lane = Lane(args)
    done = 0
    try:
        while not args.tasks or done < args.tasks:
            if lane.run_one():
                done += 1
            else:
                log(f"no task for lane {lane.name} within {args.wait_ms} ms")
                if args.idle_exit:
                    break
    except KeyboardInterrupt:
        pass
    except (BridgeError, TimeoutError) as e:
        sys.exit(f"worker: {e}")


if __name__ == "__main__":
    main()
