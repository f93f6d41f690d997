"""Strict JSON values: what ctikit stores and sends must encode again, everywhere.

Python's ``json`` accepts things that are not JSON (``NaN``, ``Infinity``), strings that
cannot be encoded as UTF-8 (lone surrogates such as ``"\\ud800"``), and nesting deep enough
to exhaust the stack. Any of these, once stored, would break every later event and
snapshot of the call, so they are refused at the door with a clear reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import CtiRequestError

MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise CtiRequestError(f"{name} is not JSON (use null or a string)")


def parse_json_text(text: str | bytes, what: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``text`` as strict JSON and check it with :func:`check_json_value`."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise CtiRequestError(f"{what} is nested too deeply (at most {max_depth})") from None
    except CtiRequestError as exc:
        raise CtiRequestError(f"{what}: {exc.message}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CtiRequestError(f"{what} is not valid JSON: {exc}") from None
    check_json_value(value, what, max_depth=max_depth)
    return value


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
        raise CtiRequestError(
            f"{what} has a string that is not valid Unicode (a lone surrogate)"
        ) from None


def check_text(value: str, what: str) -> str:
    """A single string field (labels, messages, notes): must be encodable."""
    _check_text(value, what)
    return value
