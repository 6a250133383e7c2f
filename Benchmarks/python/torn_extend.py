"""Soak: Hermes writes to the board in a loop (its own `write_txn`, which checks the file's length
against the header's page count after every commit) while lanes work through the coordinator.
Counts Hermes' "torn-extend detected" errors. Run with the test venv's Python:

    .venv/bin/python Benchmarks/python/torn_extend.py --bridge .build/release/kanban-bridge --seconds 60
    .venv/bin/python Benchmarks/python/torn_extend.py --hermes-alone --seconds 60

Prints one line: the writes Hermes made, how many failed the check, and the coordinator's task rate.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

from wire import call, free_port


def lane_worker(endpoint, token, stop, done):
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(endpoint)
    while not stop.is_set():
        r = call(sock, {"op": "claim", "auth": token, "lane": "factory"})
        claim = (r.get("result") or {}).get("claim")
        if not claim:
            continue
        call(sock, {"op": "complete", "auth": token, "task_id": r["result"]["task"]["id"],
                    "claim_token": claim["token"], "result": "ok"})
        done[0] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", help="kanban-bridge binary (omit with --hermes-alone)")
    ap.add_argument("--hermes-alone", action="store_true", help="no coordinator: Hermes' writers only")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--hermes-writers", type=int, default=2)
    ap.add_argument("--lanes", type=int, default=4)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="torn-soak-"))
    os.environ["HERMES_HOME"] = str(work)
    os.environ["HERMES_KANBAN_DB"] = str(work / "kanban.db")
    from hermes_cli import kanban_db as kdb

    proc = None
    stop = threading.Event()
    done = [0]
    threads = []
    if not args.hermes_alone:
        cmd, evt = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        log = open(work / "bridge.log", "wb")
        proc = subprocess.Popen([args.bridge, "serve", "--db", str(work / "kanban.db"), "--command-endpoint", cmd,
                                 "--event-endpoint", evt, "--log-level", "warning"], stdout=log, stderr=log)
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.connect(cmd)
        while not (work / "admin.token").exists():
            time.sleep(0.05)
        admin = (work / "admin.token").read_text().strip()
        token = call(sock, {"op": "lane.register", "auth": admin, "name": "factory", "max_concurrency": 64})["result"]["token"]

        def feeder():
            s = zmq.Context.instance().socket(zmq.REQ)
            s.connect(cmd)
            while not stop.is_set():
                call(s, {"op": "task.create", "auth": admin, "title": "load " + "x" * 200, "body": "y" * 2000,
                         "assignee": "factory"})
        threads.append(threading.Thread(target=feeder, daemon=True))
        for _ in range(args.lanes):
            threads.append(threading.Thread(target=lane_worker, args=(cmd, token, stop, done), daemon=True))
    else:
        conn = kdb.connect()
        conn.close()

    writes, torn, other = [0], [0], [0]

    def hermes_writer():
        conn = kdb.connect()
        while not stop.is_set():
            try:
                kdb.create_task(conn, title="hermes " + "h" * 200, body="b" * 2000, assignee="nobody")
                writes[0] += 1
            except Exception as e:  # noqa: BLE001 - counting what Hermes raises
                if "torn-extend" in str(e):
                    torn[0] += 1
                else:
                    other[0] += 1
                    if other[0] < 3:
                        print("other error:", e, file=sys.stderr)
        conn.close()

    for _ in range(args.hermes_writers):
        threads.append(threading.Thread(target=hermes_writer, daemon=True))
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    time.sleep(1)
    if proc:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    mode = "hermes alone" if args.hermes_alone else f"with the coordinator ({args.bridge})"
    print(f"{mode}: {writes[0]} Hermes writes in {args.seconds:.0f} s, {torn[0]} torn-extend errors "
          f"({100.0 * torn[0] / max(1, writes[0] + torn[0]):.2f}%), {other[0]} other errors; "
          f"lanes completed {done[0]} tasks ({done[0] / args.seconds:.0f}/s)")


if __name__ == "__main__":
    main()
