#!/usr/bin/env python3
"""A persistent-lane KanbanBridge worker using nothing but pyzmq.

Loop: claim (blocking up to --wait-ms for work), heartbeat while working, complete.
A failure in the work blocks the task with the error as reason; Ctrl-C or SIGTERM releases it.

Environment:
  KANBAN_BRIDGE_ENDPOINT  command socket (default tcp://127.0.0.1:5555)
  KANBAN_LANE             lane name, e.g. factory
  KANBAN_LANE_TOKEN       the lane's token from `kanban-bridge lanes register`
"""
import argparse
import os
import signal
import sys
import time

import zmq


class BridgeError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Client:
    """A REQ client: one request at a time, a fresh socket after a lost reply."""

    def __init__(self, endpoint, token, timeout_ms=5000):
        self.endpoint, self.token, self.timeout_ms = endpoint, token, timeout_ms
        self.ctx = zmq.Context.instance()
        self.sock = None

    def call(self, op, timeout_ms=None, **fields):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.endpoint)
        self.sock.send_json({"op": op, "auth": self.token, **fields})
        if not self.sock.poll(timeout_ms or self.timeout_ms):
            self.reset()  # a REQ socket that missed its reply cannot send again
            raise TimeoutError(f"{op}: no reply from {self.endpoint}")
        reply = self.sock.recv_json()
        if not reply.get("ok"):
            raise BridgeError(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def reset(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def work(task, heartbeat):
    """The actual job. Replace with yours; call heartbeat(note) at least once per lease."""
    steps = 3
    for i in range(1, steps + 1):
        time.sleep(0.05)  # stand-in for real work
        heartbeat(f"step {i}/{steps}")
    return f"processed {task['title']!r}", f"done in {steps} steps"


def run_one(client, lane, wait_ms):
    """Claims and finishes one task. Returns False when no task arrived within the wait."""
    got = client.call("claim", lane=lane, wait_ms=wait_ms, timeout_ms=wait_ms + 5000)
    task, claim = got["task"], got["claim"]
    if task is None:
        return False
    ref = {"task_id": task["id"], "claim_token": claim["token"]}
    print(f"claimed {task['id']} run {claim['run_id']}: {task['title']}", flush=True)
    try:
        result, summary = work(task, lambda note: client.call("heartbeat", note=note, **ref))
        client.call("complete", result=result, summary=summary, **ref)
        print(f"completed {task['id']}", flush=True)
    except BridgeError as e:
        print(f"lost the claim on {task['id']}: {e}", flush=True)  # e.g. stale_claim: it was reclaimed
    except KeyboardInterrupt:
        client.reset()  # the interrupt may have come between a request and its reply
        client.call("release", reason="worker stopped", **ref)
        raise
    except TimeoutError:
        raise
    except Exception as e:  # the work failed: say why on the board instead of dying
        client.call("block", reason=f"{type(e).__name__}: {e}", **ref)
        print(f"blocked {task['id']}: {e}", flush=True)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="exit after one task, or when none arrives within the wait")
    parser.add_argument("--wait-ms", type=int, default=30000, help="how long each claim waits for work")
    args = parser.parse_args()
    endpoint = os.environ.get("KANBAN_BRIDGE_ENDPOINT", "tcp://127.0.0.1:5555")
    lane, token = os.environ.get("KANBAN_LANE"), os.environ.get("KANBAN_LANE_TOKEN")
    if not lane or not token:
        sys.exit("set KANBAN_LANE and KANBAN_LANE_TOKEN")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C: release, then exit
    client = Client(endpoint, token)
    try:
        while True:
            try:
                if not run_one(client, lane, args.wait_ms):
                    print(f"no task for lane {lane} within {args.wait_ms} ms", flush=True)
            except TimeoutError as e:
                if args.once:
                    sys.exit(f"worker: {e}")
                print(f"{e}; retrying", file=sys.stderr, flush=True)
                time.sleep(1)
            if args.once:
                return
    except KeyboardInterrupt:
        pass
    except BridgeError as e:
        sys.exit(f"worker: {e}")


if __name__ == "__main__":
    main()
