"""REST for webhooks (scope ``webhooks:manage``): endpoints and dead letters."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from aiohttp import web

from ..core.access import Operation, check_global
from ..core.errors import CtiRequestError
from ..storage.webhooks import Endpoint
from .audit import AUDIT
from .guard import principal
from .rest import _int, _json_body, fail, ok
from .webhooks import EVENT_NAMES, Webhooks, new_secret

routes = web.RouteTableDef()
WEBHOOKS = web.AppKey("webhooks", Webhooks)

# ASCII ranges, not \s: the schema's (ECMA) and Python's \s differ.
URL_PATTERN = r"^https?://[^/?#@\x00-\x20\x7f]+(?:[/?#][\x21-\x7e]*)?$"
SECRET_PATTERN = r"^[\x21-\x7e]{16,128}$"
_URL = re.compile(URL_PATTERN)
_SECRET = re.compile(SECRET_PATTERN)
MAX_ENDPOINTS = 100


async def _manager(request: web.Request) -> str:
    who = await principal(request)
    check_global(who, Operation.MANAGE_WEBHOOKS)
    return who.name


def _events(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CtiRequestError(f"events must be a list of names from {sorted(EVENT_NAMES)}")
    unknown = sorted(set(value) - EVENT_NAMES)
    if unknown:
        raise CtiRequestError(
            f"unknown events {unknown[:5]!r}; known: {', '.join(sorted(EVENT_NAMES))}"
        )
    return frozenset(value)


@routes.get("/api/webhooks")
async def list_endpoints(request: web.Request) -> web.Response:
    await _manager(request)
    hooks = request.app[WEBHOOKS]
    await hooks.refresh(force=True)
    return ok(endpoints=[e.to_dict() for e in hooks.endpoints], events=sorted(EVENT_NAMES))


@routes.post("/api/webhooks")
async def add_endpoint(request: web.Request) -> web.Response:
    """Register a URL; the answer holds its signing secret (shown once)."""
    who = await _manager(request)
    body = await _json_body(request)
    url = body.get("url")
    if not isinstance(url, str) or len(url) > 2000 or not _URL.fullmatch(url):
        raise CtiRequestError("url must be an http:// or https:// URL (no user:password@)")
    events = _events(body.get("events"))
    secret = body.get("secret")
    if secret is None:
        secret = new_secret()
    elif not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise CtiRequestError("secret must be 16 to 128 printable ASCII characters")
    hooks = request.app[WEBHOOKS]
    await hooks.refresh(force=True)
    if len(hooks.endpoints) >= MAX_ENDPOINTS:
        return fail(409, f"at most {MAX_ENDPOINTS} webhook endpoints", "limit_exceeded")
    endpoint = Endpoint(
        id="wh_" + secrets.token_hex(8),
        url=url,
        secret=secret,
        events=events,
        created_at=datetime.now(UTC),
        created_by=who,
    )
    await hooks.db.add_endpoint(endpoint)
    await hooks.refresh(force=True)
    request.app[AUDIT].record("webhook.add", endpoint.id, url=url, events=" ".join(sorted(events)))
    return web.json_response(
        {"success": True, "endpoint": endpoint.to_dict(), "secret": secret}, status=201
    )


@routes.delete("/api/webhooks/{endpoint}")
async def delete_endpoint(request: web.Request) -> web.Response:
    await _manager(request)
    hooks = request.app[WEBHOOKS]
    endpoint = request.match_info["endpoint"]
    if not await hooks.db.delete_endpoint(endpoint[:64]):
        return fail(404, f"no webhook endpoint {endpoint[:64]!r}", "not_found")
    await hooks.refresh(force=True)
    request.app[AUDIT].record("webhook.remove", endpoint[:64])
    return ok()


@routes.get("/api/webhooks/dead-letters")
async def dead_letters(request: web.Request) -> web.Response:
    """Deliveries given up after ``webhook_max_attempts``, oldest first."""
    await _manager(request)
    hooks = request.app[WEBHOOKS]
    limit = _int(request, "limit", 100, 1, 1000)
    offset = _int(request, "offset", 0, 0, 10**9)
    total, letters = await hooks.db.dead_letters(limit=limit, offset=offset)
    return ok(total=total, deadLetters=[d.to_dict() for d in letters])


def _letter_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise CtiRequestError("a dead letter's id is a whole number")
    return int(raw)


@routes.post("/api/webhooks/dead-letters/{id}/retry")
async def retry_dead_letter(request: web.Request) -> web.Response:
    await _manager(request)
    hooks = request.app[WEBHOOKS]
    letter = _letter_id(request)
    if not await hooks.db.retry_dead(letter, datetime.now(UTC)):
        return fail(404, f"no dead letter {letter}", "not_found")
    hooks.wake()
    request.app[AUDIT].record("webhook.retry", str(letter))
    return ok()


@routes.delete("/api/webhooks/dead-letters/{id}")
async def delete_dead_letter(request: web.Request) -> web.Response:
    await _manager(request)
    letter = _letter_id(request)
    if not await request.app[WEBHOOKS].db.delete_dead(letter):
        return fail(404, f"no dead letter {letter}", "not_found")
    request.app[AUDIT].record("webhook.discard", str(letter))
    return ok()
