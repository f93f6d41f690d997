"""Agent console: loading, the connection badge, reconnecting, simulated calls, escaping."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from playwright.sync_api import WebSocketRoute, expect

ARTIFACTS_NAME = "test-artifacts"
TIMEOUT = 10_000

expect.set_options(timeout=TIMEOUT)

XSS = '<img src=x onerror="window.__pwned=1">'
PASSWORD = "browser-tests-password"  # conftest's password for the users it creates


def open_console(page: Any, server: Any, agent: str) -> None:
    page.goto(server.console_url(agent))
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")


def component(page: Any, name: str) -> Any:
    return page.frame_locator(f'iframe[data-testid="component-frame-{name}"]')


def wait_components_ready(page: Any, *names: str) -> None:
    for name in names:
        expect(component(page, name).get_by_test_id("status")).to_have_text("Ready")


def simulate(server: Any, agent: str, **body: Any) -> str:
    status, resp = server.api("POST", f"/api/agents/{agent}/simulate-call", body)
    assert status == 200 and resp["success"], resp
    return str(resp["callId"])


def test_console_connects_and_shows_idle(page: Any, ctikit_server: Any, agent: str) -> None:
    open_console(page, ctikit_server, agent)
    expect(page.get_by_test_id("agent-id")).to_have_text(agent)
    expect(page.get_by_test_id("connection-status")).to_contain_text("Connected")
    expect(page.get_by_test_id("simulate-call")).to_be_visible()
    expect(page.get_by_test_id("no-calls")).to_be_visible()
    expect(page.get_by_test_id("log-save")).to_be_disabled()
    # One titled slot per configured component.
    for name in ("harness", "harness2", "caller-card", "custom-softphone"):
        expect(page.get_by_test_id(f"component-{name}")).to_contain_text(name)
    wait_components_ready(page, "caller-card", "custom-softphone")
    page.screenshot(path=str(_artifacts() / "console-idle.png"))
    assert page.page_errors == []


def test_reconnects_after_the_socket_drops(page: Any, ctikit_server: Any, agent: str) -> None:
    """The badge says reconnecting while the server is unreachable, then connected again;
    a request made meanwhile is queued and carried out after the reconnect."""
    sockets: list[WebSocketRoute] = []
    blocked = {"on": False}

    def handler(ws: WebSocketRoute) -> None:
        if blocked["on"]:
            ws.close(code=1011, reason="test: server unreachable")
            return
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws\?agent=.*"), handler)
    open_console(page, ctikit_server, agent)
    badge = page.get_by_test_id("connection-status")

    blocked["on"] = True
    sockets[-1].close(code=1012, reason="test: drop")  # the server side goes away
    expect(badge).to_have_attribute("data-state", "reconnecting")
    expect(badge).to_contain_text("Reconnecting")
    # Made while disconnected: queued, sent on reconnect.
    page.get_by_test_id("simulate-call").click()
    page.wait_for_timeout(600)  # a few back-off attempts are refused
    expect(badge).to_have_attribute("data-state", "reconnecting")
    expect(page.locator(".line")).to_have_count(0)

    blocked["on"] = False
    expect(badge).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    expect(page.locator(".line")).to_have_count(1)
    expect(page.locator(".line")).to_have_attribute("data-state", "ringing")


def test_reconnect_replays_missed_events(page: Any, ctikit_server: Any, agent: str) -> None:
    """After a drop the console asks for what it missed (since + epoch); the server replays
    it, so the console's state and the components catch up without a snapshot."""
    urls: list[str] = []
    sockets: list[WebSocketRoute] = []
    blocked = {"on": False}

    def handler(ws: WebSocketRoute) -> None:
        urls.append(ws.url)
        if blocked["on"]:
            ws.close(code=1011, reason="test: server unreachable")
            return
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws\?agent=.*"), handler)
    open_console(page, ctikit_server, agent)
    wait_components_ready(page, "custom-softphone")
    first = simulate(ctikit_server, agent, ani="+14155550003")
    expect(page.get_by_test_id(f"line-{first}")).to_be_visible()
    assert "since=" not in urls[0]

    blocked["on"] = True
    sockets[-1].close(code=1012, reason="test: drop")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "reconnecting")
    second = simulate(ctikit_server, agent, ani="+14155550004")  # missed while away
    status, body = ctikit_server.api(
        "POST", f"/api/agents/{agent}/cti-message", {"message": f"/HANGUP?CALL_ID={first}"}
    )
    assert status == 200, body
    blocked["on"] = False

    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id(f"line-{second}")).to_have_attribute("data-state", "ringing")
    expect(page.get_by_test_id(f"line-{first}")).to_have_count(0)
    assert re.search(r"[?&]since=\d+", urls[-1]) and "epoch=" in urls[-1], urls[-1]
    assert page.evaluate("CtikitConsole.conn.hello.resumed") == "replay"
    # The ended call stays for wrap-up; components heard the missed events too.
    expect(
        page.get_by_test_id("log-call-select").locator(f'option[value="{first}"]')
    ).to_contain_text("ended")
    soft = component(page, "custom-softphone")
    expect(soft.get_by_test_id("event-begin").first).to_have_text(f"callBegin {second}")
    expect(soft.get_by_test_id("event-end").first).to_contain_text(f"callEnd {first}")


