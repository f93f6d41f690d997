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
    """The harness loaded in a tab as ``name``, ready."""
    h = Harness(find_frame(page, lambda u: f"name={name}" in u and "nonce=" in u))
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
