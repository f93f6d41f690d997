"""Strict JSON values: what ctikit stores and sends must encode again, everywhere.

Python's ``json`` accepts things that are not JSON (``NaN``, ``Infinity``), strings that
cannot be encoded as UTF-8 (lone surrogates such as ``"\\ud800"``), and nesting deep enough
to exhaust the stack. Any of these, once stored, would break every later event and
snapshot of the call, so they are refused at the door with a clear reason.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import CtiRequestError

MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise CtiRequestError(f"{name} is not JSON (use null or a string)")


def parse_json_text(text: str | bytes, what: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``text`` as strict JSON and check it as :func:`check_json_value` would.

    Every request body and CTI message comes through here, some of them 64 KiB of tiny
    containers (``[{},{},...]``: ~21,800 dicts), so the checks read the text (C speed)
    instead of walking the parsed value in Python: a walk cost ~15 ms of the event loop
    per such payload (issue 13, F2 and F4).
    """
    try:
        if isinstance(text, bytes):
            # As json.loads decodes bytes (UTF-8/16/32, surrogates passed through).
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:
        raise CtiRequestError(f"{what} is nested too deeply (at most {max_depth})") from None
    except _NotFinite as exc:
        raise CtiRequestError(f"{what} holds {exc.value}, which is not JSON") from None
    except CtiRequestError as exc:
        raise CtiRequestError(f"{what}: {exc.message}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CtiRequestError(f"{what} is not valid JSON: {exc}") from None
    # Depth first: the walk stops at the depth limit before it reaches a deeper string.
    if _depth_over(text, max_depth):
        raise CtiRequestError(f"{what} is nested too deeply (at most {max_depth})")
    if not _encodable(text) or ("\\" in text and _escapes_a_lone_surrogate(text)):
        raise CtiRequestError(f"{what} {_LONE_SURROGATE}")
    return value


class _NotFinite(ValueError):
    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to inf
        raise _NotFinite(value)
    return value


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_LONE_SURROGATE = "has a string that is not valid Unicode (a lone surrogate)"
#: An escaped UTF-16 surrogate (``\ud800``); also matches an escaped backslash followed by
#: such text, which only costs a closer look.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _escapes_a_lone_surrogate(text: str) -> bool:
    """Whether a string of valid JSON ``text`` escapes half a surrogate pair: only the
    string literals that escape a surrogate are decoded (a pair is one character)."""
    if not _SURROGATE_ESCAPE.search(text):
        return False
    return any(
        _SURROGATE_ESCAPE.search(literal) and not _encodable(json.loads(literal))
        for literal in _STRING.findall(text)
    )


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
#: JSON outside its strings is ASCII: every character but the brackets, deleted.
_ONLY_BRACKETS = {c: None for c in range(128) if chr(c) not in "[]{}"}


def _depth_over(text: str, max_depth: int) -> bool:
    """Whether valid JSON ``text`` nests containers deeper than ``max_depth``. Outside its
    strings, each pass removes the innermost ``[]`` and ``{}`` pairs, one level of every
    branch (marked first, so a pair emptied by the pass waits for the next): a text of depth
    ``d`` is empty after ``d`` passes."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = _STRING.sub("", text).translate(_ONLY_BRACKETS)
    for _ in range(max_depth):
        brackets = brackets.replace("[]", "\0").replace("{}", "\0").replace("\0", "")
        if not brackets:
            return False
    return True


def check_json_value(value: Any, what: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`CtiRequestError` unless ``value`` is plain, encodable JSON."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise CtiRequestError(f"{what} is nested too deeply (at most {max_depth})")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise CtiRequestError(f"{what} has a key that is not a string")
                    _check_text(key, what)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, what)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise CtiRequestError(f"{what} holds {item}, which is not JSON")
        elif item is not None and not isinstance(item, bool | int):
            raise CtiRequestError(f"{what} holds a {type(item).__name__}, which is not JSON")


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CtiRequestError(f"{what} {_LONE_SURROGATE}") from None


def check_text(value: str, what: str) -> str:
    """A single string field (labels, messages, notes): must be encodable."""
    _check_text(value, what)
    return value
