"""A Python client for KanbanBridge: `Client` (every op, typed), `Worker` (handlers per lane, heartbeats,
safe retries, drain) and `Events` (the event stream, resumed without gaps). See docs/PYTHON.md."""
from .client import Client
from .errors import (
                     BadRequest,
                     BridgeError,
                     Busy,
                     Conflict,
                     Forbidden,
                     Internal,
                     KanbanError,
                     LaneFull,
                     NotAssigned,
                     NotClaimOwner,
                     NotFound,
                     NotReady,
                     ProtocolError,
                     RequestIdReused,
                     StaleClaim,
                     TooLarge,
                     Unauthorized,
                     UnknownOp,
                     Unreachable,
)
from .events import Events
from .keys import CurveKeys
from .transport import Cancelled
from .types import (
                     Claim,
                     Claimed,
                     Completed,
                     Event,
                     EventPage,
                     Lane,
                     LaneClaim,
                     LaneList,
                     Lease,
                     Ping,
                     Principal,
                     Registered,
                     Run,
                     Task,
                     TaskLog,
)
from .worker import Block, Job, Release, Result, Worker

__version__ = "0.1.0"
__all__ = [
    "BadRequest", "Block", "BridgeError", "Busy", "Cancelled", "Claim", "Claimed", "Client", "Completed",
    "Conflict", "CurveKeys", "Event", "EventPage", "Events", "Forbidden", "Internal", "Job", "KanbanError",
    "Lane", "LaneClaim", "LaneFull", "LaneList", "Lease", "NotAssigned", "NotClaimOwner", "NotFound",
    "NotReady", "Ping", "Principal", "ProtocolError", "Registered", "Release", "RequestIdReused", "Result",
    "Run", "StaleClaim", "Task", "TaskLog", "TooLarge", "Unauthorized", "UnknownOp", "Unreachable", "Worker",
]