def test_state_survives_a_reconnect_and_a_reload(page: Any, ctikit_server: Any, agent: str) -> None:
    call_id = simulate(ctikit_server, agent, ani="+14155550001")
    open_console(page, ctikit_server, agent)
    expect(page.get_by_test_id(f"line-{call_id}")).to_have_attribute("data-state", "ringing")
    page.evaluate("CtikitConsole.conn._ws.close()")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    page.reload()
    expect(page.get_by_test_id(f"line-{call_id}")).to_be_visible()
    expect(page.locator(".line")).to_have_count(1)


def test_simulate_call_button_rings_a_line(page: Any, ctikit_server: Any, agent: str) -> None:
    open_console(page, ctikit_server, agent)
    wait_components_ready(page, "caller-card")
    page.get_by_test_id("simulate-call").click()
    row = page.locator(".line")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "ringing")
    expect(row).to_have_class(re.compile(r"\bis-ringing\b"))
    expect(row.get_by_test_id("line-state")).to_have_text("Ringing")
    expect(row.get_by_test_id("line-number")).to_have_text(re.compile(r"^\+?[\d -]{5,}$"))
    expect(row.get_by_test_id("btn-answer")).to_be_visible()
    expect(row.get_by_test_id("btn-hold")).to_be_hidden()
    expect(page.get_by_test_id("no-calls")).to_be_hidden()
    # The timer runs.
    expect(row.get_by_test_id("line-timer")).to_have_text(re.compile(r"^0:0[1-9]$"))
    call_id = row.get_attribute("data-call-id")
    shown = row.get_by_test_id("line-number").inner_text()
    # The server has it, with that caller (shown as people write it).
    status, calls = ctikit_server.api("GET", f"/api/agents/{agent}/calls")
    assert status == 200
    assert [c["id"] for c in calls["calls"]] == [call_id]
    number = calls["calls"][0]["ani"]
    assert re.sub(r"[ -]", "", shown) == number
    # The interaction log offers it.
    expect(page.get_by_test_id("log-call-select")).to_have_value(call_id)
    expect(component(page, "caller-card").get_by_test_id("card-ani")).to_have_text(number)
    page.screenshot(path=str(_artifacts() / "console-ringing.png"))


def test_lines_are_escaped(page: Any, ctikit_server: Any, agent: str) -> None:
    """Labels, numbers and data from callers are text, never HTML, in the console."""
    open_console(page, ctikit_server, agent)
    wait_components_ready(page, "custom-softphone")
    soft = component(page, "custom-softphone")
    soft.get_by_test_id("call-id").fill("xss-1")
    soft.get_by_test_id("call-label").fill(XSS)
    soft.get_by_test_id("begin").click()
    row = page.get_by_test_id("line-xss-1")
    expect(row.get_by_test_id("line-number")).to_have_text(XSS)  # no number: the label
    expect(row.get_by_test_id("line-state")).to_have_text("In progress")
    expect(page.get_by_test_id("log-call-select")).to_contain_text(XSS)
    simulate(ctikit_server, agent, ani="+14155550002", data={XSS: XSS, "Name": XSS})
    expect(page.locator(".line")).to_have_count(2)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#lines img, #interaction-log img, #notices img").count() == 0
    for frame in page.frames:
        assert frame.evaluate("window.__pwned") is None, frame.url


