"""A shift at the desk, by keyboard only, with the team's supervisor watching (issue 15).

The agent signs in, goes Available, takes two calls (answering the second holds the first),
consult-transfers one, wraps up with notes on the right calls, goes Away, misses a call and
calls back: only page.keyboard on the agent's page. The callers are the REST API. The
supervisor's /supervisor is open the whole time and shows each change within a second of the
agent's page, and its ringing-too-long and held-too-long alerts fire (short thresholds here).

With CTIKIT_SCREENSHOTS=1 the test writes docs/img/console-desk.png and supervisor.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess, run_ctikit

from .desk_lib import RestClient, axe_violations

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "shift-browser-password"
AGENT = "dana"
SUPERVISOR = "sam"
TEAM = "blue"
TARGET = "+14155550123"  # the simulator's far end: answers after 1.5 s
SECOND = 1000  # ms: what a supervisor may wait for a change
DISPOSITIONS = ["Resolved", "Transferred", "Call back"]

expect.set_options(timeout=10_000)


class ShiftServer(RestClient):
    """A server with sign-in; the REST client is the caller (a service token)."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)

    def login_token(self, user: str) -> str:
        status, body = RestClient(self.url).api(
            "POST", "/api/login", {"username": user, "password": PASSWORD}
        )
        assert status == 200, body
        return str(body["token"])


@pytest.fixture(scope="module")
def shift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShiftServer]:
    tmp = tmp_path_factory.mktemp("shift")
    database = f"sqlite:///{tmp / 'shift.db'}"
    for user, role in ((AGENT, "agent"), (SUPERVISOR, "supervisor"), ("olga", "agent")):
        team = "green" if user == "olga" else TEAM  # another team's agent: not on the board
        run_ctikit("user", "add", user, "--role", role, "--team", team, "--password-stdin",
                   "--database", database, stdin=PASSWORD + "\n")  # fmt: skip
    scopes = ["--scope=calls:attach", "--scope=calls:control", "--scope=logs:read"]
    out = run_ctikit("token", "create", "caller", *scopes, "--database", database).stdout
    token = out.strip().splitlines()[-1]
    config = tmp / "ctikit.toml"
    config.write_text(f"""
[server]
sim_ring_timeout = 6

[agent_state]
initial = "offline"
acw_seconds = 6
away_reasons = ["Break", "Lunch"]

[supervisor]
ring_alert_seconds = 2
hold_alert_seconds = 2

[console]
dispositions = {json.dumps(DISPOSITIONS)}
other_disposition = false
""")
    server = CtikitProcess(
        ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0",
         "--database", database],
        tmp / "server.log",
        cwd=ROOT,
    )  # fmt: skip
    yield ShiftServer(server.url, token)
    server.stop()


@pytest.fixture
def supervisor(browser: Any, shift_server: ShiftServer) -> Iterator[Any]:
    """The supervisor's board, signed in as the agent's team supervisor."""
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    context.add_cookies([{"name": "ctikit_session", "value": shift_server.login_token(SUPERVISOR),
                          "url": shift_server.url}])  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    page.goto(shift_server.url + "/supervisor")
    expect(page.get_by_test_id("updated")).to_contain_text("Live")
    yield page
    context.close()


@pytest.fixture
def agent_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    yield page
    context.close()


def focused(page: Any) -> dict[str, Any]:
    """What has the keyboard focus: its test ID and the call row it is in."""
    return dict(
        page.evaluate("""() => {
        const el = document.activeElement;
        const row = el && el.closest('.line');
        return {testid: el ? el.getAttribute('data-testid') : null, tag: el ? el.tagName : null,
                call: row ? row.dataset.callId : null};
    }""")
    )


