#!/usr/bin/env python3
"""A persistent-lane KanbanBridge worker built on the kanban_bridge package (clients/python).

The package does the hard parts; this file is the work and the settings:
- claims with wait_ms (a pull lane), or, with --watch, claims the tasks `<lane>.available` events name;
- heartbeats from a thread every third of the lease while work() runs, with its progress note;
- completes with work()'s result; an error in work() blocks the task with the error as the reason;
- resends every request with the same request_id after a timeout, so a coordinator restart (even
  kill -9) in the middle of a task costs nothing;
- on SIGTERM or Ctrl-C stops claiming, lets the running task finish (--drain-seconds), then releases it.

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
import logging
import os
import sys
import time
from pathlib import Path

# In the repository, the package beside this example (so the example always runs the tree's code, installed
# or not); copied elsewhere, the installed one (`pip install ./clients/python`).
REPO_PACKAGE = Path(__file__).resolve().parent.parent.parent / "clients" / "python" / "src"
if (REPO_PACKAGE / "kanban_bridge").is_dir():
    sys.path.insert(0, str(REPO_PACKAGE))
import kanban_bridge  # noqa: E402

from kanban_bridge import Client, Job, KanbanError, Result, Worker  # noqa: E402


def work(job: Job, seconds: float) -> Result:
    """The actual job. Replace it with yours; `job.progress(note)` sets the note the next heartbeat sends."""
    steps = 5
    for i in range(1, steps + 1):
        time.sleep(seconds / steps)  # stand-in for real work
        job.progress(f"step {i}/{steps}")
    if "fail" in job.task.title.lower():
        raise RuntimeError("the task asked to fail")
    return Result(result=f"processed {job.task.title!r}", summary=f"done in {steps} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="exit after one task, or when none arrives within the wait")
    parser.add_argument("--tasks", type=int, default=0, help="exit after this many tasks (0: run until stopped)")
    parser.add_argument("--idle-exit", action="store_true", help="exit when no task arrives within the wait")
    parser.add_argument("--wait-ms", type=int, default=30000, help="how long each claim waits for work")
    parser.add_argument("--watch", action="store_true", help="claim the tasks of 'available' events (watch lanes)")
    parser.add_argument("--work-seconds", type=float, default=0.25, help="how long the stand-in work takes")
    parser.add_argument("--drain-seconds", type=float, default=30, help="on SIGTERM, how long the running task may finish")
    args = parser.parse_args()
    if args.once:
        args.tasks, args.idle_exit = 1, True
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    lane = os.environ.get("KANBAN_LANE")
    try:
        client = Client.from_env(give_up_after_s=120)
    except KanbanError as e:
        sys.exit(f"worker: {e}")
    if not lane or not (client.token or client.curve):
        sys.exit("set KANBAN_LANE and KANBAN_LANE_TOKEN (or, with CURVE, KANBAN_CURVE_SERVER_KEY and KANBAN_CURVE_KEY_FILE)")
    worker = Worker(client, wait_ms=args.wait_ms, drain_s=args.drain_seconds)

    @worker.handler(lane, watch=args.watch)
    def handle(job: Job) -> Result:
        return work(job, args.work_seconds)

    try:
        worker.run(max_tasks=args.tasks or None, idle_exit=args.idle_exit)
    except KanbanError as e:
        sys.exit(f"worker: {e}")
    print(f"worker: {worker.done} task(s) finished (kanban_bridge {kanban_bridge.__version__})")


if __name__ == "__main__":
    main()
