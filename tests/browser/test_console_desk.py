"""The agent's desk (docs/console.md): the interaction log follows the call, two calls are
never talked to at once, every outcome is said, a ringing call is heard and seen, errors
read in an agent's words, and everything works from the keyboard.

A server of its own (demo mode, no components) with a ``[console]`` section, so the
console's settings come from the config as they would in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import WebSocketRoute, expect

from ctikit.testing import CtikitProcess

from .desk_lib import RestClient, axe_violations

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10_000
DISPOSITIONS = ["Sale", "No sale", "Call back"]

expect.set_options(timeout=TIMEOUT)


DeskServer = RestClient  # a demo server: no sign-in, no token


def _desk_server(tmp: Path, server_keys: str = "") -> tuple[DeskServer, CtikitProcess]:
    (tmp / "ctikit.toml").write_text(f"""
[server]
demo = true
{server_keys}

[console]
dispositions = {json.dumps(DISPOSITIONS)}
other_disposition = false
shortcut_dial = "F9"
""")
    server = CtikitProcess(
        ["serve", "--config", str(tmp / "ctikit.toml"), "--host", "127.0.0.1", "--port", "0",
         "--database", f"sqlite:///{tmp / 'desk.db'}"],
        tmp / "server.log",
        cwd=ROOT,
    )  # fmt: skip
    return DeskServer(server.url), server


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskServer]:
    client, server = _desk_server(tmp_path_factory.mktemp("desk"))
    yield client
    server.stop()


@pytest.fixture
def quick_ring_server(tmp_path: Path) -> Iterator[DeskServer]:
    """A server whose simulated callers give up after 3 s instead of 30 (sim_ring_timeout)."""
    client, server = _desk_server(tmp_path, "sim_ring_timeout = 3")
    yield client
    server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page of its own: no session cookie of the shared server (cookies ignore ports)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors
    yield pg
    context.close()


@pytest.fixture
def desk(page: Any, desk_server: DeskServer, agent: str) -> Any:
    return open_desk(page, desk_server, agent)


def open_desk(page: Any, server: DeskServer, agent: str) -> Any:
    page.goto(f"{server.url}/console?agent={agent}")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    page.wait_for_function("() => !!(window.CtikitConsole && CtikitConsole.config)")
    return page


def answer(page: Any, call_id: str) -> Any:
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    return row


def hang_up(page: Any, call_id: str) -> None:
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-hangup").click()
    expect(row).to_have_count(0)


# ---------------------------------------------------------------- a. the interaction log


def test_notes_go_on_the_call_the_agent_is_on(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    first = desk_server.simulate(agent, ani="+14155550101")
    answer(page, first)
    hang_up(page, first)
    select = page.get_by_test_id("log-call-select")
    expect(select).to_have_value(first)  # the call just ended, for wrap-up
    expect(page.get_by_test_id("log-call-for")).to_contain_text("(ended)")

    second = desk_server.simulate(agent, ani="+14155550102")
    answer(page, second)
    # The form moved to the new call, and says so.
    expect(select).to_have_value(second)
    expect(page.get_by_test_id("log-call-for")).to_contain_text("(connected)")
    expect(page.get_by_test_id("log-call-for")).to_contain_text("555")

    page.get_by_test_id("log-comments").fill("Wants the premium plan.")
    page.get_by_test_id("log-disposition").select_option("Sale")
    page.get_by_test_id("log-save").click()
    expect(page.get_by_test_id("log-saved")).to_be_visible()
    assert [log["comments"] for log in desk_server.logs(agent, second)] == [
        "Wants the premium plan."
    ]
    assert desk_server.logs(agent, first) == []

    # Save on the cleared form: refused, in words, and nothing stored.
    page.get_by_test_id("log-save").click()
    expect(page.get_by_test_id("log-error")).to_contain_text("already has a log")
    assert len(desk_server.logs(agent, second)) == 1

    # Notes being written stay with their call when another call begins.
    page.get_by_test_id("log-comments").fill("Still about the second call")
    third = desk_server.simulate(agent, ani="+14155550103")
    expect(page.get_by_test_id(f"line-{third}")).to_have_attribute("data-state", "ringing")
    expect(select).to_have_value(second)
    expect(page.get_by_test_id("log-call-for")).to_contain_text("Notes for")


def test_an_empty_duplicate_is_refused_by_the_server_too(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    call = desk_server.simulate(agent, ani="+14155550104")
    body = {"callId": call, "comments": "first"}
    status, resp = desk_server.api("POST", f"/api/agents/{agent}/call-logs", body)
    assert status == 201 and resp["success"], resp
    status, resp = desk_server.api("POST", f"/api/agents/{agent}/call-logs", {"callId": call})
    assert status == 400 and resp["success"] is False, resp
    assert "already has a log" in resp["error"]
    assert len(desk_server.logs(agent, call)) == 1


def test_dispositions_come_from_the_config(desk: Any) -> None:
    options = desk.get_by_test_id("log-disposition").locator("option")
    expect(options).to_have_text(["— none —", *DISPOSITIONS])


# ---------------------------------------------------------------- b. two calls


def test_answering_a_second_call_holds_the_first(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    first = desk_server.simulate(agent, ani="+14155550111")
    answer(page, first)
    second = desk_server.simulate(agent, ani="+14155550112")
    answer(page, second)
    expect(page.get_by_test_id(f"line-{first}")).to_have_attribute("data-state", "held")
    # Taking the first back holds the second: one conversation at a time.
    page.get_by_test_id(f"line-{first}").get_by_test_id("btn-retrieve").click()
    expect(page.get_by_test_id(f"line-{first}")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id(f"line-{second}")).to_have_attribute("data-state", "held")


# ---------------------------------------------------------------- c. no silence


def test_every_transfer_says_how_it_went(desk: Any, desk_server: DeskServer, agent: str) -> None:
    page = desk
    call = desk_server.simulate(agent, ani="+14155550121")
    row = answer(page, call)
    # An extension nobody has (the simulator's plan: numbers ending in 404 do not exist).
    row.get_by_test_id("btn-transfer").click()
    row.get_by_test_id("transfer-input").fill("7404")
    row.get_by_test_id("transfer-confirm").click()
    failed = page.get_by_test_id("transfer-failed")
    expect(failed).to_contain_text("Transfer to 7404 failed: that number does not exist")
    expect(failed).to_have_count(1)
    expect(page.locator('[data-testid="notice-text"]:has-text("Not Found")')).to_have_count(0)
    expect(row).to_have_attribute("data-state", "connected")  # the caller is still there

    row.get_by_test_id("transfer-input").fill("+1 (415) 555-0199")
    row.get_by_test_id("transfer-confirm").click()
    done = page.get_by_test_id("transfer-done")
    expect(done).to_contain_text("Transferred")
    expect(done).to_contain_text("+14155550199")
    expect(row).to_have_count(0)


def test_an_unanswered_call_is_a_missed_call_with_call_back(
    page: Any, quick_ring_server: DeskServer, agent: str
) -> None:
    page = open_desk(page, quick_ring_server, agent)
    call = quick_ring_server.simulate(agent, ani="+14155550177")
    ringing = page.get_by_test_id(f"line-{call}")
    expect(ringing).to_have_attribute("data-state", "ringing")
    # Nobody answers: the simulator gives up after sim_ring_timeout, as a PBX does.
    notice = page.get_by_test_id("missed-call")
    expect(notice).to_contain_text("Missed call from", timeout=15_000)
    expect(ringing).to_have_count(0)
    expect(notice).to_contain_text("555")
    missed = page.get_by_test_id(f"missed-{call}")
    expect(missed).to_be_visible()
    expect(page.get_by_test_id("missed-count")).to_have_text("1")
    # The list is the server's: it is still there after a reload.
    page.reload()
    expect(missed).to_be_visible()
    missed.get_by_test_id("call-back").click()
    dialled = page.locator('.line[data-state="dialing"], .line[data-state="connected"]')
    expect(dialled).to_have_count(1)
    expect(dialled.get_by_test_id("line-number")).to_contain_text("555")
    expect(missed).to_have_count(0)


# ---------------------------------------------------------------- d. being told


def test_a_ringing_call_is_heard_and_seen(page: Any, desk_server: DeskServer, agent: str) -> None:
    page.context.grant_permissions(["notifications"], origin=desk_server.url)
    # Record the notifications the page makes (the real API underneath).
    page.add_init_script("""
        window.__notes = [];
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, opts) {
                super(title, opts);
                window.__notes.push([title, opts.body]);
            }
        };
    """)
    page.goto(f"{desk_server.url}/console?agent={agent}")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    page.wait_for_function("() => !!(window.CtikitConsole && CtikitConsole.config)")
    page.get_by_test_id("dial-input").click()  # the agent has used the page: sound may play
    title = page.title()
    # The agent is in another window: the console has no focus.
    page.evaluate("() => { document.hasFocus = () => false; }")
    call = desk_server.simulate(agent, ani="+14155550123")
    row = page.get_by_test_id(f"line-{call}")
    expect(row).to_have_attribute("data-state", "ringing")
    expect(row.get_by_test_id("line-number")).to_have_text("+1 415-555-0123")
    expect(page).to_have_title(f"Ringing: +1 415-555-0123 · {title}")
    page.wait_for_function("() => CtikitConsole.ringer.isPlaying()")
    assert page.evaluate("() => CtikitConsole.ringer.audio.state") == "running"
    page.wait_for_function("() => window.__notes.length === 1")
    assert page.evaluate("() => window.__notes") == [["Incoming call", "+1 415-555-0123"]]
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    expect(page).to_have_title(title)
    page.wait_for_function("() => !CtikitConsole.ringer.isPlaying()")


# ---------------------------------------------------------------- e. errors, hold, server down


def test_errors_read_in_words_and_do_not_pile_up(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    call = desk_server.simulate(agent, ani="+14155550131")
    row = answer(page, call)
    workspace_top = page.locator("#workspace").bounding_box()["y"]
    row.get_by_test_id("btn-transfer").click()
    for attempt in ("abc!", "x?y", "!!", "a;b", "no!"):
        row.get_by_test_id("transfer-input").fill(attempt)
        row.get_by_test_id("transfer-confirm").click()
        expect(page.get_by_test_id("transfer-failed").last).to_contain_text(
            f"Transfer to {attempt}"
        )
    failed = page.get_by_test_id("transfer-failed").last
    expect(failed).to_contain_text("that is not a phone number")
    texts = page.locator(".notice").all_inner_texts()
    assert not any("/TRANSFER" in t or "NUMBER" in t for t in texts), texts
    # A bounded stack, over the page: the workspace stays where it was.
    assert len(texts) <= 3, texts
    assert page.locator("#workspace").bounding_box()["y"] == workspace_top
    failed.get_by_test_id("notice-dismiss").click()
    expect(page.locator(".notice")).to_have_count(len(texts) - 1)


def test_the_hold_timer_counts_from_the_hold(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    call = desk_server.simulate(agent, ani="+14155550132")
    row = answer(page, call)
    timer = row.get_by_test_id("line-timer")
    expect(timer).to_have_text("0:03", timeout=15_000)  # talking a while
    row.get_by_test_id("btn-hold").click()
    expect(row).to_have_attribute("data-state", "held")
    expect(timer).to_have_attribute("title", "Time on hold")
    expect(timer).to_have_text(re.compile(r"^0:0[0-1]$"))
    status, body = desk_server.api("GET", f"/api/agents/{agent}/calls")
    assert status == 200, body
    held = body["calls"][0]
    assert held["heldAt"] >= held["answeredAt"] + 3
    row.get_by_test_id("btn-retrieve").click()
    expect(row).to_have_attribute("data-state", "connected")
    expect(timer).to_have_attribute("title", "Time since answered")
    expect(timer).not_to_have_text(re.compile(r"^0:0[0-2]$"))


def test_a_button_pressed_while_the_server_is_away_is_refused_at_once(
    page: Any, desk_server: DeskServer, agent: str
) -> None:
    sockets: list[WebSocketRoute] = []
    blocked = {"on": False}

    def handler(ws: WebSocketRoute) -> None:
        if blocked["on"]:
            ws.close(code=1011, reason="test: server unreachable")
            return
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws\?agent=.*"), handler)
    page.goto(f"{desk_server.url}/console?agent={agent}")
    badge = page.get_by_test_id("connection-status")
    expect(badge).to_have_attribute("data-state", "connected")
    call = desk_server.simulate(agent, ani="+14155550133")
    row = answer(page, call)

    blocked["on"] = True
    sockets[-1].close(code=1012, reason="test: drop")
    expect(badge).to_have_attribute("data-state", "reconnecting")
    row.get_by_test_id("btn-hold").click()
    error = page.get_by_test_id("softphone-error")
    expect(error).to_contain_text("not connected", timeout=1_000)  # at once, not after 10 s
    page.get_by_test_id("log-comments").fill("Call dropped?")
    page.get_by_test_id("log-save").click()
    expect(page.get_by_test_id("log-error")).to_contain_text("not connected", timeout=1_000)

    blocked["on"] = False
    expect(badge).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    # Nothing was carried out behind the agent's back.
    page.wait_for_timeout(500)
    expect(row).to_have_attribute("data-state", "connected")
    assert desk_server.logs(agent, call) == []


# ---------------------------------------------------------------- f. keyboard and accessibility


def test_the_console_passes_axe(desk: Any, desk_server: DeskServer, agent: str) -> None:
    page = desk
    assert axe_violations(page) == []
    first = desk_server.simulate(agent, ani="+14155550141")
    answer(page, first)
    second = desk_server.simulate(agent, ani="+14155550142")
    expect(page.get_by_test_id(f"line-{second}")).to_have_attribute("data-state", "ringing")
    page.get_by_test_id(f"line-{first}").get_by_test_id("btn-transfer").click()
    assert axe_violations(page) == []


def test_answer_is_the_first_tab_stop_and_the_focus_stays_on_the_call(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    call = desk_server.simulate(agent, ani="+14155550151")
    row = page.get_by_test_id(f"line-{call}")
    expect(row).to_have_attribute("data-state", "ringing")
    page.reload()  # a fresh page: the focus is nowhere yet (was 30 Tabs through components)
    expect(row).to_have_attribute("data-state", "ringing")
    page.keyboard.press("Tab")
    expect(row.get_by_test_id("btn-answer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("data-state", "connected")
    # Not dropped to the page: on the call's Hang up, the next thing an agent does.
    expect(row.get_by_test_id("btn-hangup")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("dial-input")).to_be_focused()


def test_shortcuts_answer_hold_mute_hang_up_and_dial(
    desk: Any, desk_server: DeskServer, agent: str
) -> None:
    page = desk
    # Listed in the console, as configured (the defaults here).
    page.get_by_test_id("shortcuts-toggle").click()
    expect(page.get_by_test_id("shortcut-answer")).to_contain_text("Alt+Shift+A")
    expect(page.get_by_test_id("shortcut-hold")).to_contain_text("Alt+Shift+O")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("shortcuts-panel")).to_be_hidden()

    page.get_by_test_id("log-comments").click()  # the agent is writing notes
    call = desk_server.simulate(agent, ani="+14155550152")
    row = page.get_by_test_id(f"line-{call}")
    expect(row).to_have_attribute("data-state", "ringing")
    expect(row.get_by_test_id("btn-answer")).to_have_attribute("aria-keyshortcuts", "Alt+Shift+A")
    page.keyboard.press("Alt+Shift+A")
    expect(row).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("log-comments")).to_be_focused()  # the notes keep the focus
    page.keyboard.press("Alt+Shift+M")
    expect(row).to_have_attribute("data-muted", "true")
    page.keyboard.press("Alt+Shift+M")
    expect(row).to_have_attribute("data-muted", "false")
    page.keyboard.press("Alt+Shift+O")
    expect(row).to_have_attribute("data-state", "held")
    page.keyboard.press("Alt+Shift+O")
    expect(row).to_have_attribute("data-state", "connected")
    page.keyboard.press("Alt+Shift+H")
    expect(row).to_have_count(0)
    page.keyboard.press("Alt+Shift+A")  # nothing rings: said, not done
    expect(page.get_by_test_id("announcer")).to_have_text("No call is ringing.")
    page.keyboard.press("F9")  # this server's dial shortcut
    expect(page.get_by_test_id("dial-input")).to_be_focused()
    page.keyboard.type("+14155550153")
    page.keyboard.press("Enter")
    expect(page.locator(".line")).to_have_count(1)


def test_shortcuts_come_from_the_config(desk: Any) -> None:
    cfg = desk.evaluate("() => CtikitConsole.config.console.shortcuts")
    assert cfg == {
        "answer": "Alt+Shift+A",
        "hangup": "Alt+Shift+H",
        "hold": "Alt+Shift+O",
        "mute": "Alt+Shift+M",
        "dial": "F9",
    }
    desk.keyboard.press("F9")
    expect(desk.get_by_test_id("dial-input")).to_be_focused()
    expect(desk.get_by_test_id("shortcut-dial")).to_contain_text("F9")


def test_screenshot_of_the_desk(desk: Any, desk_server: DeskServer, agent: str) -> None:
    """test-artifacts/console-desk.png (the copy in docs/img comes from here)."""
    page = desk
    first = desk_server.simulate(agent, ani="+14155550161")
    answer(page, first)
    second = desk_server.simulate(agent, ani="+442079460123")
    row = answer(page, second)
    expect(page.get_by_test_id(f"line-{first}")).to_have_attribute("data-state", "held")
    row.get_by_test_id("btn-transfer").click()
    row.get_by_test_id("transfer-input").fill("7404")
    row.get_by_test_id("transfer-confirm").click()
    expect(page.get_by_test_id("transfer-failed")).to_be_visible()
    page.get_by_test_id("log-comments").fill("Asked about the March invoice.")
    page.get_by_test_id("log-disposition").select_option("Call back")
    page.mouse.move(0, 0)
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "console-desk.png"))
