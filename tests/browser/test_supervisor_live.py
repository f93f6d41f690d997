"""The supervisor page is live: an agent's state change shows within a second (pushed over
/ws/supervisor, not polled), and an alert fires and clears."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

expect.set_options(timeout=10_000)


def test_supervisor_sees_state_changes_within_a_second_and_alerts(
    browser: Any, page: Any, ctikit_server: Any, agent: str
) -> None:
    team = f"team-{agent}"
    supervisor = f"sup-{agent}"
    watched = f"{agent}w"
    ctikit_server.accounts.ensure_user(watched, team=team)
    ctikit_server.accounts.ensure_user(supervisor, role="supervisor", team=team)
    ctikit_server.login(page.context, supervisor)
    page.goto(ctikit_server.url + "/supervisor")
    row = page.locator(f'[data-testid="agent-row"][data-agent="{watched}"]')
    state = row.get_by_test_id("agent-state")
    expect(state).to_have_text("Available")
    expect(page.get_by_test_id("team-row")).to_have_text(f"Team {team}")
    # The agent changes its state in its own console: the board follows within a second.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctikit_server.login(ctx, watched)
    console = ctx.new_page()
    try:
        console.goto(ctikit_server.console_url(watched))
        expect(console.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "connected"
        )
        console.get_by_test_id("agent-state").select_option(label="Away — Lunch")
        expect(state).to_have_text("Away — Lunch", timeout=1000)
        expect(row.get_by_test_id("agent-state-time")).to_have_text("0:00", timeout=1000)
        console.get_by_test_id("agent-state").select_option("available")
        expect(state).to_have_text("Available", timeout=1000)
        # A ringing call shows, and going offline with it raises an alert.
        status, body = ctikit_server.api(
            "POST", f"/api/agents/{watched}/simulate-call", {"ani": "+14155550188"}
        )
        assert status == 200, body
        expect(row.get_by_test_id("agent-call")).to_contain_text("+14155550188")
        expect(page.get_by_test_id("stat-ringing")).to_have_text("1")
        console.get_by_test_id("agent-state").select_option("offline")
        alert = page.locator(f'[data-testid="alert"][data-agent="{watched}"]')
        expect(alert).to_have_attribute("data-kind", "offline_with_call", timeout=1000)
        expect(alert).to_contain_text("offline with a call")
        # The call ends (the agent hangs up): the alert clears.
        status, body = ctikit_server.api(
            "POST", f"/api/agents/{watched}/cti-message", {"message": "/HANGUP"}
        )
        assert status == 200, body
        expect(alert).to_have_count(0)
        expect(page.get_by_test_id("alerts-empty")).to_be_visible()
        assert page.page_errors == []
        # The agent's name opens its console, read-only: the state shows, it cannot be set.
        row.get_by_role("link").click()
        expect(page.get_by_test_id("read-only-badge")).to_be_visible()
        expect(page.get_by_test_id("agent-state")).to_have_value("offline")
        expect(page.get_by_test_id("agent-state")).to_be_disabled()
    finally:
        ctx.close()


def test_the_demo_banner_links_to_a_live_supervisor_view(browser: Any, tmp_path: Any) -> None:
    from pathlib import Path

    from ctikit.testing import CtikitProcess

    root = Path(__file__).resolve().parents[2]
    server = CtikitProcess(
        ["demo", "--host", "127.0.0.1", "--port", "0",
         "--database", f"sqlite:///{tmp_path / 'demo.db'}"],
        tmp_path / "server.log",
        cwd=root,
    )  # fmt: skip
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        console = ctx.new_page()
        console.goto(f"{server.url}/console?agent=agent1")
        link = console.get_by_test_id("demo-hint").get_by_test_id("demo-supervisor-link")
        with ctx.expect_page() as opened:
            link.click()
        sup = opened.value
        row = sup.locator('[data-testid="agent-row"][data-agent="agent1"]')
        expect(row).to_contain_text("Alice Agent")
        expect(sup.locator('[data-testid="agent-row"]')).to_have_count(3)
        console.get_by_test_id("agent-state").select_option(label="Away — Break")
        expect(row.get_by_test_id("agent-state")).to_have_text("Away — Break", timeout=1000)
    finally:
        ctx.close()
        server.stop()
