"""The CLIs' exit codes for usage errors agree with `--help` and the README: 2 means a bad request or
usage (issue #25, finding 4). The argument parser's own default is 64 (EX_USAGE)."""
import os
import re
import subprocess

import pytest

from conftest import BIN, REPO, clean_env

EVENTS_BIN = os.environ.get("KANBAN_EVENTS_BIN") or str(REPO / ".build" / "debug" / "kanban-events")


def run(args, binary=BIN):
    return subprocess.run([binary] + args, env=clean_env(), capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("args, says", [
    (["claim"], "--lane"),                                        # a required option missing
    (["task", "create", "x", "--priority", "abc"], "--priority"),  # a value that does not parse
    (["lanes", "list", "--no-such-option"], "--no-such-option"),   # an unknown option
    (["no-such-command"], "no-such-command"),                      # an unknown subcommand
])
def test_usage_errors_exit_2_and_say_what_was_wrong(args, says):
    proc = run(args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert says in proc.stderr and "Usage:" in proc.stderr, proc.stderr


def test_kanban_events_usage_error_exits_2():
    proc = run(["--no-such-option"], binary=EVENTS_BIN)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--no-such-option" in proc.stderr


def test_help_and_version_still_exit_0():
    for args in (["--help"], ["claim", "--help"], ["--version"]):
        proc = run(args)
        assert proc.returncode == 0, (args, proc.returncode, proc.stderr)
        assert proc.stdout.strip(), args


def test_help_text_and_readme_list_the_same_exit_codes():
    readme = (REPO / "README.md").read_text()
    listed = re.search(r"\*\*Exit codes:\*\* (.*?)\n\n", readme, re.S).group(1)
    listed = " ".join(listed.replace("`", "").replace(" · ", ", ").split())
    helped = " ".join(run(["--help"]).stdout.split())
    assert "Exit codes: " + listed in helped, (listed, helped)



def test_endpoint_help_names_the_variable_it_honours():
    assert "$KANBAN_BRIDGE_ENDPOINT" in " ".join(run(["ping", "--help"]).stdout.split())
    assert "$KANBAN_BRIDGE_ENDPOINT" in " ".join(run(["--help"], binary=EVENTS_BIN).stdout.split())
