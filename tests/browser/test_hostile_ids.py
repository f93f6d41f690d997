"""Hostile identifiers are data (issue 13, F7): call IDs, agent IDs, attached-data keys and
event types named ``__proto__``, ``constructor``, ``toString`` or ``hasOwnProperty`` must not
break the agent console, the caller card, the supervisor's views, nor a restarted server's
console. With SIP, call IDs come from outside callers; agent IDs allow these names.

Runs its own ctikit server (module scope, SQLite, users in the config file, on a fixed port
so that it can be restarted under an open console) with the test components of the session's
component server (another origin).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess, free_port

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
Harness, find_frame, is_harness, wait_until = (
    lib.Harness,
    lib.find_frame,
    lib.is_harness,
    lib.wait_until,
)

TIMEOUT = 10_000
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "hostile ids password"
HOSTILE = ["__proto__", "constructor", "toString", "hasOwnProperty"]
#: Attached data whose keys are the hostile names (and what a caller card looks for).
DATA = {**{name: f"value of {name}" for name in HOSTILE}, "ANI": "+14155550142", "valueOf": "v"}
#: The user signed in to each hostile agent's console.
USERS = {"__proto__": "u-proto", "constructor": "u-ctor", "toString": "u-tostr",
         "hasOwnProperty": "u-hasown"}  # fmt: skip

expect.set_options(timeout=TIMEOUT)


class HostileServer:
    """A ctikit process on a fixed port, restartable on the same port and database."""

    def __init__(self, tmp: Path, component_url: str) -> None:
        from argon2 import PasswordHasher

        digest = PasswordHasher().hash(PASSWORD)
        self.db = tmp / "hostile.db"
        self.log = tmp / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        agents = "".join(
            f'[[agents]]\nid = "{a}"\nextension = "{2001 + i}"\nname = "Agent {a}"\n\n'
            for i, a in enumerate(HOSTILE)
        )
        users = "".join(
            f'[[users]]\nusername = "{u}"\nrole = "agent"\nagent = "{a}"\nteam = "blue"\n'
            f'password_hash = "{digest}"\n\n'
            for a, u in USERS.items()
        )
        sup = (
            '[[users]]\nusername = "sam"\nrole = "supervisor"\nteam = "blue"\n'
            f'password_hash = "{digest}"\n'
        )
        (tmp / "ctikit.toml").write_text(agents + users + sup)
        self.args = [
            "serve", "--config", str(tmp / "ctikit.toml"), "--host", "127.0.0.1",
            "--port", str(self.port), "--database", f"sqlite:///{self.db}",
            "--component", f"harness={component_url}/components/harness.html?v=66",
            "--component", f"caller-card={component_url}/examples/caller-card/index.html",
        ]  # fmt: skip
        self.proc = CtikitProcess(self.args, self.log, cwd=ROOT)
        self.tokens: dict[str, str] = {}

    def restart(self, before_start: Any = None) -> None:
        """kill -9 (no chance to flush), run ``before_start()``, start again."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.stop()
        if before_start is not None:
            before_start()
        self.proc = CtikitProcess(self.args, self.log, cwd=ROOT)

    def call(self, method: str, path: str, body: Any = None, user: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if user is not None:
            req.add_header("Authorization", f"Bearer {self.token(user)}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        assert status == 200, (method, path, status, raw)
        return json.loads(raw)

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = self.call(
                "POST", "/api/login", {"username": user, "password": PASSWORD}
            )["token"]
        return self.tokens[user]

    def saved_state(self, agent: str) -> str:
        """The call state this server saved for ``agent`` (its JSON text), '' if none."""
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT state FROM call_state WHERE agent_id = ?", (agent,)).fetchone()
        return str(row[0]) if row else ""

    def replace_in_saved_state(self, agent: str, old: str, new: str) -> None:
        with sqlite3.connect(self.db) as db:
            (text,) = db.execute(
                "SELECT state FROM call_state WHERE agent_id = ?", (agent,)
            ).fetchone()
            assert json.dumps(old) in text
            db.execute(
                "UPDATE call_state SET state = ? WHERE agent_id = ?",
                (text.replace(json.dumps(old), json.dumps(new)), agent),
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ctikit_server: Any) -> Iterator[HostileServer]:
    ARTIFACTS.mkdir(exist_ok=True)
    srv = HostileServer(tmp_path_factory.mktemp("hostile"), ctikit_server.component_url)
    yield srv
    srv.proc.stop()


class Console:
    """An agent's (or a supervisor's) console page, with its harness component."""

    def __init__(self, browser: Any, server: HostileServer, user: str, agent: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_cookies(
            [{"name": "ctikit_session", "value": server.token(user), "url": server.url,
              "httpOnly": True, "sameSite": "Strict"}]
        )  # fmt: skip
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(f"{server.url}/console?agent={agent}")
        self.connected()
        self.harness = Harness(find_frame(self.page, is_harness()))
        self.harness.wait_ready()
        expect(self.card.get_by_test_id("status")).to_have_text("Ready")

    @property
    def card(self) -> Any:
        return self.page.frame_locator('iframe[data-testid="component-frame-caller-card"]')

    def connected(self) -> None:
        expect(self.page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "connected"
        )

    def line(self, call_id: str) -> Any:
        return self.page.get_by_test_id(f"line-{call_id}")

    def begin(self, call_id: str) -> None:
        """A component's call: fireOnCallBegin, then data whose keys are hostile."""
        self.harness.ok("cti.fireOnCallBegin", call_id, "inbound", f"Caller {call_id}")
        self.harness.ok("cti.setCallAttachedData", call_id, json.dumps(DATA), "inbound")

    def clean(self) -> None:
        """Nothing broke: no uncaught error, no prototype grew a property, in any frame."""
        assert self.errors == []
        for frame in self.page.frames:
            polluted = frame.evaluate(
                """() => {
                  const builtin = ['length', 'name', 'prototype', 'caller', 'arguments',
                                   '__proto__'];
                  return [Object.prototype, Array.prototype, Function.prototype, Object]
                    .map(o => Object.getOwnPropertyNames(o)
                      .filter(k => !builtin.includes(k) && typeof o[k] !== 'function'))
                    .flat();
                }"""
            )
            assert polluted == [], (frame.url, polluted)
            assert frame.evaluate("() => ({}).call === undefined && ({}).el === undefined")

    def close(self) -> None:
        self.context.close()


def shows_card(console: Console, call_id: str) -> None:
    """The caller card shows ``call_id`` with every hostile key of its data as a row."""
    card = console.card
    expect(card.get_by_test_id("card")).to_have_attribute("data-call-id", call_id)
    expect(card.get_by_test_id("card-call-id")).to_have_text(call_id)
    expect(card.get_by_test_id("card-ani")).to_have_text(DATA["ANI"])
    rows = card.get_by_test_id("data-row")  # the simulator adds DNIS to a call it places
    for key, value in DATA.items():
        row = rows.filter(has=card.get_by_test_id("data-key").get_by_text(key, exact=True))
        expect(row.get_by_test_id("data-value")).to_have_text(value)


def events_seen(h: Any, event_type: str) -> list[Any]:
    """Custom events of ``event_type`` that the bridge posted to the harness window."""
    return h.eval(
        """t => H.messages.map(m => m.data)
            .filter(d => d && d.kind === 'event' && d.event === 'customEvent' && d.data
                         && d.data.type === t)
            .map(d => d.data.message)""",
        event_type,
    )


def test_hostile_call_ids_data_keys_and_event_types(browser: Any, server: HostileServer) -> None:
    agent = "__proto__"
    c = Console(browser, server, USERS[agent], agent)
    page = c.page
    try:
        expect(page.get_by_test_id("agent-id")).to_have_text(agent)
        expect(page.get_by_test_id("agent-detail")).to_contain_text("ext. 2001")
        for call_id in HOSTILE:
            c.begin(call_id)
            expect(c.line(call_id)).to_have_attribute("data-state", "component")
            expect(c.line(call_id).get_by_test_id("line-label")).to_have_text(f"Caller {call_id}")
        # A call on the (simulated) line, whose data keys are hostile too.
        sim = server.call(
            "POST",
            f"/api/agents/{agent}/simulate-call",
            {"ani": DATA["ANI"], "data": DATA},
            user=USERS[agent],
        )["callId"]
        expect(page.locator(".line")).to_have_count(len(HOSTILE) + 1)
        expect(c.line(sim)).to_have_attribute("data-state", "ringing")
        expect(c.line(sim).get_by_test_id("line-number")).to_have_text("+1 415-555-0142")

        # The caller card shows the newest call and lists the others by their IDs.
        shows_card(c, sim)
        others = c.card.get_by_test_id("other-call")
        expect(others).to_have_count(len(HOSTILE))
        for call_id in HOSTILE:
            c.card.locator(f'[data-testid="other-call"][data-call-id="{call_id}"]').click()
            shows_card(c, call_id)
        page.screenshot(path=str(ARTIFACTS / "hostile-ids-console.png"))

        # The simulated call is answered and hung up from the console.
        c.line(sim).get_by_test_id("btn-answer").click()
        expect(c.line(sim)).to_have_attribute("data-state", "connected")
        c.line(sim).get_by_test_id("btn-hangup").click()
        expect(c.line(sim)).to_have_count(0)

        # The interaction log offers every call; a log saved for one shows as such.
        options = page.get_by_test_id("log-call-select").locator("option")
        expect(options).to_have_count(len(HOSTILE) + 1)
        page.get_by_test_id("log-call-select").select_option("constructor")
        page.get_by_test_id("log-subject").fill("about constructor")
        page.get_by_test_id("log-save").click()
        expect(page.get_by_test_id("log-saved-id")).not_to_have_text("")
        expect(page.get_by_test_id("log-call-hint")).to_contain_text("logged as")
        page.get_by_test_id("log-call-select").select_option("toString")
        expect(page.get_by_test_id("log-call-hint")).not_to_contain_text("logged as")

        # Custom events of hostile types, from a component and from the REST API: the
        # bridge posts each to the components, and the console goes on.
        for n, event_type in enumerate(HOSTILE):
            c.harness.ok("fireEvent", event_type, f"from harness {n}")
            server.call(
                "POST", "/api/events",
                {"agents": [agent], "type": event_type, "message": f"from REST {n}"},
                user=USERS[agent],
            )  # fmt: skip
        for n, event_type in enumerate(HOSTILE):
            wait_until(lambda t=event_type: len(events_seen(c.harness, t)) >= 2, page)
            assert sorted(events_seen(c.harness, event_type)) == [
                f"from REST {n}",
                f"from harness {n}",
            ]

        # The component ends its calls: the lines go, the log keeps them for wrap-up.
        for call_id in HOSTILE:
            c.harness.ok("cti.fireOnCallEnd", call_id, 5, "Resolved")
            expect(c.line(call_id)).to_have_count(0)
        expect(page.get_by_test_id("no-calls")).to_be_visible()
        expect(options).to_have_count(len(HOSTILE) + 1)
        expect(c.card.get_by_test_id("empty")).to_be_visible()
        c.clean()
    finally:
        c.close()


def test_supervisor_views_of_hostile_agents(browser: Any, server: HostileServer) -> None:
    watched = "constructor"
    agent = Console(browser, server, USERS[watched], watched)
    sam = Console(browser, server, "sam", watched)
    try:
        for call_id in HOSTILE:
            agent.begin(call_id)
        calls = {
            a: server.call(
                "POST", f"/api/agents/{a}/simulate-call", {"ani": DATA["ANI"], "data": DATA}, user=u
            )["callId"]
            for a, u in USERS.items()
        }
        # The supervisor's read-only console of that agent shows every call.
        expect(sam.page.get_by_test_id("read-only-badge")).to_be_visible()
        for call_id in [*HOSTILE, calls[watched]]:
            expect(sam.line(call_id)).to_be_visible()
            expect(sam.line(call_id).get_by_test_id("btn-answer")).to_be_hidden()
        shows_card(sam, calls[watched])
        sam.card.locator('[data-testid="other-call"][data-call-id="__proto__"]').click()
        shows_card(sam, "__proto__")
        sam.page.screenshot(path=str(ARTIFACTS / "hostile-ids-read-only.png"))

        # The supervisor page lists every agent, each with its calls.
        sup = sam.context.new_page()
        sup.on("pageerror", lambda exc: sam.errors.append(str(exc)))
        sup.goto(f"{server.url}/supervisor")
        for a in HOSTILE:
            row = sup.locator(f'[data-testid="agent-row"][data-agent="{a}"]')
            expect(row.get_by_test_id("agent-call")).to_have_count(
                len(HOSTILE) + 1 if a == watched else 1
            )
        expect(sup.get_by_test_id("error")).to_be_hidden()
        sup.screenshot(path=str(ARTIFACTS / "hostile-ids-supervisor.png"))

        for a, call_id in calls.items():
            server.call(
                "POST", f"/api/agents/{a}/cti-message",
                {"message": f"/HANGUP?CALL_ID={call_id}"}, user=USERS[a],
            )  # fmt: skip
        for call_id in HOSTILE:
            agent.harness.ok("cti.fireOnCallEnd", call_id, 1, "done")
        expect(sam.page.locator(".line")).to_have_count(0)
        expect(sup.locator('[data-testid="agent-row"] [data-testid="agent-call"]')).to_have_count(0)
        agent.clean()
        sam.clean()
    finally:
        agent.close()
        sam.close()


def test_hostile_calls_come_back_after_a_restart(browser: Any, server: HostileServer) -> None:
    agent = "hasOwnProperty"
    c = Console(browser, server, USERS[agent], agent)
    page = c.page
    try:
        c.begin("__proto__")
        c.begin("constructor")
        sim = server.call(
            "POST",
            f"/api/agents/{agent}/simulate-call",
            {"ani": DATA["ANI"], "data": DATA},
            user=USERS[agent],
        )["callId"]
        expect(page.locator(".line")).to_have_count(3)
        # Saved (state is flushed every 0.2 s), then the server dies. While it is down, the
        # simulated call's ID becomes "toString" in the saved state: the ID a SIP caller
        # could have chosen for a call on the line.
        deadline = time.monotonic() + 10
        while not all(
            json.dumps(i) in server.saved_state(agent) for i in ("__proto__", "constructor", sim)
        ):
            assert time.monotonic() < deadline, server.saved_state(agent)
            time.sleep(0.1)
        server.restart(lambda: server.replace_in_saved_state(agent, sim, "toString"))

        # The open console reconnects to the new process and shows the restored calls.
        c.connected()
        expect(c.line(sim)).to_have_count(0)
        expect(c.line("toString")).to_have_attribute("data-state", "ringing")
        for call_id in ("__proto__", "constructor"):
            expect(c.line(call_id)).to_have_attribute("data-state", "component")
        expect(page.locator(".line")).to_have_count(3)
        c.harness.wait_ready()
        shows_card(c, "toString")
        page.screenshot(path=str(ARTIFACTS / "hostile-ids-after-restart.png"))

        # The restored call is on the line: it is answered and hung up from the console.
        c.line("toString").get_by_test_id("btn-answer").click()
        expect(c.line("toString")).to_have_attribute("data-state", "connected")
        c.line("toString").get_by_test_id("btn-hangup").click()
        expect(c.line("toString")).to_have_count(0)
        for call_id in ("__proto__", "constructor"):
            c.harness.ok("cti.fireOnCallEnd", call_id, 3, "Resolved")
        expect(page.locator(".line")).to_have_count(0)
        expect(c.card.get_by_test_id("empty")).to_be_visible()
        # A fresh console of the same agent after the restart works too.
        page.reload()
        c.connected()
        c.clean()
    finally:
        c.close()
