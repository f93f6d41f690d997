"""A minimal, pure WebSocket codec for the load client (RFC 6455, client side only).

The load client must never be the bottleneck, so it does not use a WebSocket library: it
writes the opening handshake itself, parses the server's (unmasked) frames from a buffer and
masks its own frames. No extensions (permessage-deflate is never offered), no fragmentation
on send; fragmented server messages are reassembled.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class HandshakeError(Exception):
    """The server did not switch protocols."""


def new_key() -> bytes:
    """A fresh ``Sec-WebSocket-Key`` (base64 of 16 random bytes)."""
    return base64.b64encode(os.urandom(16))


def accept_for(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key``."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def handshake_request(host: str, path: str, key: bytes, origin: str | None = None) -> bytes:
    """The HTTP/1.1 upgrade request for ``path`` (which includes the query string)."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_handshake_response(head: bytes, key: bytes) -> None:
    """Raise :class:`HandshakeError` unless ``head`` (up to the blank line) accepts ``key``."""
    status, _, rest = head.partition(b"\r\n")
    if not status.startswith(b"HTTP/1.1 101"):
        raise HandshakeError(status.decode(errors="replace"))
    want = accept_for(key)
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            if value.strip() != want:
                raise HandshakeError("bad Sec-WebSocket-Accept")
            return
    raise HandshakeError("no Sec-WebSocket-Accept")


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final client frame: masked with a random key, as RFC 6455 requires of clients."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    if n:
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
            n, "little"
        )
    else:
        masked = b""
    return head + mask + masked


def close_frame(code: int = 1000) -> bytes:
    """A masked close frame with ``code``."""
    return encode_frame(struct.pack("!H", code), OP_CLOSE)


class FrameParser:
    """Incremental parser of server frames: ``feed(bytes) -> [(opcode, payload), ...]``.

    Server frames are unmasked (a masked one is a protocol error and raises ValueError).
    Continuation frames are joined to their first frame; control frames may interleave.
    """

    __slots__ = ("_buf", "_frag", "_frag_op")

    def __init__(self) -> None:
        self._buf = b""
        self._frag: list[bytes] = []
        self._frag_op = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf + data if self._buf else data
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b1 & 0x80:
                raise ValueError("server frame is masked")
            n = b1 & 0x7F
            hl = 2
            if n == 126:
                if end - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                hl = 4
            elif n == 127:
                if end - pos < 10:
                    break
                (n,) = struct.unpack_from("!Q", buf, pos + 2)
                hl = 10
            stop = pos + hl + n
            if stop > end:
                break
            payload = buf[pos + hl : stop]
            pos = stop
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode >= OP_CLOSE:
                out.append((opcode, payload))
            elif opcode == OP_CONT:
                self._frag.append(payload)
                if fin:
                    out.append((self._frag_op, b"".join(self._frag)))
                    self._frag = []
            elif fin:
                out.append((opcode, payload))
            else:
                self._frag_op, self._frag = opcode, [payload]
        self._buf = buf[pos:] if pos < end else b""
        return out


def server_text_frame(payload: bytes) -> bytes:
    """An unmasked text frame as a server sends it (tests and the frame-parser smoke test)."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload
