"""The CTI command grammar carried by ``sendCTIMessage``.

Theory of operation: a message is either a *command* of the CTI Toolkit style
(``/ANSWER``, ``/DIAL?NUMBER=5551234``, ``/HOLD?LINE_NUMBER=2``...) or free text. Free text,
and ``/NAME`` where NAME is not a command we know, is outside the grammar: it is delivered to
``onSendCTIMessage`` handlers only and succeeds. A message that names a known command must be
well-formed: a missing or malformed parameter is the caller's error, reported as such.

Grammar (command names and keys are case-insensitive, values are percent-decoded)::

    message   = "/" NAME [ "?" param *( "&" param ) ]
    param     = KEY "=" VALUE
    KEY       = NUMBER | DIGITS | LINE_NUMBER | CALL_ID
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import CtiRequestError
from .jsonvalue import check_text

MAX_MESSAGE_LENGTH = 4096


class Action(enum.StrEnum):
    ANSWER = "ANSWER"
    HANGUP = "HANGUP"
    HOLD = "HOLD"
    RETRIEVE = "RETRIEVE"
    DIAL = "DIAL"
    TRANSFER = "TRANSFER"
    MUTE = "MUTE"
    UNMUTE = "UNMUTE"
    DTMF = "DTMF"
    #: Consult transfer and conference (connectors with the CONSULT / CONFERENCE capability).
    CONSULT = "CONSULT"
    COMPLETE_TRANSFER = "COMPLETE_TRANSFER"
    CANCEL_CONSULT = "CANCEL_CONSULT"
    CONFERENCE = "CONFERENCE"


# Parameters each action takes beyond LINE_NUMBER / CALL_ID, and which are required.
_REQUIRED: dict[Action, str | None] = {
    Action.ANSWER: None,
    Action.HANGUP: None,
    Action.HOLD: None,
    Action.RETRIEVE: None,
    Action.DIAL: "NUMBER",
    Action.TRANSFER: "NUMBER",
    Action.MUTE: None,
    Action.UNMUTE: None,
    Action.DTMF: "DIGITS",
    Action.CONSULT: "NUMBER",
    Action.COMPLETE_TRANSFER: None,
    Action.CANCEL_CONSULT: None,
    Action.CONFERENCE: None,
}
#: Commands that act on a consult call and the held call it is linked to.
CONSULT_ACTIONS = frozenset({Action.COMPLETE_TRANSFER, Action.CANCEL_CONSULT, Action.CONFERENCE})
#: Attached-data key a connector puts on a consult call: the ID of the held call it consults
#: about (components see the consult call as a normal call, with this link in its data).
CONSULT_OF = "consultOf"
# DIAL places a new call: it cannot target an existing one.
_TARGETS_A_CALL = {a for a in Action if a is not Action.DIAL}

NUMBER_RE = re.compile(r"^\+?[0-9A-Za-z*#._-]{1,64}\Z")
DIGITS_RE = re.compile(r"^[0-9*#A-Da-d]{1,64}\Z")
CALL_ID_RE = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,255}\Z")
_NAME_RE = re.compile(r"^/([A-Za-z_]+)(?:\?(.*))?\Z", re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class CtiCommand:
    """A parsed command. ``line_number`` is 1-based; at most one of it and ``call_id`` is set."""

    action: Action
    number: str | None = None
    digits: str | None = None
    line_number: int | None = None
    call_id: str | None = None

    def to_message(self) -> str:
        """The canonical message text of this command (round-trips through :func:`parse`)."""
        params: list[str] = []
        if self.number is not None:
            params.append(f"NUMBER={_quote(self.number)}")
        if self.digits is not None:
            params.append(f"DIGITS={_quote(self.digits)}")
        if self.line_number is not None:
            params.append(f"LINE_NUMBER={self.line_number}")
        if self.call_id is not None:
            params.append(f"CALL_ID={_quote(self.call_id)}")
        return f"/{self.action.value}" + ("?" + "&".join(params) if params else "")


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="+*#._-")


def parse(message: str) -> CtiCommand | None:
    """Parse a ``sendCTIMessage`` text.

    Returns ``None`` for a message outside the grammar, a :class:`CtiCommand` for a valid
    command, and raises :class:`CtiRequestError` for a known command that is malformed.
    """
    if not isinstance(message, str):
        raise CtiRequestError("CTI message must be a string")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise CtiRequestError(f"CTI message longer than {MAX_MESSAGE_LENGTH} characters")
    check_text(message, "CTI message")
    m = _NAME_RE.match(message.strip())
    if not m:
        return None
    try:
        action = Action(m.group(1).upper())
    except ValueError:
        return None
    query = m.group(2)
    params: dict[str, str] = {}
    if query:
        for part in query.split("&"):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip().upper()
            if not sep:
                raise CtiRequestError(f"/{action}: parameter {key!r} has no value (KEY=VALUE)")
            if key in params:
                raise CtiRequestError(f"/{action}: parameter {key} given twice")
            try:
                params[key] = unquote(raw, errors="strict") if "%" in raw else raw
            except UnicodeDecodeError:
                raise CtiRequestError(
                    f"/{action}: {key} has a %-escape that is not UTF-8"
                ) from None
    return _build(action, params)


def _build(action: Action, params: dict[str, str]) -> CtiCommand:
    allowed = {"LINE_NUMBER", "CALL_ID"} if action in _TARGETS_A_CALL else set()
    required = _REQUIRED[action]
    if required:
        allowed.add(required)
    unknown = sorted(set(params) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "no parameters"
        raise CtiRequestError(f"/{action}: unknown parameter {unknown[0]} (expected {expected})")
    if required and not params.get(required):
        raise CtiRequestError(f"/{action} needs {required}=...")
    if "LINE_NUMBER" in params and "CALL_ID" in params:
        raise CtiRequestError(f"/{action}: give LINE_NUMBER or CALL_ID, not both")

    number = params.get("NUMBER")
    if number is not None and not NUMBER_RE.match(number):
        raise CtiRequestError(f"/{action}: NUMBER {number!r} is not a dialable number")
    digits = params.get("DIGITS")
    if digits is not None and not DIGITS_RE.match(digits):
        raise CtiRequestError(f"/{action}: DIGITS may hold only 0-9 * # A-D (1 to 64)")
    line: int | None = None
    if "LINE_NUMBER" in params:
        raw = params["LINE_NUMBER"]
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 99:
            raise CtiRequestError(f"/{action}: LINE_NUMBER must be a whole number from 1 to 99")
        line = int(raw)
    call_id = params.get("CALL_ID")
    if call_id is not None and not CALL_ID_RE.match(call_id):
        raise CtiRequestError(f"/{action}: CALL_ID is empty, too long or has control characters")
    return CtiCommand(
        action=action, number=number, digits=digits, line_number=line, call_id=call_id
    )
