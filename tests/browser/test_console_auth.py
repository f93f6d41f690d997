"""Agent console with accounts: sign-in, the token on the socket, read-only supervisors.

Runs its own ctikit server (module scope) with users declared in a config file.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess

TIMEOUT = 10_000
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"

expect.set_options(timeout=TIMEOUT)


class AuthServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def token(self, username: str) -> str:
        status, body = self.call("POST", "/api/login", {"username": username, "password": PASSWORD})
        assert status == 200, body
        return str(body["token"])


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    from argon2 import PasswordHasher

    tmp = tmp_path_factory.mktemp("auth")
    digest = PasswordHasher().hash(PASSWORD)
    (tmp / "ctikit.toml").write_text(f"""
[[agents]]
id = "agent1"
extension = "1001"
name = "Alice Agent"

[[agents]]
id = "agent2"
extension = "1002"

[[users]]
username = "alice"
role = "agent"
agent = "agent1"
team = "blue"
password_hash = "{digest}"

[[users]]
username = "bob"
role = "agent"
agent = "agent2"
team = "red"
password_hash = "{digest}"

[[users]]
username = "sam"
role = "supervisor"
team = "blue"
password_hash = "{digest}"
""")
    server = CtikitProcess(
        ["serve", "--config", str(tmp / "ctikit.toml"), "--host", "127.0.0.1", "--port", "0",
         "--database", f"sqlite:///{tmp / 'auth.db'}"],
        tmp / "server.log",
        cwd=ROOT,
    )  # fmt: skip
    yield AuthServer(server.url)
    server.stop()


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def connected(page: Any) -> None:
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "connected")


def hang_up_all(server: AuthServer, agent: str, token: str) -> None:
    _status, body = server.call("GET", f"/api/agents/{agent}/calls", token=token)
    for call in body.get("calls", []):
        server.call(
            "POST",
            f"/api/agents/{agent}/cti-message",
            {"message": f"/HANGUP?CALL_ID={call['id']}"},
            token=token,
        )


def test_sign_in_then_work(page: Any, auth_server: AuthServer) -> None:
    page.goto(f"{auth_server.url}/console?agent=agent1")
    sign_in(page, "alice", "wrong password")
    expect(page.get_by_test_id("login-error")).to_contain_text("wrong user name or password")
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / "console-sign-in.png"))
    sign_in(page, "alice")
    expect(page.get_by_test_id("login-form")).to_be_hidden()
    connected(page)
    expect(page.get_by_test_id("user-name")).to_have_text("alice")
    expect(page.get_by_test_id("agent-detail")).to_contain_text("1001")
    page.get_by_test_id("simulate-call").click()
    row = page.locator(".line")
    expect(row).to_have_attribute("data-state", "ringing")
    row.get_by_test_id("btn-answer").click()
    expect(row).to_have_attribute("data-state", "connected")
    # The session survives a reload (no second sign-in).
    page.reload()
    connected(page)
    expect(page.get_by_test_id("login-form")).to_be_hidden()
    expect(page.locator(".line")).to_have_attribute("data-state", "connected")
    page.locator(".line").get_by_test_id("btn-hangup").click()
    expect(page.locator(".line")).to_have_count(0)
    # The session is an HttpOnly cookie: scripts (an XSS) cannot read it.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["ctikit_session"]["httpOnly"] is True
    assert "ctikit_session" not in page.evaluate("document.cookie")
    # Sign out: back to the sign-in form, the cookie is gone.
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    assert "ctikit_session" not in {c["name"] for c in page.context.cookies()}


def test_console_without_agent_uses_the_users_agent(page: Any, auth_server: AuthServer) -> None:
    page.goto(f"{auth_server.url}/console")
    sign_in(page, "alice")
    connected(page)
    expect(page.get_by_test_id("agent-id")).to_have_text("agent1")
    assert page.url.endswith("/console?agent=agent1")


def test_bad_token_asks_to_sign_in_again(page: Any, auth_server: AuthServer) -> None:
    page.context.add_cookies(
        [{"name": "ctikit_session", "value": "not-a-real-token", "url": auth_server.url}]
    )
    page.goto(f"{auth_server.url}/console?agent=agent1")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    sign_in(page, "alice")
    connected(page)


def test_other_agents_console_is_forbidden(page: Any, auth_server: AuthServer) -> None:
    page.goto(f"{auth_server.url}/console?agent=agent2")
    sign_in(page, "alice")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    expect(page.locator(".line")).to_have_count(0)


def test_supervisor_watches_read_only(browser: Any, auth_server: AuthServer) -> None:
    alice_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    sam_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        sam = sam_ctx.new_page()
        sam.goto(f"{auth_server.url}/console?agent=agent1")
        sign_in(sam, "sam")
        connected(sam)
        expect(sam.get_by_test_id("read-only-badge")).to_be_visible()
        expect(sam.get_by_test_id("simulate-call")).to_be_hidden()
        expect(sam.get_by_test_id("dial-button")).to_be_hidden()

        token = auth_server.token("alice")
        status, body = auth_server.call(
            "POST", "/api/agents/agent1/simulate-call", {"ani": "+14155550171"}, token=token
        )
        assert status == 200, body
        row = sam.get_by_test_id(f"line-{body['callId']}")
        expect(row).to_have_attribute("data-state", "ringing")
        expect(row.get_by_test_id("line-number")).to_have_text("+1 415-555-0171")
        expect(row.get_by_test_id("btn-answer")).to_be_hidden()
        expect(sam.get_by_test_id("log-save")).to_be_disabled()
        # The server refuses changes from a read-only console anyway.
        resp = sam.evaluate("CtikitConsole.conn.request('sendCTIMessage', {message: '/ANSWER'})")
        assert resp["success"] is False
        hang_up_all(auth_server, "agent1", token)
        expect(row).to_have_count(0)
    finally:
        alice_ctx.close()
        sam_ctx.close()
