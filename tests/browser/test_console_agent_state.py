"""The agent-state selector in the console header: choose, see changes made elsewhere live,
keep it across a reload, refused calls while away, and after-call work ending in Available."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess, run_ctikit

TIMEOUT = 10_000
expect.set_options(timeout=TIMEOUT)
PASSWORD = "agent-state-browser"


def open_console(page: Any, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")


def test_agent_chooses_a_state_and_sees_changes_from_elsewhere(
    page: Any, ctikit_server: Any, agent: str
) -> None:
    open_console(page, ctikit_server.console_url(agent))
    select = page.get_by_test_id("agent-state")
    box = page.get_by_test_id("agent-state-box")
    expect(select).to_have_value("available")
    expect(page.get_by_label("Agent state")).to_be_enabled()
    select.select_option(label="Away — Lunch")
    expect(box).to_have_attribute("data-status", "away")
    expect(page.get_by_test_id("agent-state-timer")).to_have_text("0:00")
    status, body = ctikit_server.api("GET", f"/api/agents/{agent}/state", auth=agent)
    assert (status, body["status"], body["reason"]) == (200, "away", "Lunch")
    # While away the simulator does not ring this agent.
    status, body = ctikit_server.api("POST", f"/api/agents/{agent}/simulate-call", {})
    assert (status, body["code"]) == (409, "command_rejected")
    expect(page.get_by_test_id("no-calls")).to_be_visible()
    # A change made elsewhere (REST) shows at once; a reload keeps the server's state.
    status, _ = ctikit_server.api(
        "PUT", f"/api/agents/{agent}/state", {"status": "offline"}, auth=agent
    )
    assert status == 200
    expect(select).to_have_value("offline", timeout=1000)
    page.reload()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")
    expect(select).to_have_value("offline")
    select.select_option("available")
    expect(box).to_have_attribute("data-status", "available")
    assert page.page_errors == []


@pytest.fixture
def acw_server(tmp_path: Path) -> Iterator[CtikitProcess]:
    database = f"sqlite:///{tmp_path / 'ctikit.db'}"
    run_ctikit(
        "user", "add", "wrapper", "--password-stdin", "--database", database, stdin=PASSWORD + "\n"
    )
    config = tmp_path / "ctikit.toml"
    config.write_text('[agent_state]\nacw_seconds = 3\naway_reasons = ["Coaching"]\n')
    proc = CtikitProcess(
        ["serve", "--port", "0", "--database", database, "--config", str(config)],
        tmp_path / "server.log",
    )
    yield proc
    proc.stop()


def test_after_call_work_counts_down_and_ends_in_available(
    browser: Any, acw_server: CtikitProcess
) -> None:
    req = urllib.request.Request(
        acw_server.url + "/api/login",
        data=json.dumps({"username": "wrapper", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read())["token"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "ctikit_session", "value": token, "url": acw_server.url}])
    page = context.new_page()
    try:
        open_console(page, acw_server.url + "/console?agent=wrapper")
        select = page.get_by_test_id("agent-state")
        # The configured reasons are the options.
        expect(select.locator("option")).to_have_text(["Available", "Away — Coaching", "Offline"])
        page.get_by_test_id("simulate-call").click()
        page.get_by_test_id("btn-answer").click()
        expect(page.locator(".line [data-testid=line-state]")).to_have_text("Connected")
        page.get_by_test_id("btn-hangup").click()
        box = page.get_by_test_id("agent-state-box")
        expect(box).to_have_attribute("data-status", "acw")
        expect(select).to_have_value("acw")
        expect(page.get_by_test_id("agent-state-timer")).to_contain_text("Wrap-up 0:0")
        expect(box).to_have_attribute("data-status", "available", timeout=8000)
        expect(select).to_have_value("available")
    finally:
        context.close()
