"""`kanban-worker module:function --lane L`: runs one handler as a lane worker, without writing the loop.

The endpoint and credential come from the same variables the kanban-bridge CLI reads
(KANBAN_BRIDGE_ENDPOINT, KANBAN_LANE_TOKEN; with CURVE KANBAN_CURVE_SERVER_KEY and KANBAN_CURVE_KEY_FILE),
or from the options."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from .client import Client
from .errors import KanbanError
from .keys import CurveKeys
from .worker import Handler, Worker


def load_handler(spec: str) -> Handler:
    """`package.module:function` (the current directory is importable, as with `python -m`)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"kanban-worker: expected module:function, got {spec!r}")
    sys.path.insert(0, os.getcwd())
    target: object = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise SystemExit(f"kanban-worker: {spec} is not callable")
    handler: Handler = target
    return handler


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanban-worker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("handler", help="module:function taking a kanban_bridge.Job; its return value completes the task")
    p.add_argument("--lane", default=os.environ.get("KANBAN_LANE"), help="the lane to work for ($KANBAN_LANE)")
    p.add_argument("--endpoint", help="command socket ($KANBAN_BRIDGE_ENDPOINT, else tcp://127.0.0.1:5555)")
    p.add_argument("--event-endpoint", help="event socket, for --watch ($KANBAN_EVENT_ENDPOINT, else tcp://127.0.0.1:5556)")
    p.add_argument("--token", help="the lane's token ($KANBAN_LANE_TOKEN)")
    p.add_argument("--curve-server-key", help="CURVE: the coordinator's public key or .pub file ($KANBAN_CURVE_SERVER_KEY)")
    p.add_argument("--curve-key", help="CURVE: the lane's .key file ($KANBAN_CURVE_KEY_FILE)")
    p.add_argument("--slots", type=int, default=1, help="tasks run at once (default 1)")
    p.add_argument("--wait-ms", type=int, default=30_000, help="how long each claim waits for work (default 30000)")
    p.add_argument("--lease-seconds", type=int, help="lease to ask for (default: the lane's)")
    p.add_argument("--drain-seconds", type=float, default=30.0,
                   help="on SIGTERM/SIGINT, how long running tasks may finish before they are released (default 30)")
    p.add_argument("--watch", action="store_true", help="a watch lane: claim what 'available' events name")
    p.add_argument("--tasks", type=int, help="exit after this many tasks")
    p.add_argument("--idle-exit", action="store_true", help="exit when no task arrives within --wait-ms")
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s",
                        stream=sys.stdout)
    if not args.lane:
        print("kanban-worker: give --lane (or set KANBAN_LANE)", file=sys.stderr)
        return 2
    try:
        curve = (CurveKeys.load(args.curve_server_key, args.curve_key) if args.curve_server_key and args.curve_key
                 else CurveKeys.from_env())
        client = Client.from_env(args.endpoint, args.token, curve=curve)
        if client.token is None and client.curve is None:
            print("kanban-worker: no credential: set KANBAN_LANE_TOKEN (or --token), or CURVE keys", file=sys.stderr)
            return 2
        worker = Worker(client, slots=args.slots, wait_ms=args.wait_ms, lease_seconds=args.lease_seconds,
                        drain_s=args.drain_seconds, event_endpoint=args.event_endpoint)
        worker.handler(args.lane, watch=args.watch)(load_handler(args.handler))
        worker.run(max_tasks=args.tasks, idle_exit=args.idle_exit)
    except KanbanError as e:
        print(f"kanban-worker: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
