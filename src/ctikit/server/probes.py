"""Liveness and readiness, for load balancers and orchestrators (docs/monitoring.md).

- ``GET /api/live``: 200 whenever the event loop runs (answering proves it); restart the
  process when this fails.
- ``GET /api/ready``: 200 when the database answers, Redis answers (cluster mode) and a
  connector can carry out commands; otherwise 503 naming each failed check. Take the node
  out of the pool while it fails; it comes back by itself.

Both are unauthenticated (balancers carry no tokens) and say nothing secret: a failed check
gives its reason in one line, never a password or a database URL's credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from aiohttp import web

from ..storage import StorageError
from .keys import SERVICE

routes = web.RouteTableDef()

#: Longest wait for one check: a database that takes longer is not ready for consoles.
CHECK_SECONDS = 2.0


async def _check(probe: Awaitable[object]) -> str | None:
    """None if ``probe`` completed in time, else why not (one line)."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await probe
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except StorageError as exc:
        return str(exc).splitlines()[0][:300]
    except Exception as exc:  # a driver's error: its class and first line say enough
        first = (str(exc).splitlines() or [""])[0][:300]
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return None


async def _reason(probe: Awaitable[str | None]) -> str | None:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await probe
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"


async def readiness(app: web.Application) -> dict[str, str | None]:
    """Each check's failure reason (None: passed), all run at once."""
    svc = app[SERVICE]
    names = ["database", "connector"]
    probes: list[Awaitable[str | None]] = [
        _check(svc.store.ping()),
        _reason(svc.telephony.not_ready()),
    ]
    redis = svc.backend.redis
    if redis is not None:
        names.append("redis")
        probes.append(_check(redis.ping()))
    return dict(zip(names, await asyncio.gather(*probes), strict=True))


@routes.get("/api/live")
async def live(request: web.Request) -> web.Response:
    return web.json_response({"success": True, "status": "live", "time": time.time()})


@routes.get("/api/ready")
async def ready(request: web.Request) -> web.Response:
    results = await readiness(request.app)
    checks = {name: ("ok" if why is None else why) for name, why in results.items()}
    failed = [name for name, why in results.items() if why is not None]
    if not failed:
        return web.json_response({"success": True, "status": "ready", "checks": checks})
    error = "not ready: " + "; ".join(f"{n}: {results[n]}" for n in failed)
    return web.json_response(
        {"success": False, "code": "not_ready", "error": error, "failed": failed, "checks": checks},
        status=503,
        headers={"Retry-After": "1", "Cache-Control": "no-store"},
    )
