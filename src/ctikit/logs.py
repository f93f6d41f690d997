"""Logging set-up: plain text for people, or one JSON object per line for a log pipeline.

Which agent, call and request a line is about travels in context variables, set where the
server learns them (an HTTP request, a console socket and its frames, a telephony event) and
read when a line is formatted, so the code that logs does not pass them along. asyncio tasks
copy the context they were created in, so a socket's frames inherit its agent.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final, Literal, TextIO

import msgspec

AGENT_ID: Final[ContextVar[str | None]] = ContextVar("ctikit_agent_id", default=None)
CALL_ID: Final[ContextVar[str | None]] = ContextVar("ctikit_call_id", default=None)
REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("ctikit_request_id", default=None)

LogFormat = Literal["text", "json"]
TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: Longest ID copied into a line: IDs come from outside and are data, not a way to fill logs.
_MAX_ID: Final = 255

_encode = msgspec.json.Encoder().encode


@contextmanager
def bound(
    *, agent: str | None = None, call: str | None = None, request: str | None = None
) -> Iterator[None]:
    """Within the block, log lines carry these IDs (those given; the others stay)."""
    tokens = [
        (var, var.set(value[:_MAX_ID]))
        for var, value in ((AGENT_ID, agent), (CALL_ID, call), (REQUEST_ID, request))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    and ``agent_id``, ``call_id``, ``request_id`` when known, ``exc`` with a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("agent_id", AGENT_ID), ("call_id", CALL_ID), ("request_id", REQUEST_ID)):
            value = record.__dict__.get(key, var.get())
            if value is not None:
                line[key] = str(value)[:_MAX_ID]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exc"] = self.formatStack(record.stack_info)
        # msgspec escapes control characters, so a newline in a message stays inside its
        # line; U+2028/2029 are line breaks to some readers (str.splitlines, JavaScript).
        text = _encode(line).decode()
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def configure(level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Send every log line to ``stream`` (stderr) in ``fmt``, from ``level`` up."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Python's warnings too, so a JSON log has nothing but JSON in it.
    logging.captureWarnings(True)
