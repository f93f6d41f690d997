"""Server bugs the fuzzers found: the open ones, and how to recognise them.

While a bug is open, a fuzz run that hits it counts the hit (printed at the end of the run)
instead of failing, so the run goes on to find other problems; its strict-xfail regression
test in ``test_regressions.py`` keeps it visible. When the server is fixed, that test passes,
which fails the suite (strict): delete the xfail mark and move the bug to ``FIXED`` here.

``CTIKIT_FUZZ_KNOWN_BUGS=fail`` turns the tolerance off: every hit is a failure again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class KnownBug:
    key: str
    title: str
    #: Every one of these substrings is in the server's ERROR record (with traceback). Empty:
    #: the bug logs no ERROR; the invariant that finds it asks :func:`is_open` itself.
    log_signature: tuple[str, ...]


#: Open now (docs/fuzzing.md, "Findings"). An entry looks like:
#:     KnownBug("B11", "what goes wrong, and where", ("UnicodeDecodeError", "commands.py"))
OPEN_BUGS: tuple[KnownBug, ...] = ()

#: Found by these fuzzers and fixed since; their regression tests are plain tests now.
FIXED: dict[str, str] = {
    "B1": "a CTI message with a %-escape that is not UTF-8 (/DIAL?NUMBER=%FF) was an internal "
    "error (UnicodeDecodeError from unquote(errors='strict'))",
    "B2": "JSON nested ~1000 deep raised RecursionError: a frame killed its socket (close 1002 "
    "after a 500 written into the upgraded stream), callData and REST bodies were 500s",
    "B3": "simulateCall with all 20 simulator lines of the agent busy was an internal error "
    "(ActionFailedError not mapped)",
    "B4": "simulateCall answered success for a call that never appeared when the agent already "
    "had 20 active calls (the registry dropped the CallOffered, the simulator kept the line)",
    "B5": "setCallObjectIds dropped telephony calls from the registry while the simulator kept "
    "their lines: 20 such drops and the agent could never get a simulated call again",
    "B7": "NaN/Infinity/1e999 were accepted in callData and REST bodies; saving that call's log "
    "was then an internal error (storage refuses non-finite numbers)",
    "B6": "a 405 answer had no Allow header (RFC 9110 requires it): rest.json_errors rebuilt "
    "the HTTPMethodNotAllowed as JSON without its headers",
    "B8": "a lone surrogate escape (\\ud800) in callData or a REST body was stored; every later "
    "encoding of the call failed: getState, GET /calls were internal errors, its event was "
    "never sent (seq gap) and the agent's consoles could not reconnect (hello failed)",
    "B9": "a call ID over 255 characters in the path of POST .../calls/{call_id}/data was "
    "answered 413 (content too large); an over-long value is now a 400 (TooLongError)",
    "B10": "simulate-call with data over 64 KiB answered 200 and a callId, but the registry "
    "dropped the offered call: the service now checks the data the call would carry first",
    "B11": "a request aiohttp cannot parse (a query or a header over 8 KB) was logged as an "
    "ERROR with a traceback: now one WARNING line",
}
TOLERATE = os.environ.get("CTIKIT_FUZZ_KNOWN_BUGS", "tolerate") != "fail"


def is_open(key: str) -> bool:
    """Whether a hit of bug ``key`` is tolerated (the bug is open and tolerance is on)."""
    return TOLERATE and any(bug.key == key for bug in OPEN_BUGS)


def match(records: list[str]) -> str | None:
    """The key of the open bug that explains every one of ``records``, if one does."""
    if not TOLERATE or not records:
        return None
    for bug in OPEN_BUGS:
        if bug.log_signature and all(all(s in rec for s in bug.log_signature) for rec in records):
            return bug.key
    return None


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def avoid(frame: str | bytes) -> str | None:
    """The key of an open bug that sending ``frame`` would trigger and that would poison the
    agent's state for the rest of the run (so the frame is not sent), else None.

    While B8 was open, callData holding a lone surrogate bricked the agent: such frames
    were held back. Keep this hook for the next bug of that kind.
    """
    if not is_open("B8") or isinstance(frame, bytes):
        return None
    try:
        obj = msgspec.json.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("op") != "setCallAttachedData":
        return None
    data = obj.get("data")
    if not isinstance(data, str):
        return None
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return "B8" if _has_surrogate(parsed) else None
