"""A client of one baresip's ``ctrl_tcp`` socket: commands with replies, events as they come.

The thin I/O layer over :mod:`.netstring` and :mod:`.baresip`. Replies are matched to requests
by token. Events are handed to ``on_event`` synchronously, in arrival order, from the reader
task. A framing error (the stream cannot be trusted any more) closes the connection; a single
unreadable JSON message is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

from .baresip import BaresipEvent, ProtocolError, Response, encode_command, parse_message
from .netstring import NetstringDecoder, NetstringError

log = logging.getLogger(__name__)


class CtrlError(Exception):
    """A command got no reply: the connection is closed or baresip did not answer in time."""


class CtrlConnection:
    """One ``ctrl_tcp`` connection. Create it with :meth:`open`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_event: Callable[[BaresipEvent], None],
        name: str,
        reply_timeout: float,
    ) -> None:
        self.name = name
        self.reply_timeout = reply_timeout
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._decoder = NetstringDecoder()
        self._pending: dict[str, asyncio.Future[Response]] = {}
        self._tokens = itertools.count(1)
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._read(), name=f"ctrl {name}")

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_event: Callable[[BaresipEvent], None] = lambda ev: None,
        *,
        name: str | None = None,
        reply_timeout: float = 5.0,
    ) -> CtrlConnection:
        """Connect; raises OSError if nothing listens there. Commands that get no reply
        within ``reply_timeout`` seconds fail with :class:`CtrlError`."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, on_event, name or f"{host}:{port}", reply_timeout)

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> str:
        """Wait until the connection is over; returns why."""
        return await asyncio.shield(self._closed)

    async def request(self, command: str, params: str | None = None) -> Response:
        """Send a command and wait for its reply (``ok`` may be False: check it)."""
        if self._closed.done():
            raise CtrlError(f"{self.name}: connection closed ({self._closed.result()})")
        token = f"t{next(self._tokens)}"
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[token] = fut
        try:
            self._writer.write(encode_command(command, params, token))
            await self._writer.drain()
            return await asyncio.wait_for(asyncio.shield(fut), self.reply_timeout)
        except TimeoutError:
            raise CtrlError(
                f"{self.name}: no reply to {command!r} within {self.reply_timeout} s"
            ) from None
        except (ConnectionError, RuntimeError) as exc:
            raise CtrlError(f"{self.name}: {command!r} not sent: {exc}") from None
        finally:
            self._pending.pop(token, None)

    async def close(self, reason: str = "closed by ctikit") -> None:
        """Close the connection and wait for the reader to finish. Idempotent."""
        self._finish(reason)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def _read(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    self._finish("baresip closed the connection")
                    break
                for payload in self._decoder.feed(data):
                    self._dispatch(payload)
        except NetstringError as exc:
            log.warning("%s: garbage on ctrl_tcp, disconnecting: %s", self.name, exc)
            self._finish(f"protocol error: {exc}")
        except (ConnectionError, OSError) as exc:
            self._finish(f"connection lost: {exc}")
        finally:
            self._finish("reader stopped")
            self._writer.close()

    def _dispatch(self, payload: bytes) -> None:
        try:
            msg = parse_message(payload)
        except ProtocolError as exc:
            log.warning("%s: skipped an unreadable message: %s", self.name, exc)
            return
        if isinstance(msg, Response):
            fut = self._pending.get(msg.token or "")
            if fut is None and msg.token is None and self._pending:
                fut = next(iter(self._pending.values()))  # no token echoed: oldest request
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        try:
            self._on_event(msg)
        except Exception:
            log.exception("%s: event handler raised on %s", self.name, msg.type)

    def _finish(self, reason: str) -> None:
        if not self._closed.done():
            self._closed.set_result(reason)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(CtrlError(f"{self.name}: connection closed ({reason})"))
