"""The files beside a real `kanban-bridge serve`: who can read the board, which admin.token it trusts,
and what it does with a board file that is damaged, cut short or empty."""
import stat
import subprocess
from pathlib import Path

from conftest import BIN, _start, _stop, clean_env, free_port

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
