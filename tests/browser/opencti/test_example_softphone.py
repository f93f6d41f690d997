"""examples/opencti-softphone on the console's own telephony (the simulator): a call pops the
caller's record found by the CRM search, is answered and hung up from the softphone, its
Task log lands in the store and the components hear it; a click on the number in the
interaction log dials it through the softphone (/DIAL)."""

from __future__ import annotations

import sys
from typing import Any

from playwright.sync_api import expect

lib = sys.modules["ctikit_browser_harness_lib"]


def test_the_example_softphone(oc_servers: Any, oc_context: Any) -> None:
    server = oc_servers["example"]
    page = oc_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    agent = "ocexample1"
    server.login(oc_context, agent)
    page.goto(f"{server.url}/console?agent={agent}")
    phone = page.frame_locator("[data-testid=softphone-frame]")
    expect(phone.get_by_test_id("status")).to_have_text("Ready (AcmeAdapter)")
    expect(page.get_by_test_id("softphone-panel")).to_have_attribute("data-state", "ready")
    harness = lib.Harness(lib.find_frame(page, lib.is_harness()))
    harness.wait_ready()
    saved = harness.listen("cti.onCallLogSaved")

    call_id = page.evaluate(
        "CtikitConsole.conn.request('simulateCall', {ani: '+14155550100'}).then(r => r.callId)"
    )
    expect(phone.get_by_test_id("call-who")).to_have_text("+14155550100")
    tabs = page.get_by_test_id("primary-tabs").get_by_role("tab")
    expect(tabs).to_have_count(1)
    expect(tabs.first).to_have_text("Ada Lovelace")

    phone.get_by_test_id("answer").click()
    expect(page.get_by_test_id("lines").locator("[data-state=connected]")).to_have_count(1)
    phone.get_by_test_id("hangup").click()
    [event] = harness.events(saved, 1)
    log = server.run(server.store.get(event["id"]))
    assert log.call_id == call_id and log.subject == "Call +14155550100"
    assert log.ani == "+14155550100" and log.attached_data["openCti"]["entityApiName"] == "Task"

    page.get_by_test_id("log-call-number").click()
    expect(phone.get_by_test_id("events")).to_contain_text("dial: ok")
    expect(page.get_by_test_id("lines").locator("[data-dial-number='+14155550100']")).to_have_count(
        1
    )
    assert errors == []
