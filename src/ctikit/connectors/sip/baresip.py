"""baresip's ``ctrl_tcp`` messages as typed values, and parsers for command replies (sans-I/O).

Each netstring payload is one JSON object: a *response* to a command
(``{"response":true,"ok":...,"data":...,"token":...}``) or an *event*
(``{"event":true,"class":"call","type":"CALL_INCOMING","id":CALL-ID,...}``).
:func:`parse_message` turns a payload into :class:`Response` or :class:`BaresipEvent` and
raises :class:`ProtocolError` for anything else; :func:`encode_command` builds a request.

Command replies are human-readable text (with ANSI colours); the ``parse_*`` helpers read the
few we rely on. Checked against baresip 1.0.0 (Debian 12).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from .netstring import encode as netstring

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ProtocolError(ValueError):
    """baresip sent a message ctikit cannot read (the peer's fault)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """The reply to one command. ``data`` is the command's text output, colours removed."""

    ok: bool
    data: str
    token: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BaresipEvent:
    """An event. ``call_id`` is the SIP Call-ID (None on registration events and on the first
    ``CALL_LOCAL_SDP`` of an outgoing call, which baresip 1.0.0 sends before it has one)."""

    klass: str  # "call", "register", "other"...
    type: str  # "CALL_INCOMING", "REGISTER_OK"...
    account_aor: str | None = None
    direction: str | None = None  # "incoming" / "outgoing"
    peer_uri: str | None = None
    call_id: str | None = None
    param: str | None = None


BaresipMessage = Response | BaresipEvent


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour codes (baresip colours its command output)."""
    return _ANSI_RE.sub("", text)


def parse_message(payload: bytes) -> BaresipMessage:
    """Decode one ``ctrl_tcp`` payload; raises :class:`ProtocolError` if it is not one."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"ctrl_tcp message is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"ctrl_tcp message is not a JSON object: {_short(obj)}")
    if obj.get("response") is True:
        ok = obj.get("ok")
        if not isinstance(ok, bool):
            raise ProtocolError(f"response without a boolean 'ok': {_short(obj)}")
        return Response(
            ok=ok,
            data=strip_ansi(_opt_str(obj, "data") or ""),
            token=_opt_str(obj, "token"),
        )
    if obj.get("event") is True:
        etype = _opt_str(obj, "type")
        if not etype:
            raise ProtocolError(f"event without a 'type': {_short(obj)}")
        return BaresipEvent(
            klass=_opt_str(obj, "class") or "",
            type=etype,
            account_aor=_opt_str(obj, "accountaor"),
            direction=_opt_str(obj, "direction"),
            peer_uri=_opt_str(obj, "peeruri"),
            call_id=_opt_str(obj, "id") or None,
            param=_opt_str(obj, "param"),
        )
    raise ProtocolError(f"neither a response nor an event: {_short(obj)}")


def encode_command(command: str, params: str | None = None, token: str | None = None) -> bytes:
    """A ``ctrl_tcp`` request, framed as a netstring, ready to write."""
    if not command or not command.isascii() or not command.replace("_", "").isalnum():
        raise ValueError(f"bad baresip command name {command!r}")
    msg: dict[str, Any] = {"command": command}
    if params is not None:
        if any(ord(c) < 32 for c in params):
            raise ValueError("baresip command parameters may not hold control characters")
        msg["params"] = params
    if token is not None:
        msg["token"] = token
    return netstring(json.dumps(msg, separators=(",", ":")).encode())


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{key!r} is not a string: {_short(obj)}")
    return value


def _short(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------- SIP URIs and replies


def sip_user(uri: str | None) -> str | None:
    """The user part of a SIP URI (``"sip:+1415@host;x"`` -> ``"+1415"``), else None."""
    if not uri:
        return None
    m = re.match(r"^\s*(?:[^<]*<)?sips?:([^@;>?]+)@", uri)
    if not m:
        return None
    return unquote(m.group(1))


def sip_uri(user: str, host: str, port: int) -> str:
    """``sip:USER@HOST:PORT`` with the user part escaped (``#`` must be ``%23`` in a URI)."""
    return f"sip:{quote(user, safe='+*-_.!~()&=$,;?/')}@{host}:{port}"


_CALLSTAT_RE = re.compile(r"=====\s*Call debug \((\w+)\)[\s\S]*?\bid=(\S+)")


def parse_callstat(data: str) -> tuple[str, str] | None:
    """``(state, call_id)`` of the current call from ``callstat`` output, or None."""
    m = _CALLSTAT_RE.search(strip_ansi(data))
    return (m.group(1), m.group(2)) if m else None


_ACTIVE_RE = re.compile(r"--- Active calls \((\d+)\) ---")


def parse_call_count(data: str) -> int | None:
    """Number of calls in ``listcalls`` output, or None if it is not that output."""
    m = _ACTIVE_RE.search(strip_ansi(data))
    return int(m.group(1)) if m else None


_REGLINE_RE = re.compile(r"^[> ]\s*(sips?:\S+)\s+(\S+)", re.MULTILINE)


def parse_reginfo(data: str) -> dict[str, bool]:
    """``{aor: registered}`` from ``reginfo`` output (``OK`` means registered)."""
    return {aor: state == "OK" for aor, state in _REGLINE_RE.findall(strip_ansi(data))}


def parse_mute(data: str) -> bool | None:
    """The mute state ``mute`` (a toggle in baresip 1.0.0) reports: True muted, None unknown."""
    text = strip_ansi(data)
    if "un-muted" in text:
        return False
    if "muted" in text:
        return True
    return None
