"""The examples (caller card, custom softphone) in a real console, cross-origin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

TIMEOUT = 10_000
XSS = '<img src=x onerror="window.__pwned=1">'

expect.set_options(timeout=TIMEOUT)


def component(page: Any, name: str) -> Any:
    return page.frame_locator(f'iframe[data-testid="component-frame-{name}"]')


def simulate(server: Any, agent: str, **body: Any) -> str:
    status, resp = server.api("POST", f"/api/agents/{agent}/simulate-call", body)
    assert status == 200 and resp["success"], resp
    return str(resp["callId"])


def cti(server: Any, agent: str, message: str) -> None:
    status, resp = server.api("POST", f"/api/agents/{agent}/cti-message", {"message": message})
    assert status == 200 and resp["success"], resp


def open_console(page: Any, server: Any, agent: str) -> None:
    page.goto(server.console_url(agent))
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    for name in ("caller-card", "custom-softphone"):
        expect(component(page, name).get_by_test_id("status")).to_have_text("Ready")


@pytest.fixture
def console(page: Any, ctikit_server: Any, agent: str) -> Any:
    open_console(page, ctikit_server, agent)
    return page


def data_rows(card: Any) -> Any:
    return card.get_by_test_id("data-row")


def test_examples_are_served_from_another_origin(console: Any, ctikit_server: Any) -> None:
    frames = [f for f in console.frames if "/examples/" in f.url]
    assert len(frames) == 2
    for frame in frames:
        assert frame.url.startswith(ctikit_server.component_url)
        assert "ctiConsoleOrigin=" in frame.url and "nonce=" in frame.url


def test_caller_card_fills_in_and_clears(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    card = component(page, "caller-card")
    expect(card.get_by_test_id("empty")).to_be_visible()
    call_id = simulate(
        ctikit_server,
        agent,
        ani="+14155550131",
        dnis="8005550131",
        data={
            "IVR_Menu": "billing",
            "AccountNumber": "ACME-31",
            "Verified": True,
            "Nested": {"a": 1},
        },
    )
    expect(card.get_by_test_id("card")).to_be_visible()
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", call_id)
    expect(card.get_by_test_id("card-ani")).to_have_text("+14155550131")
    expect(card.get_by_test_id("card-dnis")).to_have_text("8005550131")
    expect(card.get_by_test_id("card-type")).to_have_text("INBOUND")
    rows = data_rows(card)
    expect(rows.filter(has_text="IVR_Menu")).to_contain_text("billing")
    expect(rows.filter(has_text="AccountNumber")).to_contain_text("ACME-31")
    expect(rows.filter(has_text="Verified")).to_contain_text("true")
    expect(rows.filter(has_text="Nested")).to_contain_text('{"a":1}')
    expect(card.get_by_test_id("empty")).to_be_hidden()
    # The call ends (hung up at the phone): the card clears.
    cti(ctikit_server, agent, f"/HANGUP?CALL_ID={call_id}")
    expect(card.get_by_test_id("card")).to_be_hidden()
    expect(card.get_by_test_id("empty")).to_be_visible()


def test_caller_card_shows_a_call_begun_before_it_loaded(
    page: Any, ctikit_server: Any, agent: str
) -> None:
    call_id = simulate(ctikit_server, agent, ani="+14155550132", data={"Queue": "gold"})
    open_console(page, ctikit_server, agent)
    card = component(page, "caller-card")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", call_id)
    expect(data_rows(card).filter(has_text="Queue")).to_contain_text("gold")


def test_caller_card_with_several_calls(console: Any, ctikit_server: Any, agent: str) -> None:
    card = component(console, "caller-card")
    first = simulate(ctikit_server, agent, ani="+14155550133")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", first)
    second = simulate(ctikit_server, agent, ani="+14155550134")
    # The latest is shown, the others listed.
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", second)
    others = card.get_by_test_id("other-call")
    expect(others).to_have_count(1)
    expect(others).to_have_attribute("data-call-id", first)
    expect(others).to_contain_text("+14155550133")
    others.click()
    expect(card.get_by_test_id("card-ani")).to_have_text("+14155550133")
    # Ending the shown one moves on to the other.
    cti(ctikit_server, agent, f"/HANGUP?CALL_ID={first}")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", second)
    expect(card.get_by_test_id("other-call")).to_have_count(0)


def test_custom_softphone_full_flow(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    soft = component(page, "custom-softphone")
    card = component(page, "caller-card")
    result = soft.get_by_test_id("result")

    # 1. fireOnCallBegin
    soft.get_by_test_id("call-id").fill("vendor-1")
    soft.get_by_test_id("call-type").select_option("outbound")
    soft.get_by_test_id("call-label").fill("Jane Doe (outbound)")
    soft.get_by_test_id("begin").click()
    expect(result).to_have_text("fireOnCallBegin: success")
    expect(soft.get_by_test_id("event-begin").first).to_have_text("callBegin vendor-1")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", "vendor-1")
    expect(card.get_by_test_id("card-type")).to_have_text("OUTBOUND")
    # The console's softphone and interaction log show it too.
    row = page.get_by_test_id("line-vendor-1")
    expect(row.get_by_test_id("line-number")).to_have_text("Jane Doe (outbound)")
    expect(row.get_by_test_id("line-type")).to_contain_text("managed by a component")
    expect(page.get_by_test_id("log-call-select")).to_contain_text("Jane Doe (outbound)")

    # 2. setCallAttachedData: the caller card picks it up.
    soft.get_by_test_id("call-data").fill(
        '{"ANI": "+14155550141", "DNIS": "5550000", "Plan": "Gold"}'
    )
    soft.get_by_test_id("attach").click()
    expect(result).to_have_text("setCallAttachedData: success")
    expect(card.get_by_test_id("card-ani")).to_have_text("+14155550141")
    expect(data_rows(card).filter(has_text="Plan")).to_contain_text("Gold")
    # Bad JSON is refused, nothing changes.
    soft.get_by_test_id("call-data").fill("{not json")
    soft.get_by_test_id("attach").click()
    expect(result).to_contain_text("setCallAttachedData: failed")

    # 3. setCallObjectIds: a second call, then the order reversed.
    soft.get_by_test_id("call-id").fill("vendor-2")
    soft.get_by_test_id("call-type").select_option("inbound")
    soft.get_by_test_id("call-label").fill("Second caller")
    soft.get_by_test_id("begin").click()
    expect(soft.get_by_test_id("call-ids")).to_have_value("vendor-1, vendor-2")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", "vendor-2")
    soft.get_by_test_id("reverse-ids").click()
    soft.get_by_test_id("set-ids").click()
    expect(result).to_have_text("setCallObjectIds: success")
    soft.get_by_test_id("call-ids").fill("")
    soft.get_by_test_id("load-ids").click()
    expect(soft.get_by_test_id("call-ids")).to_have_value("vendor-2, vendor-1")
    # The caller card follows the new order (latest = last).
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", "vendor-1")
    # ...and so does the console's softphone.
    expect(page.locator(".line").first).to_have_attribute("data-call-id", "vendor-2")

    # 4. sendCTIMessage: free text reaches onSendCTIMessage handlers.
    soft.get_by_test_id("cti-text").fill("hello from the vendor")
    soft.get_by_test_id("send-cti").click()
    expect(result).to_have_text("sendCTIMessage hello from the vendor: success")
    expect(soft.get_by_test_id("cti-message").first).to_have_text("hello from the vendor")
    # A command for a call the telephony side does not control is refused, with the reason.
    soft.get_by_test_id("call-id").fill("vendor-1")
    soft.get_by_test_id("quick-answer").click()
    expect(result).to_contain_text("sendCTIMessage /ANSWER?CALL_ID=vendor-1: failed")
    expect(result).to_contain_text("vendor-1")

    # 5. fireOnCallEnd
    soft.get_by_test_id("duration").fill("42")
    soft.get_by_test_id("disposition").fill("Resolved")
    soft.get_by_test_id("end").click()
    expect(result).to_have_text("fireOnCallEnd: success")
    expect(soft.get_by_test_id("event-end").first).to_have_text("callEnd vendor-1 (42 s, Resolved)")
    expect(page.get_by_test_id("line-vendor-1")).to_have_count(0)
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", "vendor-2")

    # 6. fireOnCallLogSaved
    soft.get_by_test_id("log-id").fill("00T000000042")
    soft.get_by_test_id("fire-log").click()
    expect(result).to_have_text("fireOnCallLogSaved: success")
    expect(soft.get_by_test_id("event-log-saved").first).to_have_text("callLogSaved 00T000000042")

    # The ended call can still get notes in the console's interaction log.
    select = page.get_by_test_id("log-call-select")
    expect(select.locator('option[value="vendor-1"]')).to_contain_text("ended")
    select.select_option("vendor-1")
    page.get_by_test_id("log-subject").fill("Vendor call")
    page.get_by_test_id("log-save").click()
    expect(page.get_by_test_id("log-saved")).to_be_visible()
    log_id = page.get_by_test_id("log-saved-id").inner_text()
    expect(soft.get_by_test_id("event-log-saved").first).to_have_text(f"callLogSaved {log_id}")
    status, body = ctikit_server.api("GET", f"/api/call-logs/{log_id}")
    assert status == 200
    assert body["log"]["call_id"] == "vendor-1"
    assert body["log"]["label"] == "Jane Doe (outbound)"
    assert page.page_errors == []


def test_components_escape_hostile_data(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    soft = component(page, "custom-softphone")
    card = component(page, "caller-card")
    simulate(ctikit_server, agent, ani="+14155550151", data={XSS: XSS, "Note": XSS})
    expect(data_rows(card).filter(has_text="Note")).to_contain_text(XSS)
    expect(card.get_by_test_id("data-key").filter(has_text=re.compile("^<img"))).to_have_count(1)
    soft.get_by_test_id("call-id").fill("xss-2")
    soft.get_by_test_id("call-label").fill(XSS)
    soft.get_by_test_id("begin").click()
    expect(soft.get_by_test_id("result")).to_have_text("fireOnCallBegin: success")
    # The new call's row in the footer moves the components' frames: a click while the page
    # is still laying out can land beside the button (seen in CI), so wait for the row.
    expect(page.get_by_test_id("line-xss-2")).to_be_visible()
    soft.get_by_test_id("call-data").fill('{"X": "' + XSS.replace('"', '\\"') + '"}')
    soft.get_by_test_id("attach").click()
    expect(soft.get_by_test_id("result")).to_have_text("setCallAttachedData: success")
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", "xss-2")
    expect(data_rows(card).filter(has_text="X")).to_contain_text(XSS)
    soft.get_by_test_id("cti-text").fill(XSS)
    soft.get_by_test_id("send-cti").click()
    # The request's own answer first: if this ever fails, the message says why (a flake of
    # the next line was seen twice in CI, on a loaded machine, never reproduced).
    expect(soft.get_by_test_id("result")).to_have_text(f"sendCTIMessage {XSS}: success")
    expect(soft.get_by_test_id("cti-message").first).to_have_text(XSS)
    expect(page.get_by_test_id("line-xss-2")).to_contain_text(XSS)
    page.wait_for_timeout(200)
    assert len(page.frames) >= 3
    for frame in page.frames:
        assert frame.evaluate("window.__pwned") is None, frame.url
        assert frame.evaluate("document.querySelectorAll('img').length") == 0, frame.url
