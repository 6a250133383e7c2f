"""Pooled runs of a Hermes profile and its durable memory (issue #26, docs/HERMES.md "Pooled runs and
profile memory"): `memory: propose` stages what a run wrote in the profile's own pending store, where
Hermes' `/memory pending` lists it; `read-only` drops it; `shared` writes as before. The workers are
stand-ins (memory_worker.py) that call Hermes' own memory tool and write gate, as a session does."""
import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import error_code, wait_for

WORKER = str(Path(__file__).with_name("memory_worker.py"))
START = "the deploy script lives in scripts/deploy"


def make_profile(bridge, name, entries=(START,)):
    """A Hermes profile under the coordinator's HERMES_HOME (the conftest gives it tmp/hermes-home),
    where `hermes -p NAME` would find it: memories, a config and the things a run only links to."""
    home = bridge.db_path.parent / "hermes-home" / "profiles" / name
    (home / "memories").mkdir(parents=True)
    (home / "memories" / "MEMORY.md").write_text("\n§\n".join(entries))
    (home / "config.yaml").write_text("model:\n  default: stand-in\nmemory:\n  memory_char_limit: 2200\n")
    (home / "skills").mkdir()
    (home / ".env").write_text("STAND_IN=1\n")
    return home


def hermes(profile_home, code):
    """Runs `code` with Hermes' own modules as a session of the profile would (HERMES_HOME = its home)."""
    env = {"HERMES_HOME": str(profile_home), "PATH": "/usr/bin:/bin", "HOME": str(profile_home.parent)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def pending(profile_home, subsystem="memory"):
    """The profile's pending writes, as Hermes' own `list_pending` reads them."""
    return json.loads(hermes(profile_home, f"import json; from tools import write_approval as wa; "
                                           f"print(json.dumps(wa.list_pending({subsystem!r})))"))


def pool(bridge, name, profile, *worker_args, max_concurrency=2, **fields):
    bridge.register_lane(name, kind="pool", max_concurrency=max_concurrency, profile=profile,
                         command=[sys.executable, WORKER, *worker_args], **fields)


def create_tasks(bridge, lane, count=1):
    return [bridge.admin("task.create", title=f"remember {i}", assignee=lane)["task"]["id"] for i in range(count)]


def run_tasks(bridge, lane, count=1, ids=None):
    ids = ids or create_tasks(bridge, lane, count)
    for task_id in ids:
        wait_for(lambda: bridge.admin("task.get", task_id=task_id)["task"]["status"] == "done",
                 lambda: f"{task_id} is done; log:\n{task_log(bridge, task_id)}")
    return ids


def task_log(bridge, task_id):
    path = bridge.db_path.parent / "kanban" / "logs" / f"{task_id}.log"
    return path.read_text() if path.exists() else "(no log)"


def comments(bridge, task_id):
    conn = sqlite3.connect(bridge.db_path)
    try:
        return [r[0] for r in conn.execute("SELECT body FROM task_comments WHERE task_id = ? ORDER BY id", (task_id,))]
    finally:
        conn.close()


def run_id(bridge, task_id):
    return bridge.admin("task.get", task_id=task_id)["task"]["runs"][-1]["id"]


def runs_root(bridge):
    return bridge.db_path.parent / "bridge-workspaces" / ".hermes-runs"


def test_propose_stages_memory_and_skill_writes_for_the_profiles_review(bridge):
    home = make_profile(bridge, "coder")
    before = (home / "memories" / "MEMORY.md").read_bytes()
    pool(bridge, "coders", "coder", "--skill", "deploy-notes", "staging needs VPN")
    lane = bridge.admin("lane.get", name="coders")["lane"]
    assert lane["memory"] == "propose" and lane["memory_default"] is True, lane
    [task_id] = run_tasks(bridge, "coders")
    run = run_id(bridge, task_id)
    wait_for(lambda: comments(bridge, task_id), "the run's proposals are summarized on the task")

    assert (home / "memories" / "MEMORY.md").read_bytes() == before, "the profile's memory is not written"
    log = task_log(bridge, task_id)
    assert f"read at start: {json.dumps([START])}" in log, "the run reads the profile's memory"
    assert f"/.hermes-runs/run-{run}/profiles/coder KANBAN_MEMORY=propose" in log, log

    [memory] = pending(home)
    assert memory["payload"] == {"action": "add", "target": "memory", "content": "staging needs VPN", "old_text": None}
    assert memory["summary"].startswith(f"[kanban task {task_id} run {run}] add to memory"), memory
    assert memory["kanban"] == {"task_id": task_id, "run_id": run, "lane": "coders"}
    [skill] = pending(home, "skills")
    assert skill["payload"]["name"] == "deploy-notes" and f"run {run}]" in skill["summary"], skill
    listed = hermes(home, "from hermes_cli.write_approval_commands import _fmt_pending_list; print(_fmt_pending_list('memory'))")
    assert memory["id"] in listed and f"run {run}" in listed, listed

    [comment] = comments(bridge, task_id)
    assert f"Run {run}" in comment and memory["id"] in comment and skill["id"] in comment, comment
    assert f"memory (propose): 2 write(s) staged in {home}/pending" in task_log(bridge, task_id)
    assert not (runs_root(bridge) / f"run-{run}").exists(), "the run's home is removed after it"
    assert (home / "config.yaml").read_text().startswith("model:"), "the owner's config is never written"

    # The owner approves with Hermes' own command: the entry reaches the profile's memory.
    out = hermes(home, "from hermes_cli.write_approval_commands import handle_pending_subcommand as h; "
                       "from tools.memory_tool import load_on_disk_store as s; "
                       f"print(h('memory', ['approve', {memory['id']!r}], memory_store=s()))")
    assert "Approved 1" in out, out
    assert "staging needs VPN" in (home / "memories" / "MEMORY.md").read_text()


def test_the_real_hermes_command_reads_the_runs_home(bridge):
    """A pool's default command (`hermes -p {profile} …`) loses its `-p {profile}` in a run with a home
    of its own: Hermes would let the flag win over HERMES_HOME. The real `hermes` then reads the run's
    config, whose gates differ from the profile's."""
    home = make_profile(bridge, "coder")
    hermes_bin = str(Path(sys.executable).parent / "hermes")
    pool(bridge, "coders", "coder", "--run", hermes_bin, "-p", "{profile}", "config", "get", "skills.write_approval")
    [task_id] = run_tasks(bridge, "coders")
    log = task_log(bridge, task_id)
    assert f"ran {hermes_bin} config get skills.write_approval: exit 0\ntrue\n" in log, log
    assert "write_approval" not in (home / "config.yaml").read_text()


def test_three_concurrent_runs_keep_every_proposal(bridge, tmp_path):
    home = make_profile(bridge, "coder")
    before = (home / "memories" / "MEMORY.md").read_bytes()
    # Each run adds the same entry and one of its own, once all three are running: each connects to
    # this socket and waits for the word, which goes out when the third has connected.
    barrier = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    barrier.bind(str(tmp_path / "barrier.sock"))
    barrier.listen(3)
    barrier.settimeout(60)
    pool(bridge, "coders", "coder", "--barrier", str(tmp_path / "barrier.sock"), "shared lesson", "lesson of {task_id}",
         max_concurrency=3)
    ids = create_tasks(bridge, "coders", 3)
    waiting = [barrier.accept()[0] for _ in ids]
    assert sorted(conn.recv(64).decode() for conn in waiting) == sorted(ids), "each run says which task it works"
    for conn in waiting:
        conn.sendall(b"go")
        conn.close()
    barrier.close()
    run_tasks(bridge, "coders", ids=ids)
    wait_for(lambda: all(comments(bridge, t) for t in ids), "every run's proposals are on its task")

    assert (home / "memories" / "MEMORY.md").read_bytes() == before
    records = pending(home)
    assert len(records) == 6 and len({r["id"] for r in records}) == 6, [r["id"] for r in records]
    runs = {run_id(bridge, t): t for t in ids}
    for run, task_id in runs.items():
        mine = sorted(r["payload"]["content"] for r in records if r["kanban"]["run_id"] == run)
        assert mine == sorted(["shared lesson", f"lesson of {task_id}"]), (run, mine)


def test_read_only_drops_writes_and_the_run_log_says_so(bridge):
    home = make_profile(bridge, "coder")
    before = (home / "memories" / "MEMORY.md").read_bytes()
    pool(bridge, "readers", "coder", "--skill", "notes", "something to forget", memory="read-only")
    [task_id] = run_tasks(bridge, "readers")
    run = run_id(bridge, task_id)
    wait_for(lambda: comments(bridge, task_id), "the dropped writes are summarized on the task")

    assert (home / "memories" / "MEMORY.md").read_bytes() == before
    assert pending(home) == [] and pending(home, "skills") == []
    log = task_log(bridge, task_id)
    assert f"read at start: {json.dumps([START])}" in log
    assert f"=== run {run} memory (read-only): 2 write(s) refused: dropped, not written" in log, log
    assert "something to forget" in log and "dropped" in comments(bridge, task_id)[0]


def test_shared_writes_the_profiles_memory_directly(bridge):
    home = make_profile(bridge, "coder")
    pool(bridge, "writers", "coder", "written at once", memory="shared")
    [task_id] = run_tasks(bridge, "writers")
    text = (home / "memories" / "MEMORY.md").read_text()
    assert START in text and "written at once" in text, text
    assert f"HERMES_HOME={home} " in task_log(bridge, task_id), "a profile's run gets the profile's home, as Hermes' own workers do"
    assert pending(home) == [] and comments(bridge, task_id) == []


def test_memory_owner_gets_a_task_to_review_each_runs_proposals(bridge):
    make_profile(bridge, "coder")
    bridge.register_lane("coder-owner", kind="persistent")
    pool(bridge, "coders", "coder", "worth keeping", memory_owner="coder-owner")
    [task_id] = run_tasks(bridge, "coders")
    run = run_id(bridge, task_id)

    def review_tasks():
        return bridge.admin("task.list", assignee="coder-owner")["tasks"]
    [review] = wait_for(review_tasks, "the owner lane gets a review task")
    assert review["title"] == f"review memory proposed by run {run} of task {task_id}", review
    assert review["status"] == "ready"
    assert "worth keeping" in bridge.admin("task.get", task_id=review["id"])["task"]["body"]
    assert "reviewed by coder-owner" in bridge.cli("lanes", "list").stdout


def test_memory_setting_is_checked_stored_and_shown(bridge):
    assert error_code(bridge.call("lane.register", auth=bridge.admin_token, name="nope", kind="pool",
                                  command=["true"], memory="propose")) == "bad_request", "no profile, no profile memory"
    assert error_code(bridge.call("lane.register", auth=bridge.admin_token, name="nope", kind="pool", profile="coder",
                                  command=["true"], memory="sometimes")) == "bad_request"
    bridge.register_lane("solo", kind="spawn", profile="coder", command=["true"])
    assert bridge.admin("lane.get", name="solo")["lane"]["memory"] == "shared", "one run at a time: shared"
    bridge.admin("lane.update", name="solo", memory="read-only")
    lanes = bridge.cli("lanes", "list").stdout
    assert "profile coder memory read-only" in lanes and "(default)" not in lanes, lanes
