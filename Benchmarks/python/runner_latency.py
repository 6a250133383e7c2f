"""What a runner on another host costs (issue #22): the time from a task becoming ready to its
process starting on the remote runner, against the coordinator's own pool on its host in the same
run, and the traffic a running task's heartbeats make on the wire. Needs root (a network namespace
for the worker host, a veth pair to this one, CURVE over it). Run with the test venv's Python:

    sudo .venv/bin/python Benchmarks/python/runner_latency.py --bridge .build/release/kanban-bridge
    sudo .venv/bin/python Benchmarks/python/runner_latency.py --tasks 50 --window 10   # quicker

Prints p50/p99 of ready-to-start for both, their ratio, and heartbeat bytes per running task.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "Tests" / "interop" / "stand-ins" / "agent-cli.sh"


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def keypair(bridge, path):
    sh(bridge, "keys", "generate", str(path))
    fields = dict(l.split(": ", 1) for l in path.with_suffix(".key").read_text().splitlines() if not l.startswith("#"))
    return fields["public-key"], fields["secret-key"]


class Admin:
    def __init__(self, endpoint, server_pub, pub, sec):
        self.sock = zmq.Context.instance().socket(zmq.REQ)
        self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = server_pub.encode(), pub.encode(), sec.encode()
        self.sock.connect(endpoint)

    def __call__(self, op, **fields):
        self.sock.send(json.dumps({"op": op, **fields}).encode())
        if not self.sock.poll(10_000):
            raise RuntimeError(f"no reply to {op}")
        reply = json.loads(self.sock.recv())
        if not reply.get("ok"):
            raise RuntimeError(f"{op}: {reply}")
        return reply["result"]


def started(starts, task):
    for line in starts.read_text().splitlines() if starts.exists() else []:
        t, ns = line.split()
        if t == task:
            return int(ns)
    return None


def ready_to_start(admin, starts, lane, n):
    out = []
    for i in range(n):
        t0 = time.time_ns()
        task = admin("task.create", title=f"quick {i}", assignee=lane)["task"]["id"]
        deadline = time.monotonic() + 30
        while (ns := started(starts, task)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{lane}: task {task} never started")
            time.sleep(0.001)
        out.append((ns - t0) / 1e6)
    return out


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bridge", default=str(REPO / ".build" / "release" / "kanban-bridge"))
    ap.add_argument("--tasks", type=int, default=100, help="tasks per lane for ready-to-start")
    ap.add_argument("--window", type=int, default=20, help="seconds per traffic phase")
    ap.add_argument("--lease", type=int, default=6, help="lease of the measured claims (heartbeat every lease/3)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: it makes a network namespace for the worker host")
    tmp = Path(tempfile.mkdtemp(prefix="kb-runner-bench-"))
    tag = str(os.getpid() % 100000)
    ns, host_if, worker_if = f"kbrb{tag}", f"kbrh{tag}", f"kbrw{tag}"
    board_addr, worker_addr = "10.78.1.1", "10.78.1.2"
    procs = []
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", worker_if)
        sh("ip", "link", "set", worker_if, "netns", ns)
        sh("ip", "addr", "add", f"{board_addr}/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{worker_addr}/24", "dev", worker_if],
                    ["ip", "link", "set", worker_if, "up"]):
            sh("ip", "netns", "exec", ns, *cmd)
        server_pub, _ = keypair(args.bridge, tmp / "server")
        admin_pub, admin_sec = keypair(args.bridge, tmp / "admin")
        keypair(args.bridge, tmp / "remote")
        starts, gate = tmp / "starts", tmp / "gate"
        endpoint = f"tcp://{board_addr}:5555"
        env = {**os.environ, "STANDIN_STARTS": str(starts), "STANDIN_GATE": str(gate), "HERMES_HOME": str(tmp / "hermes")}
        log = open(tmp / "bridge.log", "ab")
        procs.append(subprocess.Popen([args.bridge, "serve", "--db", str(tmp / "kanban.db"), "--command-endpoint", endpoint,
                                       "--event-endpoint", f"tcp://{board_addr}:5556", "--curve-secret-key", str(tmp / "server.key"),
                                       "--curve-admin-key", str(tmp / "admin.pub")], env=env, stdout=log, stderr=log))
        admin = Admin(endpoint, server_pub, admin_pub, admin_sec)
        remote_pub = [l.split(": ")[1] for l in (tmp / "remote.pub").read_text().splitlines() if l.startswith("public-key")][0]
        deadline = time.monotonic() + 30
        while True:
            try:
                admin("lane.register", name="remote", kind="persistent", max_concurrency=3, lease_seconds=args.lease,
                      curve_public_key=remote_pub)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                admin.sock.close(0)
                admin = Admin(endpoint, server_pub, admin_pub, admin_sec)
        admin("lane.register", name="local", kind="pool", max_concurrency=3, command=[str(STANDIN), "{title}"])
        rlog = open(tmp / "runner.log", "ab")
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns, args.bridge, "runner", "--endpoint", endpoint, "--lane", "remote",
                                       "--slots", "3", "--curve-server-key", str(tmp / "server.pub"), "--curve-key", str(tmp / "remote.key"),
                                       "--workspace-root", str(tmp / "ws"), "--", str(STANDIN), "{title}"],
                                      env=env, stdout=rlog, stderr=rlog))
        ready_to_start(admin, starts, "remote", 3)  # warm-up: the runner is connected and parked
        ready_to_start(admin, starts, "local", 3)
        remote = ready_to_start(admin, starts, "remote", args.tasks)
        local = ready_to_start(admin, starts, "local", args.tasks)
        print(f"ready-to-start over {args.tasks} tasks each (a task created while a slot waits; ms):")
        for name, v in (("remote runner (CURVE, veth)", remote), ("coordinator's own pool", local)):
            print(f"  {name:30s} p50 {statistics.median(v):7.1f}  p99 {pct(v, 99):7.1f}  max {max(v):7.1f}")
        print(f"  ratio remote/local            p50 {statistics.median(remote) / statistics.median(local):7.2f}  "
              f"p99 {pct(remote, 99) / pct(local, 99):7.2f}")

        def wire_bytes():
            stats = f"/sys/class/net/{worker_if}/statistics"
            return sum(int(sh("ip", "netns", "exec", ns, "cat", f"{stats}/{d}_bytes").stdout) for d in ("rx", "tx"))

        b0 = wire_bytes()
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.window:
            time.sleep(0.2)
        idle = (wire_bytes() - b0) / args.window
        slow = [admin("task.create", title=f"slow {i}", assignee="remote")["task"]["id"] for i in range(3)]
        while not all(started(starts, t) for t in slow):
            time.sleep(0.01)
        b0 = wire_bytes()
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.window:
            time.sleep(0.2)
        busy = (wire_bytes() - b0) / args.window
        gate.touch()
        per_task = (busy - idle) / 3
        beats_per_s = 3 / args.lease
        print(f"heartbeat traffic (lease {args.lease} s: one heartbeat per {args.lease / 3:.0f} s per claim; both directions, IP bytes):")
        print(f"  idle runner (parked claim, reports): {idle:8.1f} B/s")
        print(f"  per running task, quiet worker:      {per_task:8.1f} B/s = {per_task / beats_per_s:6.0f} B per heartbeat")
        print(f"  at the default 900 s lease:          {per_task / beats_per_s / 300 * 60:8.2f} B/min per running task")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


if __name__ == "__main__":
    main()
