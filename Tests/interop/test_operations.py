"""Operating the coordinator: `doctor`, `stats` and `backup` against real boards, configs and sockets."""
import hashlib
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import BIN, clean_env, free_port, ok, wait_for

HERMES = Path(sys.executable).parent / "hermes"


def doctor(*args, db, timeout=60):
    """Runs `kanban-bridge doctor`; returns (exit code, stdout)."""
    proc = subprocess.run([BIN, "doctor", "--db", str(db), *args], env=clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def lines(out, level):
    return [line for line in out.splitlines() if line.startswith(level)]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_doctor_passes_a_healthy_deployment(bridge, tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text(f"coordinator:\n  command_endpoint: {bridge.command_endpoint}\n  event_endpoint: {bridge.event_endpoint}\n"
                      "workers:\n  factory:\n    mode: persistent\n")
    code, out = doctor("--config", str(config), db=bridge.db_path)
    assert code == 0, out
    assert lines(out, "FAIL") == [], out
    assert "answers: kanban-bridge" in out and "admin token beside" in out and "accepts connections" in out, out
    assert out.rstrip().endswith("no problems found")


def test_doctor_finds_an_unreachable_command_endpoint(bridge):
    dead = f"tcp://127.0.0.1:{free_port()}"
    code, out = doctor("--endpoint", dead, "--event-endpoint", bridge.event_endpoint, "--timeout", "300", db=bridge.db_path)
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert dead in fail and "did not answer a ping within 300 ms" in fail and "kanban-bridge serve" in fail, out


def test_doctor_finds_an_unreachable_event_endpoint(bridge):
    dead = f"tcp://127.0.0.1:{free_port()}"
    code, out = doctor("--endpoint", bridge.command_endpoint, "--event-endpoint", dead, "--timeout", "300", db=bridge.db_path)
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert fail.startswith("FAIL  event socket") and dead in fail and "connection refused" in fail, out


def test_doctor_says_when_the_coordinator_serves_another_board(bridge, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "admin.token").write_text("at_not-this-coordinators-token\n")
    (other / "admin.token").chmod(0o600)
    code, out = doctor("--endpoint", bridge.command_endpoint, "--event-endpoint", bridge.event_endpoint,
                       db=other / "kanban.db")
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert "refuses the admin token" in fail and "another board" in fail, out


def test_doctor_reports_a_bad_config_line_with_file_line_and_column(tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n  factory:\n    mode: persistent\n    max_concurency: 2\n")
    code, out = doctor("--config", str(config), "--no-sockets", db=tmp_path / "kanban.db")
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert f"{config}:4:5: unknown setting 'max_concurency'" in fail, out


def test_doctor_reports_a_yaml_syntax_error_with_its_line(tmp_path):
    config = tmp_path / "bridge.yaml"
    config.write_text("workers:\n  factory: {mode: persistent\n  pool: x\n")
    code, out = doctor("--config", str(config), "--no-sockets", db=tmp_path / "kanban.db")
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert f"{config}:3:" in fail and "not valid YAML" in fail, out


def test_doctor_refuses_an_incompatible_board_without_touching_it(tmp_path):
    db = tmp_path / "kanban.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    before = digest(db)
    code, out = doctor("--no-sockets", db=db)
    assert code == 1, out
    [fail] = lines(out, "FAIL")
    assert "not a Hermes Kanban board" in fail and "notes" in fail, out
    assert digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kanban.db"]  # no -wal, -shm or admin.token either


def test_doctor_refuses_an_old_hermes_board_and_a_file_that_is_not_sqlite(tmp_path):
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, status TEXT NOT NULL)")
    code, out = doctor("--no-sockets", db=old)
    assert code == 1 and "lacks column(s)" in out and "hermes kanban init" in out, out

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, just text " * 200)
    before = digest(junk)
    code, out = doctor("--no-sockets", db=junk)
    assert code == 1 and "is not an SQLite database" in out, out
    assert digest(junk) == before


def test_doctor_accepts_a_board_hermes_made_and_leaves_it_untouched(tmp_path):
    home = tmp_path / "hermes-home"
    home.mkdir()
    env = clean_env(HERMES_HOME=str(home))
    subprocess.run([str(HERMES), "kanban", "init"], env=env, check=True, capture_output=True, timeout=60)
    subprocess.run([str(HERMES), "kanban", "create", "Build widget", "--assignee", "factory"], env=env, check=True,
                   capture_output=True, timeout=60)
    db = home / "kanban.db"
    before = digest(db)
    code, out = doctor("--no-sockets", db=db)
    assert code == 0, out
    assert "Hermes board (1 tasks) the bridge has not opened yet" in out, out
    assert digest(db) == before
    assert not (home / "admin.token").exists()


def test_stats_counts_lanes_throughput_and_claim_latency(bridge):
    token = bridge.register_lane("factory", max_concurrency=2)
    for title in ("one", "two", "three"):
        bridge.admin("task.create", title=title, assignee="factory")
    bridge.admin("task.create", title="nobody's", assignee="orphan")
    for _ in range(2):
        got = ok(bridge.call("claim", auth=token, lane="factory"))
        ok(bridge.call("complete", auth=token, task_id=got["task"]["id"], claim_token=got["claim"]["token"]))
    held = ok(bridge.call("claim", auth=token, lane="factory"))["task"]["id"]

    stats = ok(bridge.call("stats", auth=token, window_seconds=600))  # lanes may read stats
    by_lane = {lane["lane"]: lane for lane in stats["lanes"]}
    factory = by_lane["factory"]
    assert factory["registered"] and factory["max_concurrency"] == 2 and factory["running"] == 1
    assert factory["tasks"] == {"done": 2, "running": 1}
    assert factory["window"]["claimed"] == 3 and factory["window"]["completed"] == 2
    assert factory["throughput_per_min"] == round(2 / 10, 3)
    latency = factory["claim_latency_ms"]
    assert latency["count"] == 3 and 0 <= latency["p50"] <= latency["p90"] <= latency["max"]
    assert by_lane["orphan"]["registered"] is False and by_lane["orphan"]["tasks"] == {"ready": 1}
    assert stats["totals"]["completed"] == 2 and stats["window_seconds"] == 600

    text = bridge.cli("stats").stdout
    row = next(line for line in text.splitlines() if line.startswith("factory"))
    assert row.split()[:7] == ["factory", "1/2", "0", "0", "2", "3", "2"], text
    assert held  # still running: counted in RUNNING, not in DONE


def test_stats_window_leaves_out_older_events(bridge):
    token = bridge.register_lane("factory")
    bridge.admin("task.create", title="old", assignee="factory")
    got = ok(bridge.call("claim", auth=token, lane="factory"))
    ok(bridge.call("complete", auth=token, task_id=got["task"]["id"], claim_token=got["claim"]["token"]))

    def factory(window_seconds):
        stats = ok(bridge.call("stats", auth=bridge.admin_token, window_seconds=window_seconds))
        return next(lane for lane in stats["lanes"] if lane["lane"] == "factory")

    # Positive control: a window that reaches back to the claim counts it.
    assert factory(3600)["window"]["completed"] == 1
    # Once the completion is older than a second, a one-second window leaves it (and the claim) out.
    # Polled: when "a second ago" has passed is the coordinator's clock's business, not the test's.
    recent = wait_for(lambda: (lane := factory(1))["window"]["completed"] == 0 and lane,
                      "the one-second window has moved past the completion")
    assert recent["tasks"] == {"done": 1}  # the board now
    assert recent["claim_latency_ms"] is None  # nothing in the last second
    assert factory(3600)["window"]["completed"] == 1, "the longer window still counts it"


def test_stats_refuses_a_bad_window(bridge):
    reply = bridge.call("stats", auth=bridge.admin_token, window_seconds=0)
    assert reply["error"]["code"] == "bad_request"
    assert bridge.call("stats")["error"]["code"] == "unauthorized"


def test_backup_copies_a_live_board_that_serve_can_open(bridge, tmp_path):
    token = bridge.register_lane("factory")
    task_id = bridge.admin("task.create", title="Keep me", assignee="factory")["task"]["id"]
    ok(bridge.call("claim", auth=token, lane="factory"))
    copy = tmp_path / "backup" / "kanban.db"
    copy.parent.mkdir()
    out = subprocess.run([BIN, "backup", "--db", str(bridge.db_path), str(copy)], env=clean_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone() == ("running",)
        assert conn.execute("SELECT COUNT(*) FROM bridge_claims WHERE ended_at_ms IS NULL").fetchone() == (1,)
    code, report = doctor("--no-sockets", db=copy)
    assert re.search(r"bridge tables v\d+: 1 tasks, 1 lanes", report), report
    again = subprocess.run([BIN, "backup", "--db", str(bridge.db_path), str(copy)], env=clean_env(), capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_doctor_shows_hermes_caps_that_lanes_use_up(bridge, tmp_path):
    """Hermes' kanban.max_in_progress counts every running task, lanes' claims included: doctor says so."""
    home = tmp_path / "hermes-home"
    home.mkdir()
    (home / "config.yaml").write_text("kanban:\n  max_in_progress: 1\n  max_spawn: 3\n")
    token = bridge.register_lane("factory")
    bridge.admin("task.create", title="held by a lane", assignee="factory")
    assert bridge.call("claim", auth=token, lane="factory")["result"]["task"]
    code, out = doctor("--hermes-home", str(home), "--no-sockets", db=bridge.db_path)
    [warn] = [line for line in lines(out, "warn") if "hermes caps" in line]
    assert "Spawned: 0" in warn and "lanes hold 1 of its 1 slots" in warn and "1 (kanban.max_in_progress)" in warn, out
    assert "set kanban.max_in_progress in" in warn, out
    assert "max_spawn 3" in warn, out

    (home / "config.yaml").write_text("kanban:\n  max_in_progress: 5\n")
    code, out = doctor("--hermes-home", str(home), "--no-sockets", db=bridge.db_path)
    assert "Hermes may start 4 more" in out and not [l for l in lines(out, "warn") if "hermes caps" in l], out
    code, out = doctor("--hermes-home", str(tmp_path / "nowhere"), "--no-sockets", db=bridge.db_path)
    # Unset: Hermes 0.21+ derives a cap from the host's memory, 0.19 applies none; doctor says both.
    [line] = [l for l in out.splitlines() if "hermes caps" in l]
    assert "Hermes 0.19 applies no cap when it is unset" in line and "clamp(" in line, out
