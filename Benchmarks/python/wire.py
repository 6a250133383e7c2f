"""What the Python benchmark scripts beside this file share: a free loopback port and one REQ round trip."""
import json
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(sock, msg, timeout_ms=None):
    """Sends `msg` as JSON on a REQ socket and returns the parsed reply (RuntimeError past `timeout_ms`)."""
    sock.send(json.dumps(msg).encode())
    if timeout_ms is not None and not sock.poll(timeout_ms):
        raise RuntimeError(f"no reply to {msg['op']} within {timeout_ms} ms")
    return json.loads(sock.recv())
