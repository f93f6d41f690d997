"""rtpengine for the lab: its command line, and a client of its control ("ng") protocol.

rtpengine relays every call with a browser on it: ICE, DTLS-SRTP and rtcp-mux on the browser's
side, plain RTP on the phone's (kamailio's ``rtpengine`` module asks it to, see
:mod:`.kamailio`). Here it runs in userspace (``--table=-1``: no kernel module in a
container), in the foreground, on loopback only, with the plan's own port range.

The ng protocol is bencoded dictionaries over UDP, each datagram ``COOKIE SPACE DICT``;
:func:`ng_request` sends one and waits for the reply with the same cookie.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from .plan import HOST, LabPlan

Bencodable = int | str | bytes | list["Bencodable"] | dict[str, "Bencodable"]


class NgError(Exception):
    """rtpengine did not answer, or answered something that is not bencode."""


def rtpengine_argv(binary: str, plan: LabPlan) -> list[str]:
    """The command line of the plan's rtpengine (requires ``plan.webrtc``)."""
    web = plan.webrtc
    if web is None:
        raise ValueError("this lab has no WebRTC part")
    argv = [
        binary,
        "--config-file=none",  # never /etc/rtpengine/rtpengine.conf
        "--foreground",
        "--log-stderr",
        "--table=-1",
        f"--interface={HOST}",
        f"--listen-ng={HOST}:{web.ng_port}",
        f"--port-min={web.media_ports[0]}",
        f"--port-max={web.media_ports[1]}",
        "--delete-delay=0",  # a call's ports (and its recording) are released at its BYE
        "--num-threads=2",
    ]
    if web.record:
        argv += [
            f"--recording-dir={recordings_dir(plan)}",
            "--recording-method=pcap",
            "--recording-format=raw",
        ]
    return argv


def recordings_dir(plan: LabPlan) -> Path:
    """Where rtpengine records: ``pcaps/<Call-ID>-<random>.pcap`` (the decrypted RTP it
    received from each side, raw IPv4), ``metadata/`` once a recording is complete."""
    return plan.root / "recordings"


# ------------------------------------------------------------------ bencode


def bencode(value: Bencodable) -> bytes:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode(), v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Bencodable:
    """Decode one bencoded value (strings as ``str`` when UTF-8, else ``bytes``)."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise NgError(f"{len(data) - end} bytes after the bencoded value")
    return value


def _decode(data: bytes, i: int) -> tuple[Bencodable, int]:
    try:
        c = data[i : i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1 : end]), end + 1
        if c == b"l":
            items: list[Bencodable] = []
            i += 1
            while data[i : i + 1] != b"e":
                item, i = _decode(data, i)
                items.append(item)
            return items, i + 1
        if c == b"d":
            out: dict[str, Bencodable] = {}
            i += 1
            while data[i : i + 1] != b"e":
                key, i = _decode(data, i)
                out[key if isinstance(key, str) else repr(key)], i = _decode(data, i)
            return out, i + 1
        colon = data.index(b":", i)
        size = int(data[i:colon])
        raw = data[colon + 1 : colon + 1 + size]
        if size < 0 or len(raw) != size:
            raise NgError("truncated bencoded string")
        try:
            return raw.decode(), colon + 1 + size
        except UnicodeDecodeError:
            return raw, colon + 1 + size
    except (ValueError, IndexError):
        raise NgError(f"bad bencode at byte {i}") from None


# ----------------------------------------------------------------- requests


def ng_request(
    port: int, command: dict[str, Bencodable], *, host: str = HOST, timeout: float = 1.0
) -> dict[str, Bencodable]:
    """Send one ng command (``{"command": "ping"}``...) and return rtpengine's reply."""
    cookie = secrets.token_hex(6).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(cookie + b" " + bencode(command), (host, port))
            while True:
                data = s.recv(65535)
                head, _, body = data.partition(b" ")
                if head == cookie:
                    break
        except OSError as exc:
            raise NgError(f"rtpengine at {host}:{port}: {exc or 'no answer'}") from None
    reply = bdecode(body)
    if not isinstance(reply, dict):
        raise NgError("rtpengine's reply is not a dictionary")
    return reply


def ng_ping(port: int, *, host: str = HOST, timeout: float = 0.3) -> bool:
    """True if rtpengine answers ``ping`` with ``pong``."""
    try:
        return (
            ng_request(port, {"command": "ping"}, host=host, timeout=timeout).get("result")
            == "pong"
        )
    except NgError:
        return False
