"""Backend of the Lanes tab: mounted by Hermes' dashboard at /api/plugins/kanban-lanes/.

It proxies one read of the bridge's HTTP API (GET /api/lanes) so the browser never holds the
bridge's token: the dashboard page talks only to Hermes (under Hermes' own session), and this
process talks to the bridge with a bearer token it reads from its environment or Hermes' config.

Where it finds the bridge, first match wins (nothing is baked into these files):
  URL:   $KANBAN_BRIDGE_HTTP, else config.yaml `kanban_bridge.http`, else http://127.0.0.1:8080
  token: $KANBAN_BRIDGE_TOKEN, else the file $KANBAN_BRIDGE_TOKEN_FILE, else the file
         config.yaml `kanban_bridge.token_file`. A lane token is enough (the tab only reads).
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter()

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 5  # the dashboard waits on this thread; a bridge that does not answer is an error


def _hermes_settings() -> Dict[str, Any]:
    """`kanban_bridge:` from Hermes' config.yaml ({} when absent or unreadable)."""
    try:
        from hermes_cli.config import load_config

        section = load_config().get("kanban_bridge")
        return section if isinstance(section, dict) else {}
    except Exception:
        return {}


def _read_token_file(path: str) -> Optional[str]:
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def bridge_settings() -> Tuple[str, Optional[str]]:
    """(base URL without a trailing slash, token or None), read on every request so a changed
    environment file or config takes effect without restarting the dashboard."""
    config = _hermes_settings()
    url = os.environ.get("KANBAN_BRIDGE_HTTP") or config.get("http") or DEFAULT_URL
    token = os.environ.get("KANBAN_BRIDGE_TOKEN") or None
    if token is None:
        path = os.environ.get("KANBAN_BRIDGE_TOKEN_FILE") or config.get("token_file")
        token = _read_token_file(str(path)) if path else None
    return str(url).rstrip("/"), token


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


@router.get("/lanes")
def lanes():
    """The bridge's /api/lanes reply, unchanged, or {"error": {code, message}}."""
    url, token = bridge_settings()
    if not url.startswith(("http://", "https://")):
        return _error(500, "bad_config", "KANBAN_BRIDGE_HTTP must be an http:// or https:// URL")
    if not token:
        return _error(500, "no_token", "set KANBAN_BRIDGE_TOKEN or KANBAN_BRIDGE_TOKEN_FILE (or kanban_bridge.token_file in config.yaml)")
    request = urllib.request.Request(f"{url}/api/lanes", headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:  # noqa: S310 - scheme checked above
            return JSONResponse(content=json.loads(reply.read()))
    except urllib.error.HTTPError as err:
        # Pass the bridge's own error code through (unauthorized, busy, …); never its token.
        try:
            body = json.loads(err.read())
            code = body["error"]["code"]
            message = body["error"].get("message", "")
        except Exception:
            code, message = f"http_{err.code}", err.reason or ""
        return _error(502, code, f"the bridge answered {err.code}: {message}")
    except (urllib.error.URLError, OSError, ValueError) as err:
        return _error(502, "bridge_unreachable", f"no answer from the bridge at {url}: {getattr(err, 'reason', err)}")
