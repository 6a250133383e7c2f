"""Exceptions: one class per stable wire error code (docs/PROTOCOL.md §8), plus the client's own.

Switch on the class (``except StaleClaim``) or on ``.code``; ``.message`` is for humans."""
from __future__ import annotations


class KanbanError(Exception):
    """Base of every exception this package raises."""


class BridgeError(KanbanError):
    """The coordinator answered ``{"ok": false, "error": {"code", "message"}}``."""

    code = "unknown"

    def __init__(self, message: str, *, op: str = "", code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.op = op
        super().__init__(f"{op + ': ' if op else ''}{self.code}: {message}")


class BadRequest(BridgeError):
    code = "bad_request"


class UnknownOp(BridgeError):
    code = "unknown_op"


class Unauthorized(BridgeError):
    code = "unauthorized"


class Forbidden(BridgeError):
    code = "forbidden"


class NotFound(BridgeError):
    code = "not_found"


class Conflict(BridgeError):
    code = "conflict"


class NotAssigned(BridgeError):
    code = "not_assigned"


class NotReady(BridgeError):
    code = "not_ready"


class LaneFull(BridgeError):
    code = "lane_full"


class NotClaimOwner(BridgeError):
    code = "not_claim_owner"


class StaleClaim(BridgeError):
    code = "stale_claim"


class TooLarge(BridgeError):
    code = "too_large"


class RequestIdReused(BridgeError):
    code = "request_id_reused"


class Busy(BridgeError):
    code = "busy"


class Internal(BridgeError):
    code = "internal"


ERRORS_BY_CODE: dict[str, type[BridgeError]] = {
    cls.code: cls
    for cls in (BadRequest, UnknownOp, Unauthorized, Forbidden, NotFound, Conflict, NotAssigned, NotReady,
                LaneFull, NotClaimOwner, StaleClaim, TooLarge, RequestIdReused, Busy, Internal)
}

# The claim is gone for good: stop working on the task (PROTOCOL.md §13, point 7).
CLAIM_LOST = (StaleClaim, NotClaimOwner, NotFound)


def error_for(code: str, message: str, op: str = "") -> BridgeError:
    """The exception for a wire error; a code this version does not know gives a plain BridgeError."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return BridgeError(message, op=op, code=code)
    return cls(message, op=op)


class ProtocolError(KanbanError):
    """The coordinator's reply was not what the protocol promises (not JSON, wrong shape, wrong types)."""


class Unreachable(KanbanError, TimeoutError):
    """No reply came within the client's give-up time, across every resend."""
