"""Agent console softphone: every button sends its CTI command through sendCTIMessage.

Each command is checked twice: the line's state changes (the server carried it out) and the
custom-softphone example's onSendCTIMessage log shows the exact message (components hear it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess

TIMEOUT = 10_000
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

expect.set_options(timeout=TIMEOUT)


def open_console(page: Any, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")


def component(page: Any, name: str) -> Any:
    return page.frame_locator(f'iframe[data-testid="component-frame-{name}"]')


def simulate(server: Any, agent: str, **body: Any) -> str:
    status, resp = server.api("POST", f"/api/agents/{agent}/simulate-call", body)
    assert status == 200 and resp["success"], resp
    return str(resp["callId"])


def last_cti_message(soft: Any) -> Any:
    return soft.get_by_test_id("cti-message").first


@pytest.fixture
def console(page: Any, ctikit_server: Any, agent: str) -> Any:
    """The console of a fresh agent, its custom-softphone component ready."""
    open_console(page, ctikit_server.console_url(agent))
    expect(component(page, "custom-softphone").get_by_test_id("status")).to_have_text("Ready")
    expect(component(page, "caller-card").get_by_test_id("status")).to_have_text("Ready")
    return page


def test_softphone_buttons_drive_an_inbound_call(
    console: Any, ctikit_server: Any, agent: str
) -> None:
    page = console
    soft = component(page, "custom-softphone")
    call_id = simulate(
        ctikit_server,
        agent,
        ani="+14155550111",
        dnis="8005550100",
        data={"Account": "ACME-7", "IVR": "billing"},
    )
    row = page.get_by_test_id(f"line-{call_id}")
    expect(row).to_have_attribute("data-state", "ringing")
    expect(row.get_by_test_id("line-number")).to_have_text("+1 415-555-0111")

    def press(button: str, message: str, state: str) -> None:
        row.get_by_test_id(f"btn-{button}").click()
        expect(last_cti_message(soft)).to_have_text(message)
        expect(row).to_have_attribute("data-state", state)

    cid = call_id  # sim IDs need no escaping: "sim-" and hex digits
    press("answer", f"/ANSWER?CALL_ID={cid}", "connected")
    expect(row.get_by_test_id("line-state")).to_have_text("Connected")
    expect(row).not_to_have_class(re.compile(r"\bis-ringing\b"))
    expect(row.get_by_test_id("btn-answer")).to_be_hidden()
    # Caller card + connected line: the demo's main view.
    card = component(page, "caller-card")
    expect(card.get_by_test_id("card-ani")).to_have_text("+14155550111")
    expect(card.get_by_test_id("card-data")).to_contain_text("ACME-7")
    page.get_by_test_id("component-caller-card").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-connected-caller-card.png"))

    press("hold", f"/HOLD?CALL_ID={cid}", "held")
    expect(row.get_by_test_id("line-state")).to_have_text("On hold")
    expect(row.get_by_test_id("btn-hold")).to_be_hidden()
    press("retrieve", f"/RETRIEVE?CALL_ID={cid}", "connected")

    press("mute", f"/MUTE?CALL_ID={cid}", "connected")
    expect(row).to_have_attribute("data-muted", "true")
    expect(row.get_by_test_id("line-muted")).to_be_visible()
    expect(row.get_by_test_id("btn-mute")).to_be_hidden()
    press("unmute", f"/UNMUTE?CALL_ID={cid}", "connected")
    expect(row).to_have_attribute("data-muted", "false")
    expect(row.get_by_test_id("line-muted")).to_be_hidden()

    row.get_by_test_id("btn-keypad").click()
    row.get_by_test_id("dtmf-5").click()
    expect(last_cti_message(soft)).to_have_text(f"/DTMF?DIGITS=5&CALL_ID={cid}")
    row.get_by_test_id("dtmf-#").click()
    expect(last_cti_message(soft)).to_have_text(f"/DTMF?DIGITS=%23&CALL_ID={cid}")
    expect(row.get_by_test_id("dtmf-sent")).to_have_text("5#")

    # The timer counts from the answer once connected.
    expect(row.get_by_test_id("line-timer")).to_have_attribute("title", "Time since answered")

    row.get_by_test_id("btn-hangup").click()
    expect(last_cti_message(soft)).to_have_text(f"/HANGUP?CALL_ID={cid}")
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("no-calls")).to_be_visible()
    # Kept for wrap-up in the interaction log.
    expect(page.get_by_test_id("log-call-select")).to_contain_text("ended")
    assert page.page_errors == []


def test_dial_places_an_outbound_call(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    soft = component(page, "custom-softphone")
    page.get_by_test_id("dial-input").fill("+1 (415) 555-0123")
    page.get_by_test_id("dial-button").click()
    expect(last_cti_message(soft)).to_have_text("/DIAL?NUMBER=%2B14155550123")
    row = page.locator(".line")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", re.compile("dialing|connected"))
    expect(row.get_by_test_id("line-number")).to_have_text("+1 415-555-0123")
    expect(row.get_by_test_id("line-type")).to_have_text("Outbound")
    expect(page.get_by_test_id("dial-input")).to_have_value("")
    # The far end answers (simulator: after far_end_answer).
    expect(row).to_have_attribute("data-state", "connected")
    row.get_by_test_id("btn-hangup").click()
    expect(row).to_have_count(0)


def test_dial_keypad_fills_the_number(console: Any) -> None:
    page = console
    page.get_by_test_id("dial-keypad-toggle").click()
    for key in "55":
        page.get_by_test_id(f"dial-key-{key}").click()
    page.get_by_test_id("dial-key-#").click()
    expect(page.get_by_test_id("dial-input")).to_have_value("55#")
    page.get_by_test_id("dial-keypad-toggle").click()
    expect(page.get_by_test_id("dial-keypad")).to_be_hidden()


def test_busy_number_shows_the_failure(console: Any) -> None:
    page = console
    page.get_by_test_id("dial-input").fill("555486")
    page.get_by_test_id("dial-button").click()
    failed = page.get_by_test_id("call-failed")
    expect(failed).to_be_visible()
    expect(failed).to_contain_text("555486")
    expect(failed).to_contain_text(re.compile(r"busy|486", re.I))
    expect(page.locator(".line")).to_have_count(0)
    failed.get_by_test_id("notice-dismiss").click()
    expect(failed).to_have_count(0)


def test_rejected_command_shows_a_dismissable_error(
    console: Any, ctikit_server: Any, agent: str
) -> None:
    page = console
    call_id = simulate(ctikit_server, agent, ani="+14155550112")
    row = page.get_by_test_id(f"line-{call_id}")
    expect(row).to_have_attribute("data-state", "ringing")
    # The buttons only offer what the state allows; send an impossible one the same way.
    page.evaluate("id => CtikitConsole.softphone.send('/HOLD?CALL_ID=' + id, 'Hold')", call_id)
    error = page.get_by_test_id("softphone-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Hold failed")
    expect(error).to_contain_text("ringing")
    error.get_by_test_id("notice-dismiss").click()
    expect(error).to_have_count(0)
    expect(row).to_have_attribute("data-state", "ringing")


def test_transfer_to_an_external_number(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    soft = component(page, "custom-softphone")
    call_id = simulate(ctikit_server, agent, ani="+14155550113")
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    row.get_by_test_id("btn-transfer").click()
    row.get_by_test_id("transfer-input").fill("+33 1 23 45")
    row.get_by_test_id("transfer-confirm").click()
    expect(last_cti_message(soft)).to_have_text(f"/TRANSFER?NUMBER=%2B3312345&CALL_ID={call_id}")
    expect(row).to_have_count(0)  # handed to the outside world


# ---------------------------------------------------------------- transfer between agents


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ctikit demo``: agents agent1..agent3 with extensions 1001..1003 in the directory."""
    tmp = tmp_path_factory.mktemp("demo")
    server = CtikitProcess(
        ["demo", "--host", "127.0.0.1", "--port", "0",
         "--database", f"sqlite:///{tmp / 'demo.db'}"],
        tmp / "server.log",
        cwd=ROOT,
    )  # fmt: skip
    yield server.url
    server.stop()


