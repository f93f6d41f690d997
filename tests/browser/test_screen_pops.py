"""Screen pops: a call of a configured type opens a primary tab with the call's ANI, DNIS and
attached data in its URL (URL-encoded) and title (as text), once per call.

Runs its own ctikit server (module scope, demo mode: no sign-in) with [[screen_pops]] rules
in a config file; the popped page is the test harness on the component server (another
origin, allowed because a rule names it).
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctikit.testing import CtikitProcess

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
Harness, api, find_frame, stays, wait_until = (
    lib.Harness,
    lib.api,
    lib.find_frame,
    lib.stays,
    lib.wait_until,
)
ROOT = Path(__file__).resolve().parents[2]


class PopServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, method: str, path: str, body: Any = None, **_: Any) -> tuple[int, Any]:
        import json
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def pop_server(tmp_path_factory: pytest.TempPathFactory, ctikit_server: Any) -> Iterator[PopServer]:
    tmp = tmp_path_factory.mktemp("pops")
    harness = f"{ctikit_server.component_url}/components/harness.html?v=66"
    inbound = (
        harness + "&name=pop&ani={ANI}&dnis={DNIS}&case={data.caseId}&note={data.note}&n={data.n}"
    )
    (tmp / "ctikit.toml").write_text(f"""
[server]
demo = true

[[screen_pops]]
call_type = "inbound"
url = "{inbound}"
title = "Call from {{ANI}} {{data.note}}"

[[screen_pops]]
call_type = "outbound"
on = "ring"
url = "{harness}&name=dialled&to={{DNIS}}&id={{CALL_ID}}&type={{CALL_TYPE}}"
""")
    server = CtikitProcess(
        ["serve", "--config", str(tmp / "ctikit.toml"), "--host", "127.0.0.1", "--port", "0",
         "--database", f"sqlite:///{tmp / 'pops.db'}"],
        tmp / "server.log",
        cwd=ROOT,
    )  # fmt: skip
    yield PopServer(server.url)
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


def _params(frame: Any) -> dict[str, str]:
    query = urllib.parse.urlsplit(frame.url).query
    return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))


def _tabs(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => CtikitConsole.workspace.tabs()"))


def _open(page: Any, server: PopServer, agent: str) -> None:
    page.goto(f"{server.url}/console?agent={agent}")
    page.wait_for_function("() => !!(window.CtikitConsole && CtikitConsole.config)")


def test_an_answered_call_pops_its_page_with_ani_and_data(
    page: Any, pop_server: PopServer, agent: str
) -> None:
    _open(page, pop_server, agent)
    note = '<b>VIP</b> & "more" #1 /?x=y'
    call = api(
        pop_server,
        "POST",
        f"/api/agents/{agent}/simulate-call",
        {
            "ani": "+14155550123",
            "dnis": "8005550199",
            "data": {"caseId": "00042&x=1", "note": note, "n": 7},
        },
    )["callId"]
    page.get_by_test_id("lines").get_by_text("+1 415-555-0123").first.wait_for()
    # The rule pops on answer: nothing while it rings.
    assert stays(lambda: _tabs(page) == [], page)
    api(
        pop_server,
        "POST",
        f"/api/agents/{agent}/cti-message",
        {"message": f"/ANSWER?CALL_ID={call}"},
    )
    tabs = wait_until(lambda: _tabs(page), page)
    assert len(tabs) == 1 and tabs[0]["focused"] is True
    assert tabs[0]["title"] == f"Call from +14155550123 {note}"
    tab = page.get_by_test_id(f"tab-{tabs[0]['id']}")
    assert tab.inner_text() == f"Call from +14155550123 {note}"
    assert page.evaluate("() => document.querySelectorAll('#tabs b').length") == 0
    # Every value arrived whole: URL-encoded in the URL, decoded by the page.
    frame = find_frame(page, lambda u: "name=pop" in u and "nonce=" in u)
    params = _params(frame)
    assert params["ani"] == "+14155550123"
    assert params["dnis"] == "8005550199"
    assert params["case"] == "00042&x=1"
    assert params["note"] == note
    assert params["n"] == "7"
    assert "x" not in params  # the & in the data did not start a parameter
    # The page can use the API: it is in the tab the pop opened.
    h = Harness(frame, polling=50)
    h.wait_ready()
    assert h.plain(h.call("getEnclosingPrimaryTabId")) == {"success": True, "id": tabs[0]["id"]}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / "screen-pop.png"))

    # Once per call: more events for it, and a reload, pop nothing more.
    api(
        pop_server, "POST", f"/api/agents/{agent}/cti-message", {"message": f"/HOLD?CALL_ID={call}"}
    )
    page.reload()
    page.wait_for_function("() => !!(window.CtikitConsole && CtikitConsole.config)")
    wait_until(lambda: len(_tabs(page)) == 1, page)
    assert stays(lambda: len(_tabs(page)) == 1, page)
    assert page.page_errors == []


def test_an_outbound_call_pops_when_dialled(page: Any, pop_server: PopServer, agent: str) -> None:
    _open(page, pop_server, agent)
    api(pop_server, "POST", f"/api/agents/{agent}/cti-message", {"message": "/DIAL?NUMBER=5551234"})
    tabs = wait_until(lambda: _tabs(page), page)
    frame = find_frame(page, lambda u: "name=dialled" in u)
    params = _params(frame)
    assert params["to"] == "5551234" and params["type"] == "OUTBOUND" and params["id"]
    assert tabs[0]["title"] == "External Page"  # the rule has no title
    # Another call without a matching rule (internal) pops nothing.
    assert stays(lambda: len(_tabs(page)) == 1, page)


def test_the_config_reaches_the_console(pop_server: PopServer, agent: str) -> None:
    cfg = api(pop_server, "GET", f"/api/console/config?agent={agent}")
    ws = cfg["workspace"]
    assert [r["callType"] for r in ws["screenPops"]] == ["INBOUND", "OUTBOUND"]
    assert [r["on"] for r in ws["screenPops"]] == ["answer", "ring"]
    assert {"field": "ani"} in ws["screenPops"][0]["url"]
    assert {"data": "caseId"} in ws["screenPops"][0]["url"]
    assert len(ws["allowedOrigins"]) == 1 and ws["allowedOrigins"][0].startswith(
        "http://localhost:"
    )
