"""The console's workspace: primary tabs and subtabs, as the agent and the console's parts use them.

`CtikitConsole.workspace` is the console's own API (other parts build screen pops and Open
CTI navigation on it); the tab strip is used by keyboard and mouse, as an agent would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
Harness, console, find_frame, wait_until = lib.Harness, lib.console, lib.find_frame, lib.wait_until

WS = "CtikitConsole.workspace"


def _page_url(server: Any, name: str) -> str:
    return f"{server.component_url}/components/harness.html?v=66&name={name}"


def _open(page: Any, method: str, *args: Any) -> Any:
    return page.evaluate(f"args => {WS}.{method}(...args)", list(args))


def _error(page: Any, method: str, *args: Any) -> str:
    """The message a workspace method throws (it must throw)."""
    out = page.evaluate(
        f"args => {{ try {{ {WS}.{method}(...args); return null; }}"
        " catch (e) { return String(e.message); } }",
        list(args),
    )
    assert out is not None, f"{method}{args} did not refuse"
    return str(out)


def _strip(page: Any, selector: str = "[data-testid=primary-tabs]") -> list[dict[str, Any]]:
    return page.evaluate(
        """sel => [...document.querySelector(sel).querySelectorAll('[role=tab]')].map(t => ({
            id: t.dataset.tabId, text: t.textContent, selected: t.getAttribute('aria-selected'),
            tabindex: t.tabIndex, controls: t.getAttribute('aria-controls'),
            panelHidden: document.getElementById(t.getAttribute('aria-controls')).hidden}))""",
        selector,
    )


def test_primary_tabs_and_subtabs_open_focus_and_close(console: Any, ctikit_server: Any) -> None:
    page = console.page
    focus_log = page.evaluate(
        f"() => {{ window.FOCUS = []; {WS}.onFocusChange(f => FOCUS.push(f)); return true; }}"
    )
    assert focus_log is True
    first = _open(
        page,
        "openPrimaryTab",
        {"url": _page_url(ctikit_server, "a"), "title": "Acme", "name": "acme"},
    )
    assert first == "scc-pt-0"
    second = _open(
        page,
        "openPrimaryTab",
        {"url": _page_url(ctikit_server, "b"), "title": "Globex", "focus": False},
    )
    assert second == "scc-pt-1"
    sub = _open(
        page, "openSubtab", first, {"url": _page_url(ctikit_server, "c"), "title": "Case 42"}
    )
    assert sub.startswith("scc-st-")
    assert _open(page, "getFocused") == {"primaryId": first, "subtabId": sub}

    # The strip: two primary tabs, the first selected (and the only one Tab reaches).
    strip = _strip(page)
    assert [(t["id"], t["text"], t["selected"], t["tabindex"]) for t in strip] == [
        (first, "Acme", "true", 0),
        (second, "Globex", "false", -1),
    ]
    assert [t["panelHidden"] for t in strip] == [False, True]
    subs = _strip(page, f"[data-testid=subtabs-{first}]")
    assert [(t["text"], t["selected"]) for t in subs] == [("Acme", "false"), ("Case 42", "true")]
    tabs = _open(page, "tabs")
    assert [(p["id"], p["name"], p["focused"], len(p["subtabs"])) for p in tabs] == [
        (first, "acme", True, 2),
        (second, None, False, 1),
    ]
    # The pages load with the bridge's parameters (so integration.js works in them).
    find_frame(page, lambda u: "name=c" in u and "nonce=" in u)

    # Focus events: primaryId, subtabId, url, title, objectId.
    events = page.evaluate("() => FOCUS")
    assert events[0]["primaryId"] == first and events[0]["title"] == "Acme"
    assert events[-1]["subtabId"] == sub and events[-1]["url"] == _page_url(ctikit_server, "c")
    assert set(events[-1]) == {"primaryId", "subtabId", "url", "title", "objectId"}

    _open(page, "focusTab", second)
    assert _open(page, "getFocused")["primaryId"] == second
    assert page.evaluate("() => FOCUS[FOCUS.length - 1].primaryId") == second
    _open(page, "setTitle", second, "Initech")
    assert page.get_by_test_id(f"tab-{second}").inner_text() == "Initech"

    _open(page, "closeTab", second)
    assert _open(page, "getFocused") == {"primaryId": first, "subtabId": sub}
    # Closing a primary tab's first subtab closes the primary tab.
    main = tabs[0]["subtabs"][0]["id"]
    _open(page, "closeTab", main)
    assert _open(page, "tabs") == []
    assert _open(page, "getFocused") == {"primaryId": None, "subtabId": None}
    assert page.evaluate("() => FOCUS[FOCUS.length - 1]") == {
        "primaryId": None,
        "subtabId": None,
        "url": None,
        "title": None,
        "objectId": None,
    }
    assert page.get_by_test_id("tabs-empty").is_visible()
    assert page.page_errors == []


def test_keyboard_moves_between_tabs_and_delete_closes(console: Any, ctikit_server: Any) -> None:
    page = console.page
    ids = [
        _open(page, "openPrimaryTab", {"url": _page_url(ctikit_server, n), "title": n.upper()})
        for n in ("k1", "k2", "k3")
    ]
    page.get_by_test_id(f"tab-{ids[2]}").focus()
    page.keyboard.press("ArrowRight")  # wraps to the first
    assert page.evaluate("() => document.activeElement.dataset.tabId") == ids[0]
    assert _open(page, "getFocused")["primaryId"] == ids[0]
    page.keyboard.press("End")
    assert _open(page, "getFocused")["primaryId"] == ids[2]
    page.keyboard.press("ArrowLeft")
    assert _open(page, "getFocused")["primaryId"] == ids[1]
    page.keyboard.press("Delete")
    assert [t["id"] for t in _open(page, "tabs")] == [ids[0], ids[2]]
    # Keyboard focus stays in the strip, on the tab selected now.
    assert page.evaluate("() => document.activeElement.dataset.tabId") == ids[2]
    page.get_by_test_id(f"close-{ids[0]}").click()
    assert [t["id"] for t in _open(page, "tabs")] == [ids[2]]
    page.get_by_test_id(f"tab-{ids[2]}").click()
    assert page.evaluate("() => document.activeElement.dataset.tabId") == ids[2]


def test_hostile_urls_and_titles(console: Any, ctikit_server: Any) -> None:
    page = console.page
    for url in (
        "javascript:alert(1)",
        " JavaScript:parent.PWNED=1",
        "data:text/html,<script>parent.PWNED=1</script>",
        "blob:http://127.0.0.1/x",
        "about:blank",
    ):
        assert "only http(s) pages" in _error(page, "openPrimaryTab", {"url": url})
    assert "not an allowed origin" in _error(
        page, "openPrimaryTab", {"url": "https://evil.example/x"}
    )
    assert "non-empty string" in _error(page, "openPrimaryTab", {"url": ""})
    assert _open(page, "tabs") == []

    title = '<img src=x onerror="parent.PWNED=1"><b>bold</b>'
    tab = _open(page, "openPrimaryTab", {"url": _page_url(ctikit_server, "h"), "title": title})
    assert page.get_by_test_id(f"tab-{tab}").inner_text() == title
    assert page.evaluate("() => document.querySelectorAll('#tabs img, #tabs b').length") == 0
    assert page.evaluate("() => window.PWNED") is None
    # Unknown IDs are refused with their name.
    assert "no open tab has the ID" in _error(page, "focusTab", "scc-pt-999")
    assert "no open tab has the ID" in _error(page, "closeTab", "__proto__")


def test_tabs_survive_a_reload(console: Any, ctikit_server: Any) -> None:
    page = console.page
    first = _open(page, "openPrimaryTab", {"url": _page_url(ctikit_server, "r1"), "title": "One"})
    sub = _open(page, "openSubtab", first, {"url": _page_url(ctikit_server, "r2"), "title": "Two"})
    second = _open(
        page, "openPrimaryTab", {"url": _page_url(ctikit_server, "r3"), "title": "Three"}
    )
    page.reload()
    wait_until(
        lambda: page.evaluate(f"() => !!window.CtikitConsole && !!{WS} && {WS}.tabs().length"), page
    )
    tabs = _open(page, "tabs")
    assert [(p["id"], p["title"]) for p in tabs] == [(first, "One"), (second, "Three")]
    assert [s["id"] for s in tabs[0]["subtabs"]][1] == sub
    assert _open(page, "getFocused")["primaryId"] == second
    # New IDs go on from the old ones.
    assert _open(page, "openPrimaryTab", {"url": _page_url(ctikit_server, "r4")}) == "scc-pt-2"
    # (A page in a background tab: no animation frames, so waits poll by time.)
    h = Harness(find_frame(page, lambda u: "name=r2" in u and "nonce=" in u), polling=50)
    h.wait_ready()


def test_screenshot_with_tabs_open(console: Any, ctikit_server: Any) -> None:
    """The console during a call with tabs open (test-artifacts/workspace-tabs.png; the copy
    in docs/img comes from here)."""
    page = console.page
    call = console.simulate(data={"customer": "Acme Corp", "caseNumber": "00042"})
    console.h1.ok("cti.sendCTIMessage", f"/ANSWER?CALL_ID={call}")
    card = f"{ctikit_server.component_url}/examples/caller-card/index.html"
    first = _open(page, "openPrimaryTab", {"url": card, "title": "Acme Corp"})
    _open(page, "openSubtab", first, {"url": _page_url(ctikit_server, "s2"), "title": "Case 00042"})
    _open(page, "openPrimaryTab", {"url": _page_url(ctikit_server, "s3"), "focus": False})
    _open(
        page,
        "openPrimaryTab",
        {"url": _page_url(ctikit_server, "s4"), "title": "A very long title " * 5, "focus": False},
    )
    _open(page, "focusTab", _open(page, "tabs")[0]["subtabs"][0]["id"])
    box = page.get_by_test_id(f"frame-{_open(page, 'getFocused')['subtabId']}").bounding_box()
    assert box is not None and box["height"] >= 300 and box["width"] >= 500
    page.wait_for_timeout(500)  # the caller card fills in
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "workspace-tabs.png"))


def test_a_loop_of_opens_is_stopped(console: Any, ctikit_server: Any) -> None:
    """Every page is an iframe: 30 primary tabs at most, then a clear refusal."""
    page = console.page
    # A page of the console's own origin that loads nothing heavy.
    url = f"{ctikit_server.url}/api/health"
    opened = page.evaluate(
        """url => { const ids = []; let error = null;
            for (let i = 0; i < 40 && !error; i++) {
                try { ids.push(CtikitConsole.workspace.openPrimaryTab({url, focus: false})); }
                catch (e) { error = e.message; } }
            return {count: ids.length, error}; }""",
        url,
    )
    assert opened == {"count": 30, "error": "too many primary tabs open (30): close some first"}
    first = _open(page, "tabs")[0]["id"]
    for _ in range(19):
        _open(page, "openSubtab", first, {"url": url, "focus": False})
    assert "too many subtabs open in scc-pt-0 (20)" in _error(
        page, "openSubtab", first, {"url": url}
    )
    second = _open(page, "tabs")[1]["id"]
    for _ in range(11):  # 30 + 19 + 11 = 60 pages
        _open(page, "openSubtab", second, {"url": url, "focus": False})
    assert "too many tabs open (60 pages)" in _error(page, "openSubtab", second, {"url": url})
    _open(page, "closeTab", first)
    assert _open(page, "openPrimaryTab", {"url": url}) == "scc-pt-30"
