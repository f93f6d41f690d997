"""A lean asyncio WebSocket client connection: one ``asyncio.Protocol`` per socket.

It does the handshake and frame parsing itself (:mod:`bench.wsframes`) and hands each text
message, with the time its chunk arrived, to a :class:`Sink`. No tasks, no queues, no
per-message awaits: a few microseconds of Python per received frame, so one client process
can keep up with a server on another core.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Protocol

from . import wsframes as wf


class Sink(Protocol):
    """Who receives what a socket reads."""

    def on_text(self, slot: Slot, payload: bytes, now: float) -> None: ...

    def on_lost(self, slot: Slot, sock: LeanSocket) -> None: ...


class Slot:
    """One console socket's identity and bookkeeping, kept across reconnects."""

    __slots__ = (
        "agent",
        "epoch",
        "hello",
        "index",
        "last_seq",
        "mark",
        "resumed",
        "sock",
        "target",
    )

    def __init__(self, agent: str, index: int) -> None:
        self.agent = agent
        self.index = index
        self.last_seq = -1  # -1: no hello yet
        self.mark = -1  # last_seq when the counters were last reset
        self.epoch: str | None = None
        self.resumed: str | None = None
        self.sock: LeanSocket | None = None
        self.hello: asyncio.Future[None] | None = None
        self.target: int | None = None  # wait until last_seq reaches this


class LeanSocket(asyncio.Protocol):
    """The client side of one WebSocket connection."""

    __slots__ = (
        "_head",
        "_key",
        "_parser",
        "_request",
        "closed",
        "hello",
        "open",
        "sink",
        "slot",
        "tr",
    )

    def __init__(self, sink: Sink, slot: Slot, host: str, path: str, origin: str | None = None):
        self.sink = sink
        self.slot = slot
        self._key = wf.new_key()
        self._request = wf.handshake_request(host, path, self._key, origin)
        self._head = b""
        self._parser = wf.FrameParser()
        self.tr: asyncio.Transport | None = None
        self.open = False
        self.closed = False
        #: Resolved by the sink when this socket's hello arrives (set by who connects).
        self.hello: asyncio.Future[None] | None = slot.hello

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.tr = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.open:
            self._head += data
            head, sep, rest = self._head.partition(b"\r\n\r\n")
            if not sep:
                return
            try:
                wf.check_handshake_response(head, self._key)
            except wf.HandshakeError:
                self.abort()
                return
            self.open = True
            self._head = b""
            data = rest
            if not data:
                return
        sink, slot = self.sink, self.slot
        for opcode, payload in self._parser.feed(data):
            if opcode == wf.OP_TEXT:
                sink.on_text(slot, payload, now)
            elif opcode == wf.OP_PING:
                self.send(payload, wf.OP_PONG)
            elif opcode == wf.OP_CLOSE:
                if self.tr is not None and not self.closed:
                    self.tr.write(wf.encode_frame(payload[:2], wf.OP_CLOSE))
                    self.tr.close()

    def send(self, payload: bytes, opcode: int = wf.OP_TEXT) -> None:
        if self.tr is not None and not self.closed:
            self.tr.write(wf.encode_frame(payload, opcode))

    def close(self) -> None:
        """A clean close: close frame, then the TCP connection."""
        if self.tr is not None and not self.closed:
            self.tr.write(wf.close_frame())
            self.tr.close()

    def abort(self) -> None:
        """Drop the connection at once (a network failure, as the server sees it): a reset,
        so neither side keeps the port in TIME_WAIT for the next run."""
        if self.tr is not None and not self.closed:
            sock = self.tr.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.tr.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.open = False
        self.sink.on_lost(self.slot, self)
