"""The whole Open CTI path, for a Lightning and a Classic softphone that differ only in their
script: the panel loads the softphone with Salesforce's parameters, a call arrives on the
softphone's own phone, the softphone pops the caller's record in the workspace, reports the
call (integration.js) to the console and its components, saves a log that lands in ctikit's
store and the components hear onCallLogSaved; a click on a number in the console dials
through the softphone; components' sendCTIMessage reaches the softphone."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

lib = sys.modules["ctikit_browser_harness_lib"]
_n = itertools.count(1)


def softphone_frame(page: Any, kind: str) -> Any:
    return lib.find_frame(page, lambda url: f"/opencti/{kind}.html" in url)


def sp_log(frame: Any, what: str) -> list[Any]:
    return [e["value"] for e in frame.evaluate("SP.log") if e["what"] == what]


def wait_log(page: Any, frame: Any, what: str, n: int = 1) -> list[Any]:
    return lib.wait_until(lambda: (v := sp_log(frame, what)) and len(v) >= n and v, page)


def open_console(page: Any, server: Any, kind: str) -> tuple[str, Any, Any]:
    agent = f"oc{next(_n)}{kind[0]}"
    server.login(page.context, agent)
    page.goto(f"{server.url}/console?agent={agent}")
    frame = softphone_frame(page, kind)
    try:
        lib.wait_until(lambda: frame.evaluate("window.SP && SP.ready"), page)
    except AssertionError:
        raise AssertionError(
            frame.evaluate("[SP.errors, document.body.innerText, location.href]")
        ) from None
    harness = lib.Harness(lib.find_frame(page, lib.is_harness()))
    harness.wait_ready()
    return agent, frame, harness


@pytest.mark.parametrize("kind", ["lightning", "classic"])
def test_a_softphone_runs_a_call_through_the_console(
    oc_servers: Any, oc_context: Any, kind: str
) -> None:
    server = oc_servers[kind]
    page = oc_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    agent, frame, harness = open_console(page, server, kind)

    # Loaded with Salesforce's parameters after its own query, and the panel shows it.
    query = parse_qs(urlsplit(frame.url).query)
    assert query["vendor"] == ["acme"]
    assert query["mode"] == ["Lightning"]
    assert query["sfdcIframeOrigin"] == [server.url]
    assert query["sfdcIFrameOrigin"] == [server.url]
    panel = page.get_by_test_id("softphone-panel")
    expect(page.get_by_test_id("softphone-panel-label")).to_have_text("Acme phone")
    assert page.get_by_test_id("softphone-frame").evaluate("f => f.style.height") == "420px"
    assert wait_log(page, frame, "enableClickToDial")[0] in (
        {"success": True, "returnValue": None, "errors": None},
        {"result": True},
    )

    begun = harness.listen("cti.onCallBegin")
    saved = harness.listen("cti.onCallLogSaved")

    # A call arrives on the softphone's phone.
    call_id = frame.evaluate("SP.incoming('+14155550100')")
    assert harness.events(begun, 1) == [{"id": call_id}]

    def calls() -> list[Any]:
        return server.api("GET", f"/api/agents/{agent}/calls", auth=agent)[1]["calls"]

    assert [c["id"] for c in calls()] == [call_id]
    if kind == "lightning":  # setCallAttachedData reached the registry and the components
        assert lib.wait_until(lambda: calls()[0]["data"], page) == {"ANI": "+14155550100"}
        key = harness.call("cti.getCallAttachedData", call_id)
        assert json.loads(harness.plain(key)["data"]) == {"ANI": "+14155550100"}
    ended = harness.listen("cti.onCallEnd")
    # ... and it popped the caller's record in the workspace.
    tab = page.get_by_test_id("primary-tabs").get_by_role("tab")
    expect(tab).to_have_count(1)
    record = lib.find_frame(page, lambda url: "/records/" in url or "/003A000001" in url)
    assert "003A000001" in record.url
    assert wait_log(page, frame, "screenPop")[0] in (
        {"success": True, "returnValue": None, "errors": None},
        {"result": True},
    )

    # A component asks the softphone something: it arrives at its onSendCTIMessage.
    harness.ok("cti.sendCTIMessage", "acme:mute " + call_id)
    assert lib.wait_until(lambda: sp_log(frame, "onSendCTIMessage"), page) == [
        {"message": "acme:mute " + call_id}
    ]

    # Hang up: the softphone saves its log.
    frame.evaluate("SP.hangup()")
    result = wait_log(page, frame, "saveLog")[0]
    log_id = frame.evaluate("SP.savedId")
    assert log_id and log_id.startswith("log_"), result
    assert harness.events(saved, 1) == [{"id": log_id}]
    assert harness.events(ended, 1)[0]["id"] == call_id
    stored = server.run(server.store.get(log_id))
    assert stored is not None and stored.agent_id == agent and stored.call_id == call_id
    assert stored.subject == "Call +14155550100"
    fields = stored.attached_data["openCti"]["fields"]
    assert fields["WhoId"] == "003A000001" and fields["Status"] == "Completed"
    assert stored.attached_data["openCti"]["entityApiName"] == "Task"

    # Click-to-dial: the number the console shows dials through the softphone.
    frame.evaluate("SP.incoming('+14155550177')")
    number = page.get_by_test_id("lines").locator("[data-dial-number='+14155550177']")
    expect(number).to_have_attribute("role", "button")
    number.click()
    dialed = wait_log(page, frame, "onClickToDial")[0]
    assert dialed == {
        "number": "+14155550177",
        "recordId": None,
        "recordName": None,
        "objectType": None,
    }

    def outbound() -> list[Any]:
        return [c for c in calls() if c["type"] == "OUTBOUND"]

    assert [c["label"] for c in lib.wait_until(outbound, page)] == ["+14155550177"]
    assert panel.is_visible()
    assert errors == []


def test_the_panel_does_not_wait_for_notify_initialization_complete(
    oc_servers: Any, oc_context: Any
) -> None:
    server = oc_servers["lightning"]
    page = oc_context.new_page()
    _, frame, _ = open_console(page, server, "lightning")
    panel = page.get_by_test_id("softphone-panel")
    # The softphone already works and shows, still "starting".
    expect(panel).to_have_attribute("data-state", "loading")
    assert page.get_by_test_id("softphone-frame").is_visible()
    frame.evaluate("sforce.opencti.notifyInitializationComplete()")
    expect(panel).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("softphone-panel-status")).to_have_text("")


def test_the_store_keeps_a_log_from_rest_too(oc_servers: Any, oc_context: Any) -> None:
    """A log the softphone saved reads back over REST with all its fields."""
    server = oc_servers["lightning"]
    page = oc_context.new_page()
    agent, frame, _ = open_console(page, server, "lightning")
    out = frame.evaluate(
        "SP.lx('saveLog', {value: {entityApiName: 'Task', Subject: 'Note', Custom__c: 42}})"
    )
    assert out["success"] is True, out
    log_id = out["returnValue"]["recordId"]
    status, body = server.api("GET", f"/api/call-logs/{log_id}", auth=agent)
    assert status == 200, body
    assert body["log"]["subject"] == "Note"
    assert body["log"]["attached_data"]["openCti"]["fields"] == {
        "Subject": "Note",
        "Custom__c": 42,
    }
    json.dumps(body)
