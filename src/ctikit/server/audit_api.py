"""``GET /api/audit`` (scope ``audit:read``): the audit log, newest first."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ..core.access import Operation, check_global
from ..core.errors import CtiRequestError
from .audit import AUDIT
from .guard import principal
from .rest import _int, ok

routes = web.RouteTableDef()


def _time(request: web.Request, key: str) -> datetime | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise CtiRequestError(f"{key} must be an ISO 8601 time") from None
    if value.tzinfo is None:
        raise CtiRequestError(f"{key} needs a time zone (e.g. Z)")
    return value


@routes.get("/api/audit")
async def query(request: web.Request) -> web.Response:
    """Audit entries, newest first (scope ``audit:read``); filters: actor, action, since,
    until; limit (1-1000), offset."""
    check_global(await principal(request), Operation.READ_AUDIT)
    q = request.query
    for key in ("actor", "action"):
        if key in q and not 0 < len(q[key]) <= 255:
            raise CtiRequestError(f"{key} must be 1 to 255 characters")
    total, entries = await request.app[AUDIT].db.query(
        actor=q.get("actor"),
        action=q.get("action"),
        since=_time(request, "since"),
        until=_time(request, "until"),
        limit=_int(request, "limit", 100, 1, 1000),
        offset=_int(request, "offset", 0, 0, 10**9),
    )
    return ok(total=total, entries=[e.to_dict() for e in entries])
