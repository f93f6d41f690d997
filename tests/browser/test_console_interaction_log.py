"""Agent console interaction log: notes for a call (in wrap-up too), saved through the server."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

TIMEOUT = 10_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

expect.set_options(timeout=TIMEOUT)


def component(page: Any, name: str) -> Any:
    return page.frame_locator(f'iframe[data-testid="component-frame-{name}"]')


def simulate(server: Any, agent: str, **body: Any) -> str:
    status, resp = server.api("POST", f"/api/agents/{agent}/simulate-call", body)
    assert status == 200 and resp["success"], resp
    return str(resp["callId"])


@pytest.fixture
def console(page: Any, ctikit_server: Any, agent: str) -> Any:
    page.goto(ctikit_server.console_url(agent))
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    expect(component(page, "custom-softphone").get_by_test_id("status")).to_have_text("Ready")
    return page


def answer_and_hang_up(page: Any, call_id: str) -> None:
    row = page.get_by_test_id(f"line-{call_id}")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    row.get_by_test_id("btn-hangup").click()
    expect(row).to_have_count(0)


def test_save_call_log_after_the_call_ended(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    soft = component(page, "custom-softphone")
    call_id = simulate(
        ctikit_server, agent, ani="+14155550121", dnis="8005550100", data={"Account": "ACME-21"}
    )
    other_id = simulate(ctikit_server, agent, ani="+14155550122")
    answer_and_hang_up(page, call_id)

    select = page.get_by_test_id("log-call-select")
    # The active call is first; the ended one stays available for wrap-up.
    expect(select.locator(f'option[value="{call_id}"]')).to_contain_text("ended")
    expect(select.locator(f'option[value="{other_id}"]')).to_contain_text("active")
    select.select_option(call_id)
    expect(page.get_by_test_id("log-call-hint")).to_contain_text("lasted")
    page.get_by_test_id("log-subject").fill("Card lost")
    page.get_by_test_id("log-comments").fill("Blocked the card.\nNew card sent <b>today</b>.")
    page.get_by_test_id("log-disposition").select_option("Follow-up needed")
    page.get_by_test_id("log-save").click()

    saved = page.get_by_test_id("log-saved")
    expect(saved).to_be_visible()
    expect(saved).to_contain_text("Saved (log ID ")
    log_id = page.get_by_test_id("log-saved-id").inner_text()
    assert log_id and log_id != "?"
    # Cleared for the next note; the call stays selected.
    expect(page.get_by_test_id("log-subject")).to_have_value("")
    expect(page.get_by_test_id("log-comments")).to_have_value("")
    expect(page.get_by_test_id("log-disposition")).to_have_value("")
    expect(page.get_by_test_id("log-error")).to_be_hidden()
    expect(page.get_by_test_id("saved-logs")).to_contain_text(log_id)
    # Components hear onCallLogSaved.
    expect(soft.get_by_test_id("event-log-saved").first).to_have_text(f"callLogSaved {log_id}")
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-interaction-log-saved.png"))

    status, body = ctikit_server.api("GET", f"/api/call-logs/{log_id}")
    assert status == 200, body
    log = body["log"]
    assert log["call_id"] == call_id
    assert log["agent_id"] == agent
    assert log["subject"] == "Card lost"
    assert log["comments"] == "Blocked the card.\nNew card sent <b>today</b>."
    assert log["disposition"] == "Follow-up needed"
    assert log["ani"] == "+14155550121"
    assert log["attached_data"]["Account"] == "ACME-21"

    status, text = ctikit_server.api("GET", f"/api/call-logs/export.csv?agent={agent}")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    mine = [r for r in rows if log_id in r.values()]
    assert len(mine) == 1, rows
    assert "Card lost" in mine[0].values()
    assert "Follow-up needed" in mine[0].values()

    status, listing = ctikit_server.api("GET", f"/api/call-logs?agent={agent}")
    assert status == 200 and [entry["id"] for entry in listing["logs"]] == [log_id]


def test_other_disposition_and_active_call(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    call_id = simulate(ctikit_server, agent, ani="+14155550123")
    expect(page.get_by_test_id("log-call-select")).to_have_value(call_id)
    expect(page.get_by_test_id("log-disposition-other")).to_be_hidden()
    page.get_by_test_id("log-disposition").select_option("__other__")
    page.get_by_test_id("log-disposition-other").fill("Callback booked")
    page.get_by_test_id("log-save").click()
    expect(page.get_by_test_id("log-saved")).to_be_visible()
    log_id = page.get_by_test_id("log-saved-id").inner_text()
    status, body = ctikit_server.api("GET", f"/api/call-logs/{log_id}")
    assert status == 200
    assert body["log"]["disposition"] == "Callback booked"
    assert body["log"]["call_id"] == call_id
    expect(page.get_by_test_id("log-disposition-other")).to_be_hidden()


def test_save_errors_are_shown_inline(console: Any, ctikit_server: Any, agent: str) -> None:
    page = console
    expect(page.get_by_test_id("log-save")).to_be_disabled()  # nothing to log yet
    simulate(ctikit_server, agent, ani="+14155550124")
    expect(page.get_by_test_id("log-save")).to_be_enabled()
    # A call the server does not know (e.g. forgotten meanwhile): the server's reason shows.
    # Notes first: a form with notes keeps its call (an empty one follows the active call,
    # and would move back to the ringing call on its next render).
    page.get_by_test_id("log-subject").fill("kept")
    page.evaluate("CtikitConsole.log.selected = 'no-such-call'")
    page.get_by_test_id("log-save").click()
    error = page.get_by_test_id("log-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Not saved")
    expect(error).to_contain_text("the call is neither active")  # in words, no raw ID
    expect(page.get_by_test_id("log-saved")).to_be_hidden()
    expect(page.get_by_test_id("log-subject")).to_have_value("kept")  # nothing lost
