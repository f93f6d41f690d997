"""sforce.console's tab methods as components use them, written from the developer guide.

A component in a side slot (harness, API 66; harness2, API 31) and pages opened in tabs (the
same harness page, so they can call the API too) open primary tabs and subtabs, read their
IDs, focus, rename, refresh and close them, and hear the focus events. Expected values come
from the guide: argument orders, result fields (`success`, `id`, `ids`, `pageInfo` as a JSON
string), the "scc-pt-N" / "scc-st-N" ID forms of its samples, and what a custom console
component outside any tab gets.
"""

from __future__ import annotations

import json
import sys
from typing import Any

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
Console, Harness, console, find_frame = lib.Console, lib.Harness, lib.console, lib.find_frame
stays, wait_until = lib.stays, lib.wait_until


def _url(server: Any, name: str, version: int = 66) -> str:
    return f"{server.component_url}/components/harness.html?v={version}&name={name}"


def _tab_page(page: Any, name: str) -> Any:
    """The harness loaded in a tab as ``name``, ready. (It may be in a background tab, where
    no animation frames run: its waits poll by time.)"""
    h = Harness(
        find_frame(page, lambda u: f"name={name}&" in u + "&" and "nonce=" in u), polling=50
    )
    h.wait_ready()
    return h


def _ids(h: Any, key: str) -> list[str]:
    """The ``ids`` of call ``key``'s result (which must succeed), as a list."""
    assert h.result(key)["fields"]["success"]["value"] is True
    return list(h.eval("k => Array.from(H.results[k][0].ids)", key))


