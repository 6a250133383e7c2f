"""Instructions the coordinator executes per task, under callgrind (repeatable on a shared machine).

One worker claims, then completes with claim_next until the board is empty, every request with a
request_id, as the lifecycle benchmark does. Two runs (SMALL and LARGE tasks) are subtracted, so start-up
and shut-down cancel out and what is left is the cost of one task:

    swift build -c release --product kanban-bridge
    .venv/bin/python Benchmarks/python/instructions_per_task.py --bridge .build/release/kanban-bridge

valgrind 3.19 cannot read Swift 6's debug info, so the binary is copied and `strip --strip-debug`ped.
Prints instructions per task (Ir), and the same for another build when given `--compare OTHER_BINARY`.
"""
import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import zmq

from wire import call as send_json, free_port


def call(sock, msg):
    return send_json(sock, msg, timeout_ms=600_000)  # callgrind runs the coordinator ~50x slower


def serve(binary, db, cmd, evt, valgrind_out=None):
    argv = [binary, "serve", "--db", str(db), "--command-endpoint", cmd, "--event-endpoint", evt, "--log-level", "error"]
    if valgrind_out:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind_out}"] + argv
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANBAN_")}
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(str(db) + ".log", "ab"), env=env)


def wait_ping(cmd):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        s = zmq.Context.instance().socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(cmd)
        s.send(b'{"op":"ping"}')
        if s.poll(500):
            s.recv()
            s.close()
            return
        s.close()
    raise RuntimeError("coordinator did not start")


def board_with(binary, work, tasks):
    """A board with a lane `bench` and `tasks` ready tasks for it; returns (db, lane token)."""
    db = work / f"board-{tasks}.db"
    cmd, evt = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    proc = serve(binary, db, cmd, evt)
    wait_ping(cmd)
    admin = (work / "admin.token").read_text().strip()
    s = zmq.Context.instance().socket(zmq.REQ)
    s.connect(cmd)
    token = call(s, {"op": "lane.register", "auth": admin, "name": "bench", "claim_mode": "pull"})["result"]["token"]
    s.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    c = sqlite3.connect(db)
    c.execute("""WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
        INSERT INTO tasks (id, title, assignee, status, priority, created_by, created_at)
        SELECT printf('t_%08x', x), 'bench task ' || x, 'bench', 'ready', 0, 'bench', 1 FROM n""", (tasks,))
    c.commit()
    c.close()
    return db, token


def instructions(binary, work, tasks):
    db, token = board_with(binary, work, tasks)
    out = work / f"callgrind-{tasks}.out"
    cmd, evt = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    proc = serve(binary, db, cmd, evt, valgrind_out=out)
    wait_ping(cmd)
    s = zmq.Context.instance().socket(zmq.REQ)
    s.connect(cmd)
    rid = lambda: uuid.uuid4().hex
    r = call(s, {"op": "claim", "auth": token, "lane": "bench", "request_id": rid()})["result"]
    done = 0
    while r.get("task"):
        nxt = call(s, {"op": "complete", "auth": token, "task_id": r["task"]["id"], "claim_token": r["claim"]["token"],
                       "result": "ok", "claim_next": True, "request_id": rid()})["result"]
        done += 1
        r = nxt.get("next") or {}
    s.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    assert done == tasks, (done, tasks)
    text = out.read_text(errors="replace")
    m = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.M)
    return int(m.group(1))


def per_task(binary, small, large, keep):
    work = Path(tempfile.mkdtemp(prefix="callgrind-"))
    stripped = work / "kanban-bridge"
    shutil.copy(binary, stripped)
    subprocess.run(["strip", "--strip-debug", str(stripped)], check=True)
    totals = []
    for name, tasks in (("small", small), ("large", large)):
        (work / name).mkdir()
        totals.append(instructions(str(stripped), work / name, tasks))
    if keep:
        print(f"kept in {work} (callgrind_annotate {work}/large/callgrind-{large}.out)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return (totals[1] - totals[0]) / (large - small)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--compare", help="another kanban-bridge binary, measured the same way in the same run")
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--large", type=int, default=1200)
    ap.add_argument("--keep", action="store_true", help="keep the boards and callgrind files")
    args = ap.parse_args()
    for binary in [args.bridge] + ([args.compare] if args.compare else []):
        ir = per_task(binary, args.small, args.large, args.keep)
        print(f"{binary}: {ir / 1e6:.2f} M instructions per task (claim, then complete with claim_next; "
              f"({args.large} - {args.small} tasks) under callgrind)")


if __name__ == "__main__":
    main()
