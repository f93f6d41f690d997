"""A real HTTP receiver for webhook tests: records each delivery, checks its signature as
docs/webhooks.md tells receivers to, and answers as the test says (a status, or not yet)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300.0) -> bool:
    """docs/webhooks.md, "Verifying a delivery": the receiver's side."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), given)


@dataclass
class Delivery:
    id: str
    event: str
    attempt: int
    body: dict[str, Any]
    signed: bool


class Receiver:
    def __init__(self, port: int, secret: str = "") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.secret = secret
        self.got: list[Delivery] = []
        self.status = 200
        self.hold: asyncio.Event | None = None  # set: answer; None: answer at once
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.got.append(
            Delivery(
                id=request.headers["Ctikit-Webhook-Id"],
                event=request.headers["Ctikit-Event"],
                attempt=int(request.headers["Ctikit-Attempt"]),
                body=json.loads(raw),
                signed=verify(self.secret, request.headers.get("Ctikit-Signature", ""), raw),
            )
        )
        self._changed.set()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status)

    async def wait_for(self, count: int, within: float = 20.0, **match: Any) -> list[Delivery]:
        """Wait until ``count`` deliveries match (``event=``, ``id=``); returns them."""

        def found() -> list[Delivery]:
            return [d for d in self.got if all(getattr(d, k) == v for k, v in match.items())]

        async def wait() -> list[Delivery]:
            while len(found()) < count:
                self._changed.clear()
                await self._changed.wait()
            return found()

        return await asyncio.wait_for(wait(), within)