def tab_to(page: Any, testid: str, *, call: str | None = None, back: bool = False) -> None:
    """Press Tab (Shift+Tab) until the control ``testid`` (of ``call``'s row) has the focus."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(40):
        now = focused(page)
        if now["testid"] == testid and (call is None or now["call"] == call):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{testid} not reached by {key} (focus on {focused(page)})")


def save_screenshot(page: Any, name: str) -> None:
    if os.environ.get("CTIKIT_SCREENSHOTS") == "1":
        page.mouse.move(0, 0)
        page.screenshot(path=str(ROOT / "docs" / "img" / name))


def test_a_shift_by_keyboard_with_the_supervisor_watching(
    agent_page: Any, supervisor: Any, shift_server: ShiftServer
) -> None:
    page, sup, caller = agent_page, supervisor, shift_server
    row = sup.locator(f'[data-testid="agent-row"][data-agent="{AGENT}"]')
    sup_state = row.get_by_test_id("agent-state")
    sup_calls = row.get_by_test_id("agent-call")
    expect(sup.get_by_test_id("team-row")).to_have_text(f"Team {TEAM}")
    expect(sup.locator('[data-testid="agent-row"]')).to_have_count(1)  # not olga (green)
    expect(sup_state).to_have_text("Offline")
    state_box = page.get_by_test_id("agent-state-box")

    def line(call_id: str) -> Any:
        return page.get_by_test_id(f"line-{call_id}")

    def sup_call(number: str) -> Any:
        return sup_calls.filter(has_text=number)

    # -- Sign in: the user name has the focus; Tab to the password; Enter.
    page.goto(shift_server.url + "/console")
    expect(page.get_by_test_id("login-username")).to_be_focused()
    page.keyboard.type(AGENT)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("agent-id")).to_have_text(AGENT)
    expect(state_box).to_have_attribute("data-status", "offline")

    # -- Available: the state list, by keyboard (Home: its first option).
    tab_to(page, "agent-state")
    page.keyboard.press("Home")
    expect(state_box).to_have_attribute("data-status", "available")
    expect(sup_state).to_have_text("Available", timeout=SECOND)
    assert focused(page)["testid"] == "agent-state"  # the focus stays where the agent is

    # -- Call 1 rings; Alt+Shift+A answers it.
    first = caller.simulate(AGENT, ani="+14155550101")
    expect(line(first)).to_have_attribute("data-state", "ringing")
    expect(sup_call("+14155550101")).to_contain_text("Ringing", timeout=SECOND)
    expect(sup.get_by_test_id("stat-ringing")).to_have_text("1", timeout=SECOND)
    page.keyboard.press("Alt+Shift+A")
    expect(line(first)).to_have_attribute("data-state", "connected")
    expect(sup_call("+14155550101")).to_contain_text("Connected", timeout=SECOND)

    # -- Call 2 rings too long (the supervisor is told), then answering it holds call 1.
    second = caller.simulate(AGENT, ani="+14155550102")
    expect(line(second)).to_have_attribute("data-state", "ringing")
    ring_alert = sup.locator(
        f'[data-testid="alert"][data-kind="ringing_too_long"][data-agent="{AGENT}"]'
    )
    expect(ring_alert).to_contain_text("ringing for")
    page.keyboard.press("Alt+Shift+A")
    expect(line(second)).to_have_attribute("data-state", "connected")
    expect(line(first)).to_have_attribute("data-state", "held")
    # Counted from the hold (call 1 was answered seconds ago), as the alert counts it.
    expect(sup_call("+14155550101")).to_have_text("On hold · +14155550101 · 0:00", timeout=SECOND)
    expect(sup_call("+14155550102")).to_contain_text("Connected", timeout=SECOND)
    expect(ring_alert).to_have_count(0, timeout=SECOND)
    hold_alert = sup.locator(
        f'[data-testid="alert"][data-kind="held_too_long"][data-agent="{AGENT}"]'
    )
    expect(hold_alert).to_contain_text("on hold for")

    # -- Consult transfer of call 2: Consult…, the number, Enter; then Complete transfer.
    tab_to(page, "btn-consult", call=second)
    page.keyboard.press("Enter")
    expect(line(second).get_by_test_id("consult-input")).to_be_focused()
    page.keyboard.type(TARGET)
    page.keyboard.press("Enter")
    expect(line(second)).to_have_attribute("data-state", "held")
    consult = page.locator(f'.line:not([data-call-id="{first}"]):not([data-call-id="{second}"])')
    expect(consult.get_by_test_id("line-consult")).to_have_text("Consult for +1 415-555-0102")
    expect(consult).to_have_attribute("data-state", "connected")
    consult_id = consult.get_attribute("data-call-id")
    # The consult field closed under the focus: it moved on to the consult call.
    assert focused(page) == {"testid": "btn-cancel-consult", "tag": "BUTTON", "call": consult_id}
    expect(sup_call(TARGET)).to_contain_text("Connected", timeout=SECOND)
    expect(sup_call("+14155550102")).to_contain_text("On hold", timeout=SECOND)
    save_screenshot(page, "console-desk.png")
    save_screenshot(sup, "supervisor.png")
    tab_to(page, "btn-complete-transfer", call=consult_id, back=True)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("consult-outcome")).to_contain_text(f"Transferred to {TARGET}")
    expect(page.locator(".line")).to_have_count(1)
    assert focused(page) == {"testid": "btn-retrieve", "tag": "BUTTON", "call": first}
    expect(sup_calls).to_have_count(1, timeout=SECOND)
    expect(sup_call("+14155550101")).to_contain_text("On hold")

    # -- Back to call 1 (Alt+Shift+O), notes while talking, hang up, wrap-up, save.
    page.keyboard.press("Alt+Shift+O")
    expect(line(first)).to_have_attribute("data-state", "connected")
    expect(sup_call("+14155550101")).to_contain_text("Connected", timeout=SECOND)
    expect(hold_alert).to_have_count(0, timeout=SECOND)
    expect(page.get_by_test_id("log-call-for")).to_contain_text("555-0101 (connected)")
    tab_to(page, "log-comments")
    page.keyboard.type("Asked about the March invoice.")
    page.keyboard.press("Tab")
    assert focused(page)["testid"] == "log-disposition"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")  # the first disposition
    expect(page.get_by_test_id("log-disposition")).to_have_value("Resolved")
    page.keyboard.press("Alt+Shift+H")
    expect(page.locator(".line")).to_have_count(0)
    expect(state_box).to_have_attribute("data-status", "acw")
    expect(sup_state).to_have_text("After-call work", timeout=SECOND)
    expect(row.get_by_test_id("agent-state-time")).to_contain_text("wrap-up", timeout=SECOND)
    expect(page.get_by_test_id("log-call-for")).to_contain_text("555-0101 (ended)")
    tab_to(page, "log-save")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("log-saved")).to_be_visible()
    [log] = caller.logs(AGENT, first)
    assert (log["comments"], log["disposition"]) == ("Asked about the March invoice.", "Resolved")

    # A note for the transferred call too: chosen in the Call list, by keyboard.
    tab_to(page, "log-call-select", back=True)
    select = page.get_by_test_id("log-call-select")
    for _ in range(4):
        if select.input_value() == second:
            break
        page.keyboard.press("ArrowDown")
    expect(select).to_have_value(second)
    expect(page.get_by_test_id("log-call-for")).to_contain_text("555-0102 (ended)")
    tab_to(page, "log-comments")
    page.keyboard.type("Sent to billing.")
    tab_to(page, "log-save")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("log-saved")).to_be_visible()
    assert [x["comments"] for x in caller.logs(AGENT, second)] == ["Sent to billing."]
    assert [x["comments"] for x in caller.logs(AGENT, first)] == ["Asked about the March invoice."]
    assert caller.logs(AGENT, str(consult_id)) == []
    # The supervisor's latest call logs show both.
    expect(sup.get_by_test_id("log-row")).to_have_count(2)

    # Wrap-up runs out: Available again, on both pages.
    expect(state_box).to_have_attribute("data-status", "available")
    expect(sup_state).to_have_text("Available", timeout=SECOND)

    # -- Away (a break): a caller is not put through.
    tab_to(page, "agent-state", back=True)
    page.keyboard.press("ArrowDown")  # Available -> Away — Break
    expect(state_box).to_have_attribute("data-status", "away")
    expect(sup_state).to_have_text("Away — Break", timeout=SECOND)
    status, body = caller.api("POST", f"/api/agents/{AGENT}/simulate-call", {"ani": "+14155550177"})
    assert (status, body["code"]) == (409, "command_rejected"), body
    expect(page.get_by_test_id("no-calls")).to_be_visible()

    # -- Back, and a call nobody answers: the simulator's caller gives up (6 s here).
    page.keyboard.press("Home")
    expect(state_box).to_have_attribute("data-status", "available")
    expect(sup_state).to_have_text("Available", timeout=SECOND)
    missed = caller.simulate(AGENT, ani="+14155550177")
    expect(line(missed)).to_have_attribute("data-state", "ringing")
    ring_alert = sup.locator(
        f'[data-testid="alert"][data-kind="ringing_too_long"][data-agent="{AGENT}"]'
    )
    expect(ring_alert).to_be_visible()
    expect(page.get_by_test_id("missed-call")).to_contain_text("Missed call from", timeout=15_000)
    expect(page.get_by_test_id(f"missed-{missed}")).to_be_visible()
    expect(sup_calls).to_have_count(0, timeout=SECOND)
    expect(ring_alert).to_have_count(0, timeout=SECOND)
    expect(sup.get_by_test_id("stat-ringing")).to_have_text("0")

    # -- Call back, from the missed-calls list, by keyboard.
    tab_to(page, "call-back")
    page.keyboard.press("Enter")
    back = page.locator(".line")
    expect(back).to_have_count(1)
    expect(back.get_by_test_id("line-number")).to_have_text("+1 415-555-0177")
    expect(back).to_have_attribute("data-state", "connected")  # the caller picks up
    expect(sup_call("+14155550177")).to_contain_text("Connected", timeout=SECOND)
    expect(page.get_by_test_id(f"missed-{missed}")).to_have_count(0)
    back_id = back.get_attribute("data-call-id")
    assert focused(page) == {"testid": "btn-hangup", "tag": "BUTTON", "call": back_id}
    page.keyboard.press("Alt+Shift+H")
    expect(back).to_have_count(0)
    expect(sup_calls).to_have_count(0, timeout=SECOND)

    # -- End of the shift: Offline (End: the list's last option).
    tab_to(page, "agent-state", back=True)
    page.keyboard.press("End")
    expect(state_box).to_have_attribute("data-status", "offline")
    expect(sup_state).to_have_text("Offline", timeout=SECOND)
    assert page.page_errors == []
    assert sup.page_errors == []


def test_the_supervisor_view_passes_axe(supervisor: Any, shift_server: ShiftServer) -> None:
    page = supervisor
    expect(page.locator('[data-testid="agent-row"]')).to_have_count(1)
    assert axe_violations(page) == []
    # With a call and an alert on the board too.
    shift_server.api("PUT", f"/api/agents/{AGENT}/state", {"status": "available"})
    call = shift_server.simulate(AGENT, ani="+14155550199")
    expect(page.get_by_test_id("alert")).to_have_count(1)
    assert axe_violations(page) == []
    status, body = shift_server.api(
        "POST", f"/api/agents/{AGENT}/cti-message", {"message": f"/HANGUP?CALL_ID={call}"}
    )
    assert status == 200, body
    expect(page.get_by_test_id("alert")).to_have_count(0)
    # And with a call log in the latest logs.
    as_agent = RestClient(shift_server.url, shift_server.login_token(AGENT))
    status, body = as_agent.api(
        "POST", f"/api/agents/{AGENT}/call-logs", {"callId": call, "comments": "axe"}
    )
    assert status == 201, body
    expect(
        page.locator(f'[data-testid="log-row"][data-log-id="{body["log"]["id"]}"]')
    ).to_be_visible()
    assert axe_violations(page) == []
