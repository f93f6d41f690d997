"""The console socket's Open CTI ops: saveOpenCtiLog stores and fires onCallLogSaved for the
agent only; bad records and other agents' logs are refused; search and runApex say why when
no endpoint is configured."""

from __future__ import annotations

from typing import Any

import pytest

from ctikit.server.keys import SERVICE


async def test_save_creates_updates_and_fires_for_the_agent_only(connect: Any, server: Any) -> None:
    a, b = await connect("agent1"), await connect("agent2")
    begun = await a.request("fireOnCallBegin", callId="v-1", callType="inbound", label="+1415")
    assert begun["success"] is True
    out = await a.request(
        "saveOpenCtiLog",
        entity="Task",
        fields={"Subject": "Hi", "CallObject": "v-1", "CallDurationInSeconds": "7", "X": None},
    )
    assert out["success"] is True, out
    log_id = out["logId"]
    await a.wait_event("callLogSaved", id=log_id)
    store = server.app[SERVICE].store
    log = await store.get(log_id)
    assert log.call_id == "v-1" and log.label == "+1415" and log.duration_seconds == 7
    assert log.attached_data["openCti"]["fields"]["X"] is None
    out = await a.request("saveOpenCtiLog", fields={"Description": "later"}, logId=log_id)
    assert out["success"] is True and out["logId"] == log_id
    assert (await store.get(log_id)).comments == "later"
    refused = await b.request("saveOpenCtiLog", fields={"Subject": "x"}, logId=log_id)
    assert refused["success"] is False and "no call log" in refused["error"]
    assert "callLogSaved" not in b.names()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ("Subject=x", "fields must be an object"),
        ({"Subject": {"a": 1}}, "must be a string, number, boolean or null"),
        ({"": "x"}, "field names"),
        ({f"F{i}": i for i in range(201)}, "more than 200 fields"),
        ({"CallDurationInSeconds": "long"}, "number of seconds"),
        ({"Subject": "\u0000"}, "NUL"),
    ],
)
async def test_bad_records_are_refused(connect: Any, fields: Any, words: str) -> None:
    a = await connect("agent1")
    out = await a.request("saveOpenCtiLog", fields=fields)
    assert out["success"] is False and words in out["error"], out


async def test_endpoints_not_configured_say_why(connect: Any) -> None:
    a = await connect("agent1")
    out = await a.request("openCtiSearch", searchParams="x")
    assert out["success"] is False and "search_url" in out["error"]
    out = await a.request("openCtiApex", apexClass="A", methodName="m")
    assert out["success"] is False and "apex_url" in out["error"]


async def test_console_config_has_no_softphone_by_default(server: Any) -> None:
    from .conftest import auth

    r = await server.get("/api/console/config?agent=agent1", headers=auth(server))
    assert (await r.json())["openCti"] is None
