"""Streaming CSV and JSON export of call logs.

CSV cells that start with ``=``, ``+``, ``-``, ``@``, TAB or CR get a leading
apostrophe (``'``) so spreadsheet applications show them as text instead of
evaluating them as formulas (CSV/formula injection, see OWASP). Plain phone numbers
and numbers (``+14155550100``, ``-12.5``) are left alone: every ANI of a contact
centre starts with ``+``, and a cell of only digits cannot run anything. The JSON
export is never altered.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

import msgspec

from .records import CALL_LOG_FIELDS, CallLog, encode_json
from .store import CallLogStore

CSV_COLUMNS: Final = CALL_LOG_FIELDS

_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


# A sign followed by digits only (E.164 numbers, negative numbers): no formula can hide in it.
_PLAIN_NUMBER: Final = re.compile(r"[+-][0-9][0-9.]*")


def _guard(cell: str) -> str:
    if cell.startswith(_FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _csv_line(cells: tuple[str, ...] | list[str]) -> str:
    # csv.writer handles quoting of commas, quotes and newlines; lines end in CRLF
    # as RFC 4180 asks.
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def csv_header() -> str:
    """The CSV header line (with its CRLF), in :data:`CSV_COLUMNS` order."""
    return _csv_line(CSV_COLUMNS)


def _cell(name: str, value: Any) -> str:
    if name == "attached_data":
        # Always JSON (None -> "null") so every cell in this column parses; raw: as stored
        # (the same compact text encode_json wrote).
        if isinstance(value, msgspec.Raw):
            return _guard(bytes(value).decode())
        return _guard(encode_json(value))
    if value is None:
        return ""
    # to_dict() already rendered datetimes as ISO 8601 UTC strings.
    return _guard(str(value))


def csv_row(log: CallLog) -> str:
    """One CSV line (with its CRLF) for *log*.

    None becomes an empty cell, datetimes ISO 8601 UTC, ``attached_data``
    compact JSON text (``null`` when None); text cells are guarded against
    formula injection (see the module docstring). Parse with ``csv.reader``
    (``newline=""``).
    """
    data = log.to_dict()
    return _csv_line([_cell(name, data[name]) for name in CSV_COLUMNS])


async def export_csv(
    store: CallLogStore,
    *,
    agent_id: str | None = None,
    call_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[str]:
    """Yield the CSV export as text chunks: the header, then one line per log.

    Logs come oldest first; filters are those of :meth:`CallLogStore.list`.
    """
    yield csv_header()
    async for log in store.iter_all(
        agent_id=agent_id, call_id=call_id, since=since, until=until, raw_data=True
    ):
        yield csv_row(log)


async def export_json(
    store: CallLogStore,
    *,
    agent_id: str | None = None,
    call_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[str]:
    """Yield chunks that concatenate to a JSON array of :meth:`CallLog.to_dict` objects.

    Valid JSON also when nothing matches (``[]``). Logs come oldest first.
    """
    separator = "\n"
    yield "["
    async for log in store.iter_all(agent_id=agent_id, call_id=call_id, since=since, until=until):
        yield separator + json.dumps(log.to_dict(), ensure_ascii=False, allow_nan=False)
        separator = ",\n"
    yield "\n]\n" if separator != "\n" else "]\n"
