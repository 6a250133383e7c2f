"""CURVE credentials (docs/SECURITY.md): the coordinator's public key and the client's own keypair, read
from the files `kanban-bridge keys generate` writes (`public-key: …` / `secret-key: …` lines) or given
as 40-character Z85 text."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from .errors import KanbanError

Z85_KEY_LENGTH = 40


def read_key_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The `name: value` lines of a key file; a bare 40-character line counts as a public key."""
    fields: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if len(line) == Z85_KEY_LENGTH and ":" not in line:
            fields["public-key"] = line
        elif line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip()
    return fields


def _key(value: str, half: str) -> str:
    """`value` itself when it is a Z85 key, else the `half` line of the key file it names."""
    if len(value) == Z85_KEY_LENGTH and not os.path.exists(value):
        return value
    try:
        key = read_key_file(value).get(half)
    except OSError as e:
        raise KanbanError(f"cannot read the key file {value}: {e.strerror}") from None
    if key is None or len(key) != Z85_KEY_LENGTH:
        raise KanbanError(f"{value} has no {half} line of {Z85_KEY_LENGTH} characters")
    return key


@dataclass(frozen=True)
class CurveKeys:
    """What a CURVE client sets on its socket before `connect`. The secret key never shows in a repr."""

    server_public: str
    public: str
    secret: str = field(repr=False)

    @classmethod
    def load(cls, server_key: str, client_key: str) -> CurveKeys:
        """`server_key`: the server's public key or its `.pub` (or `.key`) file. `client_key`: the
        client's `.key` file, or its secret key as Z85 text (the public half is computed from it)."""
        secret = _key(client_key, "secret-key")
        return cls(server_public=_key(server_key, "public-key"),
                   public=zmq.curve_public(secret.encode()).decode(), secret=secret)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> CurveKeys | None:
        """From KANBAN_CURVE_SERVER_KEY and KANBAN_CURVE_KEY_FILE (or KANBAN_CURVE_SECRET_KEY), the variables
        the kanban-bridge CLI and spawned workers use; None when KANBAN_CURVE_SERVER_KEY is not set."""
        env = dict(os.environ) if env is None else env
        server = env.get("KANBAN_CURVE_SERVER_KEY")
        if not server:
            return None
        client = env.get("KANBAN_CURVE_SECRET_KEY") or env.get("KANBAN_CURVE_KEY_FILE")
        if not client:
            raise KanbanError("KANBAN_CURVE_SERVER_KEY is set but neither KANBAN_CURVE_KEY_FILE nor "
                              "KANBAN_CURVE_SECRET_KEY is")
        return cls.load(server, client)

    def apply(self, sock: zmq.Socket[bytes]) -> None:
        """Makes `sock` a CURVE client; call before `connect`."""
        sock.curve_serverkey = self.server_public.encode()
        sock.curve_publickey = self.public.encode()
        sock.curve_secretkey = self.secret.encode()


def secure(sock: zmq.Socket[bytes], curve: CurveKeys | None, token: str | None, subscriber: bool = False) -> None:
    """CURVE keys when given. Without them, a SUB socket shows the token as its PLAIN password: the event
    socket admits nobody without a credential (a command socket sends the token in `auth` instead)."""
    if curve is not None:
        curve.apply(sock)
    elif subscriber and token:
        sock.plain_username = b"kanban"
        sock.plain_password = token.encode()
