"""Netstrings (``LEN:DATA,``), the framing of baresip's ``ctrl_tcp``: a sans-I/O codec.

:class:`NetstringDecoder` is incremental: :meth:`~NetstringDecoder.feed` takes whatever bytes the
socket gave and returns the complete payloads found so far, keeping a partial frame for the next
call. Malformed input raises :class:`NetstringError`; the stream cannot be resynchronised after
that (a netstring has no delimiter to search for), so the decoder stays failed and the caller
should drop the connection.
"""

from __future__ import annotations

#: Default largest payload accepted. baresip's biggest messages (SDP, ``help``) are a few KiB.
MAX_PAYLOAD = 1 << 20


class NetstringError(ValueError):
    """The peer sent bytes that are not a netstring (its fault, not the caller's)."""


def encode(payload: bytes) -> bytes:
    """Frame ``payload`` as a netstring."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise TypeError(f"netstring payload must be bytes, not {type(payload).__name__}")
    data = bytes(payload)
    return b"%d:%s," % (len(data), data)


class NetstringDecoder:
    """Incremental netstring decoder. See the module docstring."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        if max_payload < 0:
            raise ValueError("max_payload must be >= 0")
        self.max_payload = max_payload
        # Enough digits for max_payload: a longer length prefix is garbage, however it ends.
        self._max_digits = len(str(max_payload))
        self._buf = bytearray()
        self._failed: NetstringError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete netstring."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the payloads completed by it, in order."""
        if self._failed is not None:
            raise self._failed
        self._buf += data
        out: list[bytes] = []
        try:
            while (payload := self._next()) is not None:
                out.append(payload)
        except NetstringError as exc:
            self._failed = exc
            self._buf.clear()
            raise
        return out

    def _next(self) -> bytes | None:
        buf = self._buf
        colon = buf.find(b":", 0, self._max_digits + 1)
        if colon < 0:
            head = bytes(buf[: self._max_digits + 1])
            if not head.isdigit() and head:
                raise NetstringError(f"netstring length expected, got {_show(head)}")
            if len(buf) > self._max_digits:
                raise NetstringError(
                    f"netstring length has more than {self._max_digits} digits "
                    f"(limit {self.max_payload} bytes)"
                )
            return None  # the length is still arriving
        digits = bytes(buf[:colon])
        if not digits.isdigit():
            raise NetstringError(f"netstring length expected, got {_show(digits + b':')}")
        if len(digits) > 1 and digits[0:1] == b"0":
            raise NetstringError(f"netstring length has a leading zero: {_show(digits)}")
        length = int(digits)
        if length > self.max_payload:
            raise NetstringError(
                f"netstring of {length} bytes is over the limit of {self.max_payload}"
            )
        end = colon + 1 + length
        if len(buf) <= end:
            return None  # payload or trailing comma still arriving
        if buf[end] != ord(","):
            got = _show(bytes(buf[end : end + 1]))
            raise NetstringError(f"netstring of {length} bytes not followed by ',' but {got}")
        payload = bytes(buf[colon + 1 : end])
        del buf[: end + 1]
        return payload


def _show(data: bytes) -> str:
    text = repr(data[:32])
    return text + ("..." if len(data) > 32 else "")
