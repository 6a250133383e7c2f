"""A stand-in for a Hermes session in a pool of a Hermes profile (test_pool_memory.py): it loads the
profile's memory and writes to it through Hermes' own memory tool (`tools.memory_tool.memory_tool` with
a `MemoryStore`, as `run_agent` calls it), stages a skill write through Hermes' own write gate as
`skill_manage` does, then completes its task with the coordinator's CLI. No model is involved.

    memory_worker.py [--barrier SOCKET] [--skill NAME] ENTRY... [--run COMMAND...]

--barrier: connect to the test's Unix socket and wait for its word before writing, so the runs overlap
(the test answers once every run has connected).
--run: run COMMAND (the rest of the arguments; a real `hermes`, say) and print its output first.
"""
import json
import os
import subprocess
import socket
import sys

from tools import write_approval as wa
from tools.memory_tool import MemoryStore, memory_tool


def main(argv):
    barrier, skill, entries, command = None, None, [], None
    while argv:
        arg = argv.pop(0)
        if arg == "--run":
            command, argv = argv, []
        elif arg == "--barrier":
            barrier = argv.pop(0)
        elif arg == "--skill":
            skill = argv.pop(0)
        else:
            entries.append(arg)
    task = os.environ["KANBAN_TASK"]
    print(f"HERMES_HOME={os.environ.get('HERMES_HOME')} KANBAN_MEMORY={os.environ.get('KANBAN_MEMORY', '')}", flush=True)

    if command:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=120)
        print(f"ran {' '.join(command)}: exit {ran.returncode}\n{ran.stdout}{ran.stderr}", flush=True)

    if barrier:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)  # bounded: a run the test never answers writes anyway, and the test fails
            s.connect(barrier)
            s.sendall(task.encode())
            print(f"barrier: {s.recv(16).decode()}", flush=True)

    store = MemoryStore()
    store.load_from_disk()  # the frozen snapshot a session starts with
    print("read at start: " + json.dumps(store.memory_entries), flush=True)
    for entry in entries:
        print("memory add: " + memory_tool(action="add", target="memory", content=entry, store=store), flush=True)

    if skill:
        # What skill_manage does with skills.write_approval on: ask the gate, stage when told to.
        decision = wa.evaluate_gate(wa.SKILLS)
        if decision.stage:
            record = wa.stage_write(wa.SKILLS, {"action": "create", "name": skill, "content": f"---\nname: {skill}\n---\n"},
                                    summary=f"create '{skill}'", origin=wa.current_origin())
            print(f"skill staged: {record['id']}", flush=True)
        else:
            print("skill written directly (gate off)", flush=True)

    cli = os.environ["KANBAN_BRIDGE_BIN"]
    done = subprocess.run([cli, "complete", "--result", f"remembered {len(entries)}"], capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
