"""Every HTTP request (a console socket too, for its whole life) runs with its request ID,
and the agent and call its URL names, bound for the log (:mod:`ctikit.logs`)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from aiohttp import web

from ..core.model import AGENT_ID_RE
from ..logs import bound

log = logging.getLogger("ctikit.http")
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's (a proxy's) request ID is kept when it is a plain token; anything else is
# replaced, so the header cannot put arbitrary text into the log.
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _GOOD_REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def _agent(value: str | None) -> str | None:
    return value if value is not None and AGENT_ID_RE.fullmatch(value) else None


@web.middleware
async def request_context(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Bind the IDs, answer with ``X-Request-Id``, and log the request at debug level."""
    rid = _request_id(request)
    agent = _agent(request.match_info.get("agent") or request.query.get("agent"))
    started = time.perf_counter()
    status = 500
    with bound(request=rid, agent=agent, call=request.match_info.get("call_id")):
        try:
            resp = await handler(request)
            status = resp.status
            if not resp.prepared:  # a WebSocket's headers went out at its handshake
                resp.headers[REQUEST_ID_HEADER] = rid
            return resp
        except web.HTTPException as exc:
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = rid
            raise
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s %d %.1f ms",
                    request.method,
                    request.path,
                    status,
                    (time.perf_counter() - started) * 1e3,
                )
