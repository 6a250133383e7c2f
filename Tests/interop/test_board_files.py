"""The files beside a real `kanban-bridge serve`: who can read the board, which admin.token it trusts,
and what it does with a board file that is damaged, cut short or empty (issue #12, findings 2 to 4)."""
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, _plain_ping, _start, _stop, clean_env, free_port, ok, request, wait_for

COMPANIONS = ("kanban.db", "kanban.db-wal", "kanban.db-shm")


def mode(path):
    return stat.S_IMODE(Path(path).stat().st_mode)


def serve_once(tmp_path, *extra, db=None):
    """Runs `serve` that is expected to refuse (exit at once); returns (exit code, stderr)."""
    db = db or tmp_path / "kanban.db"
    proc = subprocess.run([BIN, "serve", "--db", str(db), "--command-endpoint", f"tcp://127.0.0.1:{free_port()}",
                           "--event-endpoint", f"tcp://127.0.0.1:{free_port()}", *extra],
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stderr


def doctor(db):
    proc = subprocess.run([BIN, "doctor", "--no-sockets", "--db", str(db)], env=clean_env(), capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


# Finding 2: the board is not for every local user.

def test_new_board_is_0600(tmp_path):
    proc, *_ = _start(tmp_path)
    try:
        assert {name: oct(mode(tmp_path / name)) for name in COMPANIONS} == {name: "0o600" for name in COMPANIONS}
    finally:
        _stop(proc)


def test_board_mode_0660_shares_with_group(tmp_path):
    proc, *_ = _start(tmp_path, ["--board-mode", "0660"])
    try:
        assert {name: oct(mode(tmp_path / name)) for name in COMPANIONS} == {name: "0o660" for name in COMPANIONS}
    finally:
        _stop(proc)


def test_board_mode_refuses_world_bits(tmp_path):
    code, err = serve_once(tmp_path, "--board-mode", "0644")
    assert code != 0 and "--board-mode must be 0600, 0640 or 0660" in err, err
    assert not (tmp_path / "kanban.db").exists()


def test_readable_board_is_warned_not_changed(tmp_path):
    proc, *_, log = _start(tmp_path)
    _stop(proc)
    for name in COMPANIONS:
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o644)
    log.write_text("")
    proc, *_ = _start(tmp_path)
    try:
        board = tmp_path / "kanban.db"
        warned = [line for line in log.read_text().splitlines() if "readable by every local user" in line]
        assert any(f"chmod 600 {board}" in line and "mode=644" in line for line in warned), log.read_text()
        assert mode(board) == 0o644, "an existing board is not chmod-ed"
    finally:
        _stop(proc)
    code, out = doctor(board)
    [warn] = [line for line in out.splitlines() if line.startswith("warn") and f"{board} is readable" in line]
    assert "mode 644" in warn and f"chmod 600 {board}" in warn, out


def test_backup_copy_is_0600(tmp_path):
    proc, *_ = _start(tmp_path)
    try:
        copy = tmp_path / "copy.db"
        out = subprocess.run([BIN, "backup", "--db", str(tmp_path / "kanban.db"), str(copy)], env=clean_env(),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert oct(mode(copy)) == "0o600"
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        _stop(proc)


# Finding 3: serve trusts only an admin.token that is its own, private, and cannot be swapped.

NOBODY = 65534
PLANTED = "planted-by-another-user\n"  # not token-shaped: the test run's output is scanned for tokens


def plant(path, content=PLANTED, mode=0o600, uid=None):
    path.write_text(content)
    path.chmod(mode)
    if uid is not None:
        os.chown(path, uid, -1)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(tmp_path, token, problem, db=None, code=2):
    """serve refuses to start over `token`, says what is wrong and what to do, and touches nothing."""
    before = hashlib.sha256(token.read_bytes()).hexdigest() if token.exists() else None
    db = db or token.parent / "kanban.db"
    existed = db.exists()
    exit_code, err = serve_once(tmp_path, db=db)
    assert exit_code == code, err
    assert f"refusing the admin token file {token}: " in err and problem in err, err
    assert "Remove it" in err or "chmod" in err, err
    after = hashlib.sha256(token.read_bytes()).hexdigest() if token.exists() else None
    assert after == before, "never overwritten, never created"
    assert db.exists() == existed, "refused before the board was touched"
    return err


def test_token_owned_by_other_is_refused(tmp_path):
    proc, *_ = _start(tmp_path)  # a board and its own token...
    _stop(proc)
    token = tmp_path / "admin.token"
    plant(token, uid=NOBODY)  # ...replaced by another user's
    err = assert_refused(tmp_path, token, "is owned by uid 65534")
    assert "another user may have put it there" in err, err
    code, out = doctor(tmp_path / "kanban.db")
    assert code == 1, out
    [fail] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert "admin token" in fail and "owned by uid 65534" in fail, out


def test_group_readable_token_is_refused(tmp_path):
    token = tmp_path / "admin.token"
    plant(token, mode=0o640)
    assert_refused(tmp_path, token, "has mode 0640")


def test_symlinked_token_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    plant(target)
    token = tmp_path / "admin.token"
    token.symlink_to(target)
    assert_refused(tmp_path, token, "is a symbolic link")
    assert token.is_symlink()


def test_open_directory_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may rename or delete what is in it
    token = shared / "admin.token"
    assert_refused(tmp_path, token, "can be written by other users and has no sticky bit")
    assert not token.exists()
    plant(token)  # our own, private token does not help: it could be swapped
    assert_refused(tmp_path, token, f"its directory {shared} (mode 0777)")


def test_sticky_directory_is_fine(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: only a file's owner may rename or delete it
    proc, *_ = _start(shared)
    _stop(proc)
    token = shared / "admin.token"
    assert token.stat().st_uid == os.geteuid() and mode(token) == 0o600
    before = hashlib.sha256(token.read_bytes()).hexdigest()
    proc, cmd_ep, *_ = _start(shared)  # the token it wrote is used again
    try:
        reply = request(cmd_ep, json.dumps({"op": "lane.list", "auth": token.read_text().strip()}).encode())
        assert reply.get("ok") is True, reply
    finally:
        _stop(proc)
    assert hashlib.sha256(token.read_bytes()).hexdigest() == before


def test_env_token_wins(tmp_path):
    """With $KANBAN_BRIDGE_ADMIN_TOKEN set, admin.token plays no part: even a planted one does not stop serve."""
    plant(tmp_path / "admin.token", uid=NOBODY)
    cmd_ep = f"tcp://127.0.0.1:{free_port()}"
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN, "serve", "--db", str(tmp_path / "kanban.db"), "--command-endpoint", cmd_ep,
                                 "--event-endpoint", f"tcp://127.0.0.1:{free_port()}"],
                                env=clean_env(KANBAN_BRIDGE_ADMIN_TOKEN="from-the-environment"), stdout=out, stderr=out)
    try:
        for _ in range(60):  # each ping waits up to 0.5 s
            if proc.poll() is not None:
                break
            try:
                if _plain_ping(cmd_ep):
                    break
            except TimeoutError:
                pass
        assert proc.poll() is None, log.read_text()
        reply = request(cmd_ep, b'{"op":"lane.list","auth":"from-the-environment"}')
        assert reply.get("ok") is True, reply
    finally:
        _stop(proc)


# Finding 4: a damaged, cut short or empty board is refused, plainly, and left as it was.

RECOVER_HINT = '".recover" | sqlite3 recovered.db'


def closed_board(tmp_path, tasks=20):
    """A board made by `serve`, with tasks, stopped and checkpointed: everything is in the main file."""
    proc, cmd_ep, _, db, _ = _start(tmp_path)
    try:
        token = (tmp_path / "admin.token").read_text().strip()
        for n in range(tasks):
            ok(request(cmd_ep, json.dumps({"op": "task.create", "auth": token, "title": f"task {n}"}).encode()))
    finally:
        _stop(proc)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def trash_first_index(db):
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE type='index' LIMIT 1").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek(page_size * (root - 1))
        f.write(b"\xa5" * page_size)


def integrity(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:
        return [str(error)]


def fingerprint(path):
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_size, info.st_mtime_ns


def test_damaged_index_is_refused(tmp_path):
    db = closed_board(tmp_path)
    trash_first_index(db)
    assert integrity(db) != ["ok"]
    before = fingerprint(db)
    code, err = serve_once(tmp_path)
    assert code == 1, err
    assert f"cannot use the board: {db} is damaged" in err and RECOVER_HINT in err and '".dump" in its place' in err, err
    assert "kanban-bridge backup" in err, err
    assert "SQLite error" not in err, err
    assert fingerprint(db) == before, "the main file must be left byte for byte"
    code, out = doctor(db)
    assert code == 1, out
    [fail] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert f"board: {db} is damaged" in fail and RECOVER_HINT in fail, out
    assert fingerprint(db) == before


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
def test_recovery_advice_works(tmp_path):
    """The advice in the refusal, followed to the letter, gives a board serve takes."""
    db = closed_board(tmp_path)
    trash_first_index(db)
    recover = subprocess.run(f'sqlite3 {db} ".recover" | sqlite3 recovered.db', shell=True, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    recovered = tmp_path / "recovered.db"
    if recover.stderr or not recovered.exists() or recovered.stat().st_size == 0:
        # A shell built without .recover (Debian 12's says "SQL logic error"): the advice says .dump then.
        recovered.unlink(missing_ok=True)
        subprocess.run(f'sqlite3 {db} ".dump" | sqlite3 recovered.db', shell=True, cwd=tmp_path, check=True,
                       capture_output=True, timeout=60)
    for name in COMPANIONS:
        (tmp_path / name).unlink(missing_ok=True)
    recovered.rename(db)
    assert integrity(db) == ["ok"] and db.stat().st_size > 0
    proc, cmd_ep, *_ = _start(tmp_path)
    try:
        token = (tmp_path / "admin.token").read_text().strip()
        reply = ok(request(cmd_ep, json.dumps({"op": "task.list", "auth": token}).encode()))
        assert len(reply["tasks"]) == 20, reply
    finally:
        _stop(proc)


def test_cut_short_and_junk_are_plain(tmp_path):
    db = closed_board(tmp_path)
    data = db.read_bytes()
    # Half of what the header says the database holds (the file is longer: it grows in 1 MiB chunks).
    page_size, pages = int.from_bytes(data[16:18], "big"), int.from_bytes(data[28:32], "big")
    db.write_bytes(data[: page_size * pages // 2])
    code, cut = serve_once(tmp_path)
    assert code == 1 and f"cannot use the board: {db} is damaged" in cut and RECOVER_HINT in cut, cut
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, just text " * 400)
    code, err = serve_once(tmp_path, db=junk)
    assert code == 1 and err.strip() == f"kanban-bridge: cannot use the board: {junk} is not an SQLite database", err
    for out in (cut, err):
        assert "SQLite error" not in out and "Error:" not in out, out


def test_empty_file_needs_the_flag(tmp_path):
    db = tmp_path / "kanban.db"
    db.touch()
    code, err = serve_once(tmp_path)
    assert code == 1, err
    assert f"cannot use the board: {db} is empty (0 bytes)" in err and "--init-empty-board" in err, err
    assert db.stat().st_size == 0
    code, out = doctor(db)
    assert any(line.startswith("warn") and "is empty (0 bytes)" in line and "--init-empty-board" in line
               for line in out.splitlines()), out
    proc, *_ = _start(tmp_path, ["--init-empty-board"])
    _stop(proc)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone() == (0,)


# Issue #19, finding 3: one entry of the tasks primary-key index changed. quick_check passes, so serve
# starts; the entry hides its task from every lookup by id.

def change_primary_key_entry(db, task_id):
    """Changes the key of `task_id` in sqlite_autoindex_tasks_1, in the file's bytes, to one that sorts
    where it did and names no task (its last character)."""
    con = sqlite3.connect(db)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_tasks_1'").fetchone()[0]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    ids = [r[0] for r in con.execute("SELECT id FROM tasks ORDER BY id")]
    con.close()
    at = ids.index(task_id)
    before, after = (ids[at - 1] if at else ""), (ids[at + 1] if at + 1 < len(ids) else "\x7f")
    key = next(k for k in (task_id[:-1] + c for c in "0123456789abcdef") if k != task_id and before < k < after and k not in ids)
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        page = bytearray(f.read(page_size))
        assert page[0] == 0x0A, "a board this small has its whole index in one leaf page"
        hit = page.index(task_id.encode())
        page[hit:hit + len(key)] = key.encode()
        f.seek((root - 1) * page_size)
        f.write(page)


def test_damaged_primary_key_index_other_tasks_flow_and_the_damage_is_reported(tmp_path):
    proc, cmd, _, db, log = _start(tmp_path)
    token = (tmp_path / "admin.token").read_text().strip()
    admin = lambda op, **f: ok(request(cmd, json.dumps({"op": op, "auth": token, **f}).encode()))
    try:
        lane = admin("lane.register", name="factory", kind="persistent", claim_mode="pull-or-watch", max_concurrency=100)["token"]
        hidden = admin("task.create", title="hidden", assignee="factory", priority=10)["task"]["id"]
        others = {admin("task.create", title=f"t{i}", assignee="factory")["task"]["id"] for i in range(30)}
    finally:
        _stop(proc)  # a clean stop: the WAL is checkpointed into the file
    change_primary_key_entry(db, hidden)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    assert con.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
    con.close()

    proc, cmd, _, db, log = _start(tmp_path)
    try:
        claimed = set()
        for _ in range(len(others) + 5):
            reply = request(cmd, json.dumps({"op": "claim", "auth": lane, "lane": "factory"}).encode())
            task = ok(reply).get("task")
            if not task:
                break
            claimed.add(task["id"])
        assert claimed == others, "every task but the hidden one is claimed"
        assert request(cmd, json.dumps({"op": "task.get", "auth": token, "task_id": hidden}).encode())["error"]["code"] == "not_found"
        board = wait_for(lambda: (b := admin("stats")["board"])["integrity"] != "pending" and b,
                         "the background integrity check finished")
        assert board["integrity"] == "problems" and board["integrity_problems"] > 0
        assert board["quarantined"] == [hidden] and board["inconsistencies"] == 1
    finally:
        _stop(proc)
    text = log.read_text()
    assert any("error" in line and "contradicts itself" in line and hidden in line for line in text.splitlines()), text
    assert any("error" in line and "integrity check found problems" in line for line in text.splitlines()), text
    code, out = doctor(db)
    assert code == 1 and "REINDEX" in out, out
