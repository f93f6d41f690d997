"""Helpers shared by the browser tests of integration.js and bridge.js.

The test modules load this file by path (components/ is not a package and pytest runs with
--import-mode=importlib, where test modules cannot import each other): see ``load()``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

WAIT_MS = 10_000
#: What a component does in a harness frame: /ANSWER, then /HOLD from /ANSWER's callback;
#: resolves to both results (plain JSON).
ANSWER_THEN_HOLD = """() => new Promise((resolve) => {
  sforce.console.cti.sendCTIMessage('/ANSWER', (answer) => {
    sforce.console.cti.sendCTIMessage('/HOLD', (hold) => {
      resolve(JSON.parse(JSON.stringify({answer, hold})));
    });
  });
})"""
_keys = itertools.count(1)


def api(
    server: Any, method: str, path: str, body: Any = None, status: int = 200, **auth: Any
) -> Any:
    """REST call expecting ``status``; ``auth=USER`` calls as that user (default: a service)."""
    got, payload = server.api(method, path, body, **auth)
    assert got == status, (method, path, got, payload)
    return payload


def find_frame(page: Any, match: Callable[[str], bool], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if match(frame.url):
                return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"no frame matched; frames: {[f.url for f in page.frames]}")


def wait_until(check: Callable[[], Any], page: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(50)


def stays(check: Callable[[], bool], page: Any, seconds: float = 0.6) -> bool:
    """True if ``check()`` holds throughout ``seconds`` (for "nothing happens" claims)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        page.wait_for_timeout(50)
    return check()


@dataclass
class Harness:
    """A harness.html frame: call the API in it, read what came back.

    ``polling``: how waits poll the frame. The default ("raf", on animation frames) never
    polls a frame that is not shown, such as a page in a background tab: give those a
    number of milliseconds."""

    frame: Any
    polling: int | str = "raf"

    def wait_loaded(self) -> None:
        self.frame.wait_for_function(
            "() => window.H && H.loaded", timeout=WAIT_MS, polling=self.polling
        )

    def wait_ready(self) -> None:
        self.frame.wait_for_function(
            "() => window.H && H.handshake !== null", timeout=WAIT_MS, polling=self.polling
        )
        handshake = self.frame.evaluate("() => H.handshake")
        assert handshake["success"] is True, handshake

    def eval(self, expression: str, arg: Any = None) -> Any:
        return self.frame.evaluate(expression, arg)

    def call(self, method: str, *args: Any, cb: int | None = None) -> str:
        """Call ``sforce.console.<method>(*args, callback)``; returns the result key."""
        return self.call_js(method, json.dumps(list(args)), cb=cb)

    def call_js(self, method: str, args_js: str, cb: int | None = None) -> str:
        """Like :meth:`call` with the arguments as JavaScript source (undefined, functions...)."""
        key = f"r{next(_keys)}"
        cb_js = "undefined" if cb is None else str(cb)
        out = self.frame.evaluate(
            f"() => H.call({json.dumps(key)}, {json.dumps(method)}, {args_js}, {cb_js})"
        )
        assert out["threw"] is None, f"{method} threw: {out['threw']}"
        return key

    def result(self, key: str) -> dict[str, Any]:
        """The one result of call ``key``, as H.view describes it (waits for it)."""
        self.frame.wait_for_function(
            "k => (H.results[k] || []).length >= 1", arg=key, timeout=WAIT_MS, polling=self.polling
        )
        return self.frame.evaluate("k => H.view(H.results[k][0])", key)

    def plain(self, key: str) -> dict[str, Any]:
        """The one result of call ``key`` as plain JSON (waits for it)."""
        self.result(key)
        return self.frame.evaluate("k => JSON.parse(JSON.stringify(H.results[k][0]))", key)

    def count(self, key: str) -> int:
        return self.frame.evaluate("k => (H.results[k] || []).length", key)

    def ok(self, method: str, *args: Any) -> None:
        """Call and expect exactly ``{success: true}``."""
        assert self.plain(self.call(method, *args)) == {"success": True}

    def listen(self, method: str, *extra: Any, times: int = 1, before: tuple[Any, ...] = ()) -> str:
        """Register one recording handler ``times`` times: ``method(*before, handler, *extra)``."""
        key = f"e{next(_keys)}"
        out = self.frame.evaluate(
            "([k, m, x, t, b]) => H.listen(k, m, x, t, b)",
            [key, method, list(extra), times, list(before)],
        )
        assert out["threw"] is None, out
        return key

    def events(self, key: str, n: int) -> list[Any]:
        """Wait until handler ``key`` has had ``n`` calls; return them all (plain JSON)."""
        self.frame.wait_for_function(
            "([k, n]) => (H.events[k] || []).length >= n",
            arg=[key, n],
            timeout=WAIT_MS,
            polling=self.polling,
        )
        return self.frame.evaluate("k => JSON.parse(JSON.stringify(H.events[k]))", key)

    def event_count(self, key: str) -> int:
        return self.frame.evaluate("k => (H.events[k] || []).length", key)


def is_harness(name: str | None = None) -> Callable[[str], bool]:
    def match(url: str) -> bool:
        if "/components/harness.html" not in url or "nonce=" not in url:
            return False
        second = "name=second" in url
        return second if name == "second" else not second

    return match


@dataclass
class Console:
    page: Any
    server: Any
    agent: str
    h1: Harness  # API 66
    h2: Harness  # API 31

    def calls(self) -> list[dict[str, Any]]:
        return api(self.server, "GET", f"/api/agents/{self.agent}/calls")["calls"]

    def state(self) -> dict[str, Any]:
        body = api(self.server, "GET", f"/api/agents/{self.agent}/calls")
        return {"calls": body["calls"], "recent": body["recent"], "seq": body["seq"]}

    def call_ids(self) -> list[str]:
        return [c["id"] for c in self.calls()]

    def simulate(
        self,
        ani: str = "+14155550100",
        dnis: str = "8005550199",
        data: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {"ani": ani, "dnis": dnis}
        if data is not None:
            body["data"] = data
        out = api(self.server, "POST", f"/api/agents/{self.agent}/simulate-call", body)
        assert out["success"] is True
        return out["callId"]

    def hangup(self, call_id: str) -> None:
        out = api(
            self.server,
            "POST",
            f"/api/agents/{self.agent}/cti-message",
            {"message": f"/HANGUP?CALL_ID={call_id}"},
        )
        assert out["success"] is True


def open_console(page: Any, server: Any, agent: str) -> Console:
    page.goto(server.console_url(agent))
    h1 = Harness(find_frame(page, is_harness()))
    h2 = Harness(find_frame(page, is_harness("second")))
    h1.wait_ready()
    h2.wait_ready()
    return Console(page, server, agent, h1, h2)


@pytest.fixture
def console(page: Any, ctikit_server: Any, agent: str) -> Console:
    return open_console(page, ctikit_server, agent)
