"""Every HTTP request (a console socket too, for its whole life) runs with its request ID,
and the agent and call its URL names, bound for the log (:mod:`ctikit.logs`)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

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


def why_malformed(message: object) -> str:
    """aiohttp's reason for refusing a request, on one short line (it may quote the
    request: the client's bytes)."""
    return " ".join(str(message).split())[:160]


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a 10 KB URL, a bad header) as an ERROR with a
    traceback, then answers 400 and closes the connection. That is the client's mistake,
    and a way for anyone to fill the log: one WARNING line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and record.msg.startswith("Error handling"):
            record.msg = "malformed HTTP request from %s, answered %d and closed: %s"
            args = record.args if isinstance(record.args, tuple) else ()
            record.args = (args[0] if args else "?", exc.code, why_malformed(exc.message))
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_malformed_requests() -> None:
    """Install :class:`MalformedRequests` on aiohttp's server logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in logger.filters):
        logger.addFilter(MalformedRequests())