def test_transfer_to_another_agents_extension(browser: Any, demo_server: str) -> None:
    import json
    import urllib.request

    ctx1 = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx2 = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        alice, bob = ctx1.new_page(), ctx2.new_page()
        open_console(alice, f"{demo_server}/console?agent=agent1")
        open_console(bob, f"{demo_server}/console?agent=agent2")
        expect(alice.get_by_test_id("agent-detail")).to_contain_text("1001")
        req = urllib.request.Request(
            f"{demo_server}/api/agents/agent1/simulate-call",
            data=json.dumps({"ani": "+14155550114", "data": {"Account": "ACME-9"}}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            call_id = json.loads(resp.read())["callId"]
        row = alice.get_by_test_id(f"line-{call_id}")
        row.get_by_test_id("btn-answer").click()
        expect(row).to_have_attribute("data-state", "connected")
        row.get_by_test_id("btn-transfer").click()
        # Other agents are offered as transfer targets.
        assert alice.locator('#transfer-targets option[value="1002"]').count() == 1
        row.get_by_test_id("transfer-input").fill("1002")
        row.get_by_test_id("transfer-confirm").click()
        expect(row).to_have_count(0)
        bob_row = bob.locator(".line")
        expect(bob_row).to_have_count(1)
        expect(bob_row).to_have_attribute("data-state", "ringing")
        expect(bob_row.get_by_test_id("line-number")).to_have_text("+1 415-555-0114")
        # The attached data went with the call.
        bob_card = component(bob, "Caller card")
        expect(bob_card.get_by_test_id("card-data")).to_contain_text("ACME-9")
        soft = component(alice, "Custom softphone")
        expect(soft.get_by_test_id("cti-message").first).to_have_text(
            f"/TRANSFER?NUMBER=1002&CALL_ID={call_id}"
        )
    finally:
        ctx1.close()
        ctx2.close()


AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


def test_answer_comes_before_the_components_and_axe_is_clean(
    console: Any, ctikit_server: Any, agent: str
) -> None:
    """With four component iframes on the page, Answer is still the first Tab stop (it took
    30 Tabs when the softphone came last), and axe-core finds nothing serious."""
    page = console
    call_id = simulate(ctikit_server, agent, ani="+14155550191")
    row = page.get_by_test_id(f"line-{call_id}")
    expect(row).to_have_attribute("data-state", "ringing")
    page.reload()
    expect(row).to_have_attribute("data-state", "ringing")
    expect(component(page, "custom-softphone").get_by_test_id("status")).to_have_text("Ready")
    page.keyboard.press("Tab")
    expect(row.get_by_test_id("btn-answer")).to_be_focused()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {iframes: false})")
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []


def test_a_ringing_row_pulses_once_a_second_with_no_animation_running(
    console: Any, ctikit_server: Any, agent: str
) -> None:
    # An animation of the row's box-shadow repainted it every frame: 20 ringing consoles in
    # one chromium took two cores (bench/RESULTS.md, "WebRTC consoles"). The pulse is now a
    # class the one-second tick toggles.
    page = console
    call_id = simulate(ctikit_server, agent, ani="+14155550111", dnis="8005550100")
    row = page.get_by_test_id(f"line-{call_id}")
    expect(row).to_have_class(re.compile(r"\bis-ringing\b"))
    running = "() => document.getAnimations().filter((a) => a.playState === 'running').length"
    assert page.evaluate(running) == 0
    seen = set()
    for _ in range(30):  # both phases of the pulse within three seconds
        seen.add(page.evaluate("(el) => el.classList.contains('ring-on')", row.element_handle()))
        page.wait_for_timeout(100)
    assert seen == {True, False}
    assert page.evaluate(running) == 0