def test_console_without_agent_opens_the_users_own(
    page: Any, ctikit_server: Any, agent: str
) -> None:
    page.goto(ctikit_server.url + "/console")  # the page is signed in as `agent`
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("agent-id")).to_have_text(agent)
    assert page.url.endswith(f"/console?agent={agent}")
    expect(page.get_by_test_id("user-name")).to_have_text(agent)


def test_invalid_agent_is_explained(page: Any, ctikit_server: Any) -> None:
    page.goto(ctikit_server.url + "/console?agent=" + "%3Cb%3E")
    expect(page.get_by_test_id("agent-error")).to_contain_text("Invalid agent ID")
    expect(page.get_by_test_id("agent-id")).to_have_text("<b>")


def _artifacts() -> Any:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ARTIFACTS_NAME
    path.mkdir(exist_ok=True)
    return path


def test_line_down_banner_and_call_failed_notice(page: Any, ctikit_server: Any, agent: str) -> None:
    """lineStatus and callFailed events (injected into the real socket) show visibly."""
    sockets: list[WebSocketRoute] = []

    def handler(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws\?agent=.*"), handler)
    open_console(page, ctikit_server, agent)
    sockets[-1].send(
        json.dumps(
            {
                "type": "event",
                "event": "lineStatus",
                "at": time.time(),
                "data": {"up": False, "reason": "SIP trunk unreachable"},
            }
        )
    )
    banner = page.get_by_test_id("line-down")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("SIP trunk unreachable")
    expect(banner.get_by_test_id("notice-dismiss")).to_have_count(0)  # stays until the line is up
    sockets[-1].send(
        json.dumps(
            {
                "type": "event",
                "event": "callFailed",
                "at": time.time(),
                "data": {"id": None, "reason": XSS, "number": "555486"},
            }
        )
    )
    failed = page.get_by_test_id("call-failed")
    expect(failed).to_contain_text(XSS)
    sockets[-1].send("this is not JSON")  # ignored, logged
    sockets[-1].send(
        json.dumps(
            {
                "type": "event",
                "event": "lineStatus",
                "at": time.time(),
                "data": {"up": True, "reason": None},
            }
        )
    )
    expect(banner).to_have_count(0)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    assert page.evaluate("window.__pwned") is None
    assert page.page_errors == []


def test_supervisor_page_lists_agents_and_logs(page: Any, ctikit_server: Any, agent: str) -> None:
    team = f"team-{agent}"
    watched = f"{agent}w"
    supervisor = f"sup-{agent}"
    ctikit_server.accounts.ensure_user(watched, team=team)
    ctikit_server.accounts.ensure_user(supervisor, role="supervisor", team=team)
    call_id = simulate(ctikit_server, watched, ani="+14155550161")
    status, body = ctikit_server.api(
        "POST",
        f"/api/agents/{watched}/call-logs",
        {"callId": call_id, "subject": XSS, "disposition": "Resolved"},
        auth=watched,
    )
    assert status == 201, body
    log_id = body["log"]["id"]
    page.context.clear_cookies()
    page.goto(ctikit_server.url + "/supervisor")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.get_by_test_id("login-username").fill(supervisor)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-form")).to_be_hidden()
    expect(page.get_by_test_id("user-name")).to_have_text(supervisor)
    row = page.locator(f'[data-testid="agent-row"][data-agent="{watched}"]')
    expect(row).to_contain_text("Ringing")
    expect(row).to_contain_text("+14155550161")
    log_row = page.locator(f'[data-testid="log-row"][data-log-id="{log_id}"]')
    expect(log_row).to_contain_text(XSS)
    expect(log_row).to_contain_text("Resolved")
    page.screenshot(path=str(_artifacts() / "supervisor.png"))
    assert page.evaluate("window.__pwned") is None
    assert page.page_errors == []
