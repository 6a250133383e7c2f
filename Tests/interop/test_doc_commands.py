"""Every `kanban-bridge` and `kanban-events` command line in README.md and docs/ names options that the
CLI has (issue #25, finding 5: the README listed `lanes register … --command`, which never existed).

Each command line found in the docs (in code blocks, inline code and the README's CLI reference table)
is parsed against the CLI's own `--help` for its subcommand: the subcommand must exist and every
`--option` it names must be one that subcommand accepts."""
import functools
import os
import re
import subprocess

from conftest import BIN, REPO, clean_env

EVENTS_BIN = os.environ.get("KANBAN_EVENTS_BIN") or str(REPO / ".build" / "debug" / "kanban-events")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bridge-config" / "README.md",
        *sorted((REPO / "examples").glob("*/README.md"))]
OPTION = re.compile(r"--[a-z][a-z0-9-]*")


@functools.lru_cache(maxsize=None)
def help_text(binary, path):
    proc = subprocess.run([binary, *path, "--help"], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, (path, proc.stderr)
    return proc.stdout


@functools.lru_cache(maxsize=None)
def subcommands(binary, path):
    text = help_text(binary, path)
    if "SUBCOMMANDS:" not in text:
        return frozenset()
    block = text.split("SUBCOMMANDS:", 1)[1]
    return frozenset(m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)(?: \(default\))?\s", block, re.M))


def options(binary, path):
    return set(OPTION.findall(help_text(binary, path))) | {"--help", "--version"}


def command_lines():
    """(file, line number, binary, the words after the program name) for each command in the docs."""
    found = []
    for doc in DOCS:
        if not doc.exists():
            continue
        in_reference = False
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            if line.startswith("## "):
                in_reference = doc.name == "README.md" and line.strip() == "## CLI reference"
            if in_reference and line.startswith("| `"):
                cell = re.split(r"(?<!\\)\|", line)[1]  # the first cell; `\|` inside it is a literal bar
                for command in re.findall(r"`([^`]+)`", cell):
                    found.append((doc.name, n, BIN, command.replace("\\|", "|")))
            for program, binary in (("kanban-bridge", BIN), ("kanban-events", EVENTS_BIN)):
                for m in re.finditer(re.escape(program) + r"((?: [^`|#\n]*)?)", line):
                    rest = m.group(1)
                    if program == "kanban-bridge" and not re.match(r" [a-z]", rest):
                        continue
                    found.append((doc.name, n, binary, rest.strip()))
    return found


def check(binary, words):
    """What is wrong with one command line, or None."""
    tokens = [t.strip("[]()…,;:.'\"") for t in words.split()]
    path = []
    if binary == BIN:
        if not tokens or tokens[0] not in subcommands(BIN, ()):
            return None  # prose that names the program ("kanban-bridge token key v1"), not a command
        path.append(tokens[0])
        if len(tokens) > 1 and tokens[1] in subcommands(BIN, tuple(path)):
            path.append(tokens[1])
    known = options(binary, tuple(path))
    unknown = sorted({o for t in tokens for o in OPTION.findall(t) if t.startswith("--")} - known)
    return f"{' '.join(path) or 'kanban-events'}: no option {', '.join(unknown)}" if unknown else None


def test_the_docs_name_commands_at_all():
    lines = command_lines()
    assert len(lines) > 50, "the scan found too few command lines to be looking in the right places"
    assert any("lanes register" in words for _, _, _, words in lines)


def test_every_documented_command_line_parses_against_the_cli():
    problems = []
    for doc, n, binary, words in command_lines():
        problem = check(binary, words)
        if problem:
            problems.append(f"{doc}:{n}: {problem}  ({words[:100]})")
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_option_that_does_not_exist():
    assert check(BIN, "lanes register factory --command ./run.sh") == "lanes register: no option --command"
    assert check(EVENTS_BIN, "--no-such-flag") == "kanban-events: no option --no-such-flag"
    assert check(BIN, "lanes register factory --kind pool --max-concurrency 2") is None


def test_the_systemd_units_documentation_is_installed_by_its_own_steps():
    """Issue #25, finding 10: `Documentation=` named a file no install step made."""
    unit = (REPO / "examples" / "systemd" / "kanban-bridge.service").read_text()
    steps = "\n".join(l for l in unit.splitlines() if l.startswith("#"))
    for path in re.findall(r"^Documentation=file://(\S+)", unit, re.M):
        assert re.search(r"install .*" + re.escape(path), steps), f"no install step makes {path}"