def _tabs(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => CtikitConsole.workspace.tabs()"))


def test_open_read_focus_rename_close(console: Console, ctikit_server: Any) -> None:
    h = console.h1
    # The guide's openPrimaryTab sample: (null, url, active, tabLabel, callback, name).
    opened = h.plain(
        h.call_js(
            "openPrimaryTab",
            f"[null, {json.dumps(_url(ctikit_server, 'acme'))}, true, 'Acme', 'acmeTab']",
            cb=4,
        )
    )
    assert opened == {"success": True, "id": "scc-pt-0"}
    primary = opened["id"]
    # openSubtab(primaryTabId, url, active, tabLabel, id, callback, name)
    sub = h.plain(
        h.call_js(
            "openSubtab",
            f"['{primary}', {json.dumps(_url(ctikit_server, 'case'))}, true, 'Case 42', null,"
            " 'caseTab']",
            cb=5,
        )
    )
    assert sub["success"] is True and sub["id"].startswith("scc-st-")
    # In the background: focus stays where it is.
    other = h.plain(h.call("openPrimaryTab", None, _url(ctikit_server, "globex"), False, "Globex"))
    assert other == {"success": True, "id": "scc-pt-1"}

    assert h.plain(h.call("getFocusedPrimaryTabId")) == {"success": True, "id": primary}
    assert h.plain(h.call("getFocusedSubtabId")) == {"success": True, "id": sub["id"]}
    ids = h.call("getPrimaryTabIds")
    assert h.plain(ids)["success"] is True
    assert _ids(h, ids) == [primary, other["id"]]
    subtabs = h.call("getSubtabIds", primary)
    main_subtab = _ids(h, subtabs)[0]
    assert _ids(h, subtabs) == [main_subtab, sub["id"]]  # the first subtab is the primary's page

    # A page in a tab knows where it is.
    case_page = _tab_page(console.page, "case")
    assert case_page.plain(case_page.call("getEnclosingTabId")) == {
        "success": True,
        "id": sub["id"],
    }
    assert case_page.plain(case_page.call("getEnclosingPrimaryTabId")) == {
        "success": True,
        "id": primary,
    }
    acme_page = _tab_page(console.page, "acme")
    assert acme_page.plain(acme_page.call("getEnclosingTabId")) == {
        "success": True,
        "id": main_subtab,
    }
    # getSubtabIds() with no ID from a page: its own primary tab's.
    own = case_page.call("getSubtabIds", None)
    assert _ids(case_page, own) == [main_subtab, sub["id"]]

    # Focus by ID and by name; a name nobody has fails (what real code checks before opening).
    h.ok("focusPrimaryTabById", other["id"])
    assert h.plain(h.call("getFocusedPrimaryTabId"))["id"] == other["id"]
    h.ok("focusPrimaryTabByName", "acmeTab")
    assert h.plain(h.call("getFocusedPrimaryTabId"))["id"] == primary
    missing = h.plain(h.call("focusPrimaryTabByName", "noSuchTab"))
    assert missing["success"] is False and "noSuchTab" in missing["error"]
    h.ok("focusSubtabById", main_subtab)
    assert h.plain(h.call("getFocusedSubtabId"))["id"] == main_subtab
    h.ok("focusSubtabByNameAndPrimaryTabName", "caseTab", "acmeTab")
    assert h.plain(h.call("getFocusedSubtabId"))["id"] == sub["id"]

    # setTabTitle(title, tabId): no callback, no result.
    returned = h.eval(f"() => sforce.console.setTabTitle('Acme Corp', '{primary}')")
    assert returned is None
    tab = console.page.get_by_test_id(f"tab-{primary}")
    wait_until(lambda: tab.inner_text() == "Acme Corp", console.page)
    # From a page, without an ID: its own tab.
    case_page.eval("() => sforce.console.setTabTitle('Case 00042')")
    wait_until(
        lambda: console.page.get_by_test_id(f"tab-{sub['id']}").inner_text() == "Case 00042",
        console.page,
    )

    # closeTab: a subtab, then (by its first subtab) the primary tab.
    h.ok("closeTab", sub["id"])
    assert [len(p["subtabs"]) for p in _tabs(console.page)] == [1, 1]
    h.ok("closeTab", main_subtab)
    assert [p["id"] for p in _tabs(console.page)] == [other["id"]]
    gone = h.plain(h.call("closeTab", primary))
    assert gone["success"] is False and primary in gone["error"]
    h.ok("closeTab", other["id"])
    # No tab open: the focused IDs are null; the ID list is empty and reads as "null".
    assert h.plain(h.call("getFocusedPrimaryTabId")) == {"success": True, "id": None}
    empty = h.result(h.call("getPrimaryTabIds"))
    assert empty["fields"]["ids"]["length"] == 0 and empty["fields"]["ids"]["string"] == "null"
    assert console.page.page_errors == []


def test_side_component_has_no_enclosing_tab(console: Console, ctikit_server: Any) -> None:
    """Custom console components are in no tab: the enclosing-tab methods fail with id null;
    getPageInfo needs a tab ID from them (as the guide says)."""
    h = console.h1
    for method in (
        "getEnclosingTabId",
        "getEnclosingPrimaryTabId",
        "getEnclosingPrimaryTabObjectId",
    ):
        got = h.plain(h.call(method))
        assert got["success"] is False and got["id"] is None and "not in a tab" in got["error"]
    info = h.plain(h.call("getPageInfo", None))
    assert info["success"] is False and info["pageInfo"] is None
    tab = h.plain(h.call("openPrimaryTab", None, _url(ctikit_server, "info"), True, "Info"))
    info = h.plain(h.call("getPageInfo", tab["id"]))
    assert info["success"] is True and isinstance(info["pageInfo"], str)
    parsed = json.loads(info["pageInfo"])
    assert parsed["url"] == _url(ctikit_server, "info")
    assert parsed["objectName"] == "Info"
    assert parsed["objectId"] == ""
    # From the page itself, getPageInfo(null) is its own tab's.
    page = _tab_page(console.page, "info")
    own = json.loads(page.plain(page.call("getPageInfo", None))["pageInfo"])
    assert own["url"] == _url(ctikit_server, "info")


def test_focus_events_carry_id_and_object_id(console: Console, ctikit_server: Any) -> None:
    """onFocusedPrimaryTab / onFocusedSubtab: {id, objectId} when focus moves, in every frame
    (a 31.0 component too); nothing when focus stays where it is."""
    h, h2 = console.h1, console.h2
    primary_events = h.listen("onFocusedPrimaryTab")
    subtab_events = h.listen("onFocusedSubtab")
    old_events = h2.listen("onFocusedPrimaryTab")
    first = h.plain(h.call("openPrimaryTab", None, _url(ctikit_server, "f1"), True, "One"))["id"]
    assert h.events(primary_events, 1) == [{"id": first, "objectId": None}]
    main1 = _ids(h, h.call("getSubtabIds", first))[0]
    assert h.events(subtab_events, 1) == [{"id": main1, "objectId": None}]
    assert h2.events(old_events, 1) == [{"id": first, "objectId": None}]

    second = h.plain(h.call("openPrimaryTab", None, _url(ctikit_server, "f2"), False, "Two"))["id"]
    sub = h.plain(h.call("openSubtab", first, _url(ctikit_server, "f3"), True, "Three", None))
    assert h.events(subtab_events, 2)[-1] == {"id": sub["id"], "objectId": None}
    # Opened in the background, a subtab moved focus only within its primary tab.
    assert stays(lambda: h.event_count(primary_events) == 1, console.page)

    # The agent clicks the other primary tab: both events.
    console.page.get_by_test_id(f"tab-{second}").click()
    assert h.events(primary_events, 2)[-1] == {"id": second, "objectId": None}
    main2 = _ids(h, h.call("getSubtabIds", second))[0]
    assert h.events(subtab_events, 3)[-1] == {"id": main2, "objectId": None}
    # A page in a tab hears them too.
    page = _tab_page(console.page, "f1")
    in_tab = page.listen("onFocusedPrimaryTab")
    h.ok("focusPrimaryTabById", first)
    assert page.events(in_tab, 1) == [{"id": first, "objectId": None}]
    # Focusing the focused tab again is no change: no event.
    h.ok("focusPrimaryTabById", first)
    assert stays(lambda: h.event_count(primary_events) == 3, console.page)
    assert console.page.page_errors == []


def test_refresh_reloads_pages_and_tells_them(console: Console, ctikit_server: Any) -> None:
    """refreshSubtabById / refreshPrimaryTabById reload the pages; a reloaded page's
    onEnclosingTabRefresh handler hears {id, objectId} of its tab."""
    h = console.h1
    primary = h.plain(
        h.call("openPrimaryTab", None, _url(ctikit_server, "r1") + "&refresh=1", True)
    )
    sub = h.plain(
        h.call(
            "openSubtab",
            primary["id"],
            _url(ctikit_server, "r2") + "&refresh=1",
            False,
            "Sub",
            None,
        )
    )
    subtab_page = _tab_page(console.page, "r2")
    subtab_page.eval("() => { window.MARK = 1; }")
    assert h.plain(h.call("refreshSubtabById", sub["id"], False)) == {"success": True}
    # The page loads again (the mark is gone) and hears that its tab was refreshed.
    reloaded = wait_until(
        lambda: next(
            (
                f
                for f in console.page.frames
                if "name=r2" in f.url and f.evaluate("() => !!window.H && H.loaded && !window.MARK")
            ),
            None,
        ),
        console.page,
    )
    again = Harness(reloaded, polling=50)
    again.wait_ready()
    # (harness.html registers onEnclosingTabRefresh at load when the URL has refresh=1.)
    events = again.events("tabRefresh", 1)
    assert events == [{"id": sub["id"], "objectId": None}]
    # Not focused by a refresh with active=false.
    assert h.plain(h.call("getFocusedSubtabId"))["id"] != sub["id"]
    # A primary tab's refresh reloads every page in it; active=true focuses it.
    h.ok("refreshPrimaryTabById", primary["id"], True)
    assert h.plain(h.call("getFocusedPrimaryTabId"))["id"] == primary["id"]
    missing = h.plain(h.call("refreshSubtabById", "scc-st-999", True))
    assert missing["success"] is False and "scc-st-999" in missing["error"]


def test_bad_arguments_fail_with_a_reason_and_never_throw(
    console: Console, ctikit_server: Any
) -> None:
    h = console.h1

    def fails(method: str, args_js: str, cb: int | None, *words: str) -> dict[str, Any]:
        got = h.plain(h.call_js(method, args_js, cb=cb))
        assert got["success"] is False, (method, args_js, got)
        assert all(w in got["error"] for w in words), (method, args_js, got)
        return got

    url = json.dumps(_url(ctikit_server, "ok"))
    for bad_url, words in (
        ("'javascript:alert(1)'", ("only http(s)",)),
        ("'  JAVASCRIPT:parent.PWNED=1'", ("only http(s)",)),
        ("'data:text/html,<script>parent.PWNED=1</script>'", ("only http(s)",)),
        ("'https://evil.example/x'", ("https://evil.example", "not an allowed origin")),
        ("{}", ("url must be a non-empty string", "an object")),
        ("''", ("url must be a non-empty string",)),
        ("undefined", ("url must be a non-empty string",)),
    ):
        assert fails("openPrimaryTab", f"[null, {bad_url}, true, 'x']", 4, *words)["id"] is None
    fails("openPrimaryTab", f"[null, {url}, true, {{label: 1}}]", 4, "tabLabel must be a string")
    fails("openPrimaryTab", f"['scc-pt-999', {url}, true, 'x']", 4, "scc-pt-999")
    fails("openSubtab", f"['scc-pt-999', {url}, true, 'x', null]", 5, "scc-pt-999")
    fails("openSubtab", f"[undefined, {url}, true, 'x', null]", 5, "primaryTabId")
    fails("openSubtabByPrimaryTabName", f"['nobody', {url}, true, 'x', null]", 5, "nobody")
    fails("closeTab", "[{}]", 1, "id must be a non-empty string")
    fails("closeTab", "[404]", 1, '"404"')
    fails("focusSubtabById", "['__proto__']", 1, "__proto__")
    fails("getSubtabIds", "['constructor']", 1, "constructor")
    fails("getPageInfo", "['toString']", 1, "toString")
    assert h.eval("() => window.PWNED") is None
    assert console.page.evaluate("() => CtikitConsole.workspace.tabs()") == []

    # A primary tab's ID is not a subtab's and the other way round.
    tab = h.plain(h.call_js("openPrimaryTab", f"[null, {url}, true, 'ok']", cb=4))["id"]
    main = _ids(h, h.call("getSubtabIds", tab))[0]
    fails("focusSubtabById", f"['{tab}']", 1, tab)
    fails("focusPrimaryTabById", f"['{main}']", 1, main)
    fails("openSubtab", f"['{main}', {url}, true, 'x', null]", 5, main)

    # A callback that is not a function: nothing is done (and nothing thrown).
    h.call_js("openPrimaryTab", f"[null, {url}, true, 'x', 'not a function']", cb=-1)
    assert stays(lambda: len(_tabs(console.page)) == 1, console.page)
    # A callback given where an optional argument was left out is still the callback.
    early = h.plain(h.call_js("openPrimaryTab", f"[null, {url}, true]", cb=3))
    assert early["success"] is True and early["id"] == "scc-pt-1"
    early_sub = h.plain(h.call_js("openSubtab", f"['{tab}', {url}, true, 'Sub']", cb=4))
    assert early_sub["success"] is True
    assert console.page.page_errors == []


def test_hostile_titles_are_text_and_relative_urls_are_the_components(
    console: Console, ctikit_server: Any
) -> None:
    h = console.h1
    title = '<img src=x onerror="parent.PWNED=1"><script>parent.PWNED=2</script>&amp; "Acme"'
    # A relative URL is relative to the component's own page (its origin is allowed).
    got = h.plain(h.call("openPrimaryTab", None, "harness.html?v=66&name=relative", True, title))
    assert got["success"] is True
    tab = console.page.get_by_test_id(f"tab-{got['id']}")
    assert tab.inner_text() == title
    h.eval(f"() => sforce.console.setTabTitle({json.dumps(title + '!')}, '{got['id']}')")
    wait_until(lambda: tab.inner_text() == title + "!", console.page)
    assert (
        console.page.evaluate("() => document.querySelectorAll('#tabs img, #tabs script').length")
        == 0
    )
    info = json.loads(h.plain(h.call("getPageInfo", got["id"]))["pageInfo"])
    assert info["url"] == _url(ctikit_server, "relative")
    assert info["objectName"] == title + "!"
    _tab_page(console.page, "relative")
    assert console.page.evaluate("() => window.PWNED") is None
    # Control characters do not reach the strip; an empty title puts back the default.
    h.eval(f"() => sforce.console.setTabTitle('a\\u0000b\\nc', '{got['id']}')")
    wait_until(lambda: tab.inner_text() == "a b c", console.page)
    h.eval(f"() => sforce.console.setTabTitle('', '{got['id']}')")
    wait_until(lambda: tab.inner_text() == "External Page", console.page)
    assert console.page.page_errors == []
