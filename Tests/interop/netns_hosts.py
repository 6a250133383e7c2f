"""Two hosts on one machine: network namespaces joined by a veth pair, made and removed by the test
(`ip netns`, `ip link`; needs root). The coordinator runs in one ("board"), runners in the other
("worker"); they reach each other only over the veth addresses, as two machines on a LAN would.
The file system is shared, so a test can read the board file directly."""
import os
import random
import shutil
import subprocess
from dataclasses import dataclass


def unavailable():
    """Why two-host tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"kbprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args, ns=None):
    argv = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    subprocess.run(argv, check=True, capture_output=True, text=True)


@dataclass
class TwoHosts:
    board: str
    worker: str
    board_addr: str
    worker_addr: str
    worker_link: str

    @classmethod
    def make(cls):
        tag = f"{os.getpid() % 10000}{random.randrange(100)}"
        net = random.randrange(16, 250)
        hosts = cls(board=f"kbboard{tag}", worker=f"kbworker{tag}", board_addr=f"10.77.{net}.1",
                     worker_addr=f"10.77.{net}.2", worker_link=f"kbw{tag}")
        board_link = f"kbb{tag}"
        for ns in (hosts.board, hosts.worker):
            ip("netns", "add", ns)
            ip("link", "set", "lo", "up", ns=ns)
        ip("link", "add", board_link, "type", "veth", "peer", "name", hosts.worker_link)
        ip("link", "set", board_link, "netns", hosts.board)
        ip("link", "set", hosts.worker_link, "netns", hosts.worker)
        ip("addr", "add", f"{hosts.board_addr}/24", "dev", board_link, ns=hosts.board)
        ip("addr", "add", f"{hosts.worker_addr}/24", "dev", hosts.worker_link, ns=hosts.worker)
        ip("link", "set", board_link, "up", ns=hosts.board)
        ip("link", "set", hosts.worker_link, "up", ns=hosts.worker)
        return hosts

    def remove(self):
        for ns in (self.board, self.worker):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def on(self, ns, argv):
        """`argv` run inside namespace `ns`."""
        return ["ip", "netns", "exec", ns, *argv]

    def link(self, up):
        """Takes the worker host's link down (or up again): the two hosts cannot reach each other."""
        ip("link", "set", self.worker_link, "up" if up else "down", ns=self.worker)
