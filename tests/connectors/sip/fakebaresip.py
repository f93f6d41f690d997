"""A fake baresip ctrl_tcp server for connector tests that need no binaries."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from ctikit.connectors.sip.netstring import NetstringDecoder, encode

Handler = Callable[[str | None], tuple[bool, str] | None]  # None: do not reply


def _ok(params: str | None) -> tuple[bool, str]:
    return (True, "")


class FakeBaresip:
    """Listens on 127.0.0.1 (ephemeral port); replies to commands from ``handlers`` (default:
    ok with empty data) and records them; :meth:`event` pushes an event to every client."""

    def __init__(self, aors: list[str]) -> None:
        self.aors = aors
        self.commands: list[tuple[str, str | None]] = []
        self.handlers: dict[str, Handler] = {
            "reginfo": lambda p: (True, self.reginfo()),
            "listcalls": lambda p: (True, "\n--- Active calls (0) ---\n\n"),
        }
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connected = asyncio.Event()

    def reginfo(self) -> str:
        rows = "".join(f"  {aor}   \x1b[32mOK \x1b[;m kamailio Expires 300s\n" for aor in self.aors)
        return f"\n--- User Agents ({len(self.aors)}) ---\n{rows}\n"

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop_clients()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def drop_clients(self) -> None:
        for w in self.writers:
            w.close()
            with contextlib.suppress(ConnectionError):
                await w.wait_closed()
        self.writers.clear()
        self.connected.clear()

    def send_raw(self, data: bytes) -> None:
        for w in self.writers:
            w.write(data)

    def event(self, **fields: Any) -> None:
        self.send_raw(encode(json.dumps({"event": True, **fields}).encode()))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connected.set()
        dec = NetstringDecoder()
        try:
            while data := await reader.read(4096):
                for payload in dec.feed(data):
                    msg = json.loads(payload)
                    cmd, params = msg["command"], msg.get("params")
                    self.commands.append((cmd, params))
                    handler = self.handlers.get(cmd, _ok)
                    reply = handler(params)
                    if reply is not None:
                        ok, text = reply
                        body = {"response": True, "ok": ok, "data": text, "token": msg.get("token")}
                        writer.write(encode(json.dumps(body).encode()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
