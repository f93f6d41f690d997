"""The rest of sforce.console as real pages use it, checked against the developer guide.

Expected values here are written from the Salesforce Console Integration Toolkit developer
guide (member names, first versions, argument forms, documented result fields) and the
original script's enum values, not derived from ctikit's own tables.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
Console, Harness, console, find_frame = lib.Console, lib.Harness, lib.console, lib.find_frame
stays, wait_until = lib.stays, lib.wait_until

NOT_SUPPORTED = "not supported by ctikit"
FAILED = {"success": False, "error": NOT_SUPPORTED}
NOT_IN_CONSOLE = {"success": False, "error": "not in console"}

# Calls every answer of which is collected: [name, thunk] pairs run in the component.
RUN_ALL_JS = """async calls => Promise.all(calls.map(([name, src]) => new Promise(resolve => {
    const got = [];
    const record = r => got.push(r);
    let threw = null;
    try { (new Function('record', src))(record); } catch (e) { threw = String(e); }
    setTimeout(() => resolve([name, threw, JSON.parse(JSON.stringify(got))]), 80);
})))"""


def _run_all(h: Any, calls: dict[str, str]) -> dict[str, Any]:
    out = h.eval(RUN_ALL_JS, list(calls.items()))
    for name, threw, _ in out:
        assert threw is None, f"{name} threw {threw}"
    return {name: got for name, _, got in out}


# ----------------------------------------------------------------- pages written for 20.0-23.0


@pytest.mark.parametrize("version", [20, 21, 22, 23])
def test_page_written_for_an_early_version_runs(
    page: Any, ctikit_server: Any, version: int
) -> None:
    """The guide's first sample page, outside a console: the script loads (no 404), the page
    runs to its end (no ReferenceError), and every callback hears a failure with its fields."""
    page.goto(f"{ctikit_server.component_url}/components/legacy-page.html?v={version}")
    page.wait_for_function("() => window.DONE === true")
    wait_until(lambda: len(page.evaluate("() => LOG")) >= (3 if version < 22 else 5), page)
    page.wait_for_timeout(100)
    log = dict((name, result) for name, result in page.evaluate("() => LOG"))
    # The tab methods are real: outside a console they say so, with their documented fields.
    assert log["openPrimaryTab"] == NOT_IN_CONSOLE | {"id": None}
    assert log["getEnclosingPrimaryTabId"] == NOT_IN_CONSOLE | {"id": None}
    assert log["getEnclosingTabId"] == NOT_IN_CONSOLE | {"id": None}
    # ...and the page then passes the null ID it got: refused before anything is sent.
    assert log["openSubtab"] == {
        "success": False,
        "id": None,
        "error": "primaryTabId must be a non-empty string, got null",
    }
    if version >= 22:  # isInConsole() and the focus methods are 22.0 members
        assert log["isInConsole"] is False
        assert log["focusPrimaryTabById"] == NOT_IN_CONSOLE
    else:
        assert "isInConsole" not in log and "focusPrimaryTabById" not in log
    if version >= 23:
        assert log["setTabUnsavedChanges"] == FAILED
    else:
        assert "setTabUnsavedChanges" not in log
    # Members of later versions are not defined; there is no CTI object before 24.0.
    assert (
        page.evaluate(
            "() => [typeof sforce.console.cti, typeof sforce.console.getFocusedPrimaryTabId,"
            " typeof sforce.console.addEventListener, typeof sforce.console.ConsoleEvent]"
        )
        == ["undefined"] * 4
    )
    assert page.page_errors == []


@pytest.mark.parametrize("version", [22, 23])
def test_early_version_in_a_console(page: Any, ctikit_server: Any, version: int) -> None:
    """isInConsole() (22.0) is true inside a console."""
    page.goto(f"{ctikit_server.component_url}/components/fake-console.html?v={version}")
    h = Harness(find_frame(page, lambda u: "name=fake" in u))
    h.wait_loaded()
    assert h.eval("() => sforce.console.isInConsole()") is True
    # closeTab (20.0) is carried out by the console: one `tab` request naming the method.
    assert h.plain(h.call("closeTab", "scc-st-0")) == {"success": True}
    sent = page.evaluate("() => FC.requests.filter(r => r.op === 'tab')")
    assert [(r["method"], r["args"]) for r in sent] == [("closeTab", {"id": "scc-st-0"})]
    # setTabUnsavedChanges (23.0) is not: its callback hears so.
    if version >= 23:
        assert h.plain(h.call("setTabUnsavedChanges", True)) == FAILED
    assert page.page_errors == []


def test_early_versions_are_served(ctikit_server: Any) -> None:
    for version in (20, 21, 22, 23):
        status, body = ctikit_server.api("GET", f"/support/console/{version}.0/integration.js")
        assert status == 200 and "sforce" in body, version
    status, _ = ctikit_server.api("GET", "/support/console/19.0/integration.js")
    assert status == 404


# ----------------------------------------------------------------------------------- the enums

TAB_LINK = {
    "PARENT_AND_CHILDREN": "complete",
    "TAB_ONLY": "thistabonly",
    "SALESFORCE_URL": "standard",
}
REGION = {"LEFT": "left", "RIGHT": "right", "TOP": "top", "BOTTOM": "bottom"}
COMPONENT_TYPES = [
    "CANVAS",
    "CASE_EXPERTS_WIDGET",
    "FILES_WIDGET",
    "HIGHLIGHTS_PANEL",
    "INTERACTION_LOG_PANEL",
    "KNOWLEDGE_ONE",
    "LOOKUP",
    "MILESTONE_WIDGET",
    "RELATED_LIST",
    "REPORT_CHART_WIDGET",
    "TOPICS_WIDGET",
    "VISUALFORCE",
]
PRESENCE_EVENTS = [
    "LOGIN_SUCCESS",
    "STATUS_CHANGED",
    "LOGOUT",
    "WORK_ASSIGNED",
    "WORK_ACCEPTED",
    "WORK_DECLINED",
    "WORK_CLOSED",
]

ENUMS_JS = """() => { const c = sforce.console, out = {};
    for (const e of ['TabLink', 'Region', 'ComponentType', 'ConsoleEvent']) {
        out[e] = c[e] === undefined ? null : JSON.parse(JSON.stringify(c[e]));
    }
    // Constants: a page cannot change them for the other scripts of the page.
    try { c.ConsoleEvent && (c.ConsoleEvent.OPEN_TAB = 'x'); } catch (e) { /* strict mode */ }
    out.frozen = !c.ConsoleEvent || c.ConsoleEvent.OPEN_TAB === 'SFORCE_CONSOLE:OPEN_TAB';
    return out; }"""


def _enums(page: Any, server: Any, version: int) -> dict[str, Any]:
    page.goto(f"{server.component_url}/components/harness.html?v={version}")
    h = Harness(page.main_frame)
    h.wait_loaded()
    return h.eval(ENUMS_JS)


@pytest.mark.parametrize("version", [27, 28, 29, 30, 31, 32, 33, 34, 35, 66])
def test_enums_by_version(page: Any, ctikit_server: Any, version: int) -> None:
    got = _enums(page, ctikit_server, version)
    # TabLink arrives with getTabLink (28.0), Region with setSidebarVisible (33.0),
    # ComponentType with focusSidebarComponent (34.0).
    assert got["TabLink"] == (TAB_LINK if version >= 28 else None)
    assert got["Region"] == (REGION if version >= 33 else None)
    assert got["ComponentType"] == ({t: t for t in COMPONENT_TYPES} if version >= 34 else None)
    events = got["ConsoleEvent"]
    if version < 30:
        assert events is None
        return
    expected: dict[str, Any] = {
        "OPEN_TAB": "SFORCE_CONSOLE:OPEN_TAB",
        "CLOSE_TAB": "SFORCE_CONSOLE:CLOSE_TAB",
    }
    if version >= 31:
        expected["CONSOLE_LOGOUT"] = "SFORCE_CONSOLE:LOGOUT"
    if version >= 32:
        presence = {name: f"SFORCE_PRESENCE:{name}" for name in PRESENCE_EVENTS}
        if version >= 35:
            presence["WORKLOAD_CHANGED"] = "SFORCE_PRESENCE:WORKLOAD_CHANGED"
        expected["PRESENCE"] = presence
    assert events == expected
    assert got["frozen"] is True
    assert page.page_errors == []


def test_enums_used_as_the_guide_shows(console: Console) -> None:
    h = console.h1
    got = _run_all(
        h,
        {
            "getTabLink": "sforce.console.getTabLink("
            "sforce.console.TabLink.PARENT_AND_CHILDREN, 'scc-pt-0', record)",
            "setSidebarVisible": "sforce.console.setSidebarVisible("
            "true, 'scc-st-1', sforce.console.Region.LEFT, record)",
            "focusSidebarComponent": "sforce.console.focusSidebarComponent(JSON.stringify("
            "{componentType: sforce.console.ComponentType.KNOWLEDGE_ONE}), 'scc-st-1', record)",
            "tabListener": "sforce.console.addEventListener(sforce.console.ConsoleEvent.CLOSE_TAB,"
            " record, {tabId: 'scc-pt-1'});"
            " sforce.console.addEventListener(sforce.console.ConsoleEvent.CONSOLE_LOGOUT, record);"
            " sforce.console.addEventListener(sforce.console.ConsoleEvent.PRESENCE.WORK_ASSIGNED,"
            " record);"
            " sforce.console.removeEventListener(sforce.console.ConsoleEvent.CLOSE_TAB, record,"
            " {tabId: 'scc-pt-1'});",
            "fireStandard": "sforce.console.fireEvent("
            "sforce.console.ConsoleEvent.OPEN_TAB, 'x', record)",
        },
    )
    assert got["getTabLink"] == [FAILED | {"tabLink": None}]
    assert got["setSidebarVisible"] == [FAILED]
    assert got["focusSidebarComponent"] == [FAILED]
    assert got["tabListener"] == []  # accepted; ctikit never fires standard events
    [refused] = got["fireStandard"]
    assert refused["success"] is False and "standard console event" in refused["error"]
    assert console.page.page_errors == []


# ----------------------------------------------------------------------- the ConsoleEvent values


def test_console_event_values(page: Any, ctikit_server: Any) -> None:
    """The values listeners register with, as the original defines them."""
    got = _enums(page, ctikit_server, 66)["ConsoleEvent"]
    assert got["OPEN_TAB"] == "SFORCE_CONSOLE:OPEN_TAB"
    assert got["CLOSE_TAB"] == "SFORCE_CONSOLE:CLOSE_TAB"
    assert got["CONSOLE_LOGOUT"] == "SFORCE_CONSOLE:LOGOUT"
    assert got["PRESENCE"]["LOGIN_SUCCESS"] == "SFORCE_PRESENCE:LOGIN_SUCCESS"
    assert got["PRESENCE"]["WORKLOAD_CHANGED"] == "SFORCE_PRESENCE:WORKLOAD_CHANGED"
    assert sorted(got) == ["CLOSE_TAB", "CONSOLE_LOGOUT", "OPEN_TAB", "PRESENCE"]
    assert sorted(got["PRESENCE"]) == sorted([*PRESENCE_EVENTS, "WORKLOAD_CHANGED"])


# ----------------------------------------------------------------------------------------- chat

CHAT_CALLS = {
    # name: (call as the guide's samples make it, documented result fields besides success)
    "acceptChat": ("acceptChat('myChatKey', record)", {}),
    "declineChat": ("declineChat('myChatKey', record)", {}),
    "endChat": ("endChat('myChatKey', record)", {}),
    "getAgentInput": ("getAgentInput('myChatKey', record)", {"text": None}),
    "setAgentInput": ("setAgentInput('myChatKey', 'text', record)", {}),
    "getAgentState": ("getAgentState(record)", {"state": None}),
    "setAgentState": ("setAgentState('Online', record)", {}),
    "getChatLog": ("getChatLog('myChatKey', record)", {"messages": None, "customEvents": None}),
    "getChatRequests": ("getChatRequests(record)", {"chatKey": []}),
    "getEngagedChats": ("getEngagedChats(record)", {"chatKey": []}),
    "getDetailsByChatKey": (
        "getDetailsByChatKey('myChatKey', record)",
        {"primaryTabId": None, "details": None},
    ),
    "getDetailsByPrimaryTabId": (
        "getDetailsByPrimaryTabId('scc-pt-0', record)",
        {"primaryTabId": None, "details": None},
    ),
    "getMaxCapacity": ("getMaxCapacity(record)", {"count": None}),
    "sendMessage": ("sendMessage('myChatKey', 'This is sample text', record)", {}),
    "sendCustomEvent": ("sendCustomEvent('myChatKey', 'myType', 'myData', record)", {}),
    "initFileTransfer": ("initFileTransfer('myChatKey', 'myEntityId', record)", {}),
    "cancelFileTransferByAgent": ("cancelFileTransferByAgent('myChatKey', record)", {}),
}
CHAT_EVENTS = {
    "onAgentSend": "'myChatKey', record",
    "onAgentStateChanged": "record",
    "onChatCanceled": "record",
    "onChatCriticalWaitState": "'myChatKey', record",
    "onChatDeclined": "record",
    "onChatEnded": "record",
    "onChatRequested": "record",
    "onChatStarted": "record",
    "onChatTransferredOut": "record",
    "onCurrentCapacityChanged": "record",
    "onCustomEvent": "'myChatKey', 'myType', record",
    "onFileTransferCompleted": "'myChatKey', record",
    "onNewMessage": "'myChatKey', record",
    "onTypingUpdate": "'myChatKey', record",
}


def test_chat_methods_answer_not_supported(console: Console) -> None:
    got = _run_all(
        console.h1,
        {name: f"sforce.console.chat.{call}" for name, (call, _) in CHAT_CALLS.items()}
        | {name: f"sforce.console.chat.{name}({args})" for name, args in CHAT_EVENTS.items()},
    )
    for name, (_, fields) in CHAT_CALLS.items():
        assert got[name] == [FAILED | fields], name
    for name in CHAT_EVENTS:
        assert got[name] == [], name  # registrations are accepted and never fire
    # The guide's getEngagedChats sample reads result.chatKey.length: it works.
    assert (
        console.h1.eval(
            """() => new Promise(r => sforce.console.chat.getEngagedChats(
            result => r(result.chatKey.length)))"""
        )
        == 0
    )
    # No argument at all, or a non-function where the callback goes: no throw.
    errors = console.h1.eval(
        """names => names.flatMap(n => {
            try { sforce.console.chat[n](); sforce.console.chat[n]('k', 'not a function');
                  return []; } catch (e) { return [n + ': ' + e]; } })""",
        [*CHAT_CALLS, *CHAT_EVENTS],
    )
    assert errors == []
    assert console.page.page_errors == []


@pytest.mark.parametrize(("version", "defined"), [(28, False), (29, True), (30, True), (31, True)])
def test_chat_namespace_by_version(
    page: Any, ctikit_server: Any, version: int, defined: bool
) -> None:
    page.goto(f"{ctikit_server.component_url}/components/harness.html?v={version}")
    h = Harness(page.main_frame)
    h.wait_loaded()
    got = h.eval(
        "() => sforce.console.chat === undefined ? null : Object.keys(sforce.console.chat).sort()"
    )
    if not defined:
        assert got is None
        return
    file_transfer = {"initFileTransfer", "cancelFileTransferByAgent", "onFileTransferCompleted"}
    expected = set(CHAT_CALLS) | set(CHAT_EVENTS)
    if version < 31:  # the file transfer methods are 31.0 members
        expected -= file_transfer
    assert set(got) == expected


def test_presence_methods_answer_not_supported(console: Console) -> None:
    calls = {
        "login": ("login('0N5xx00000000081', record)", {}),
        "logout": ("logout(record)", {}),
        "getServicePresenceStatusId": (
            "getServicePresenceStatusId(record)",
            {"statusId": None, "statusName": None, "statusApiName": None},
        ),
        "getServicePresenceStatusChannels": (
            "getServicePresenceStatusChannels(record)",
            {"channels": None},
        ),
        "setServicePresenceStatus": (
            "setServicePresenceStatus('0N5xx00000000081', record)",
            {"statusId": None, "statusName": None, "statusApiName": None, "channels": None},
        ),
        "getAgentWorks": ("getAgentWorks(record)", {"works": None}),
        "acceptAgentWork": ("acceptAgentWork('0Bzxx0000000001', record)", {}),
        "declineAgentWork": ("declineAgentWork('0Bzxx0000000001', 'busy', record)", {}),
        "closeAgentWork": ("closeAgentWork('0Bzxx0000000001', record)", {}),
        "getAgentWorkload": (
            "getAgentWorkload(record)",
            {
                "configuredCapacity": None,
                "currentWorkload": None,
                "configuredInterruptibleCapacity": None,
                "currentInterruptibleWorkload": None,
            },
        ),
    }
    got = _run_all(
        console.h1, {name: f"sforce.console.presence.{call}" for name, (call, _) in calls.items()}
    )
    for name, (_, fields) in calls.items():
        assert got[name] == [FAILED | fields], name
    # The 31.0 frame has no presence object (32.0).
    assert console.h2.eval("() => typeof sforce.console.presence") == "undefined"
    assert console.page.page_errors == []


# -------------------------------------------------------- unsupported methods' result fields


def test_unsupported_methods_carry_their_documented_fields(console: Console) -> None:
    """Called as the guide's samples call them; every documented field is there, empty."""
    h = console.h1
    c = "sforce.console."
    # (The tab methods are implemented: tests/browser/test_console_tabs.py.)
    calls = {
        "generateConsoleUrl": (
            c + "generateConsoleUrl(['/apex/pagename', '/001x0000003DGQR'], record)",
            {"consoleUrl": None},
        ),
        "isCustomConsoleComponentHidden": (
            c + "isCustomConsoleComponentHidden(record)",
            {"hidden": None},
        ),
        "isCustomConsoleComponentPoppedOut": (
            c + "isCustomConsoleComponentPoppedOut(record)",
            {"poppedOut": None},
        ),
        "getNavigationTabs": (c + "getNavigationTabs(record)", {"menuItems": None}),
        "getSelectedNavigationTab": (
            c + "getSelectedNavigationTab(record)",
            {"navigationTabId": None, "listViewUrl": None, "label": None, "selected": None},
        ),
        # The callback comes first here, second there: found wherever it is.
        "setSelectedNavigationTab": (c + "setSelectedNavigationTab(record, 'nav-tab-4')", {}),
        "setTabUnsavedChanges": (c + "setTabUnsavedChanges(true, record, 'scc-st-0')", {}),
        "disableTabClose": (
            c + "disableTabClose(true, 'scc-st-0', record)",
            {"message": NOT_SUPPORTED},
        ),
        "selectMacro": (c + "selectMacro('0JZxx0000000001', record)", {"cause": NOT_SUPPORTED}),
        "runSelectedMacro": (c + "runSelectedMacro(record)", {"cause": NOT_SUPPORTED}),
        "addToBrowserTitleQueue": (c + "addToBrowserTitleQueue('TestTitle', record)", {}),
        "removePushNotificationListener": (c + "removePushNotificationListener(record)", {}),
        # Documented without a callback or result: nothing is called, nothing throws.
        "resetSessionTimeOut": (c + "resetSessionTimeOut(); record('returned')", None),
    }
    got = _run_all(h, {name: call for name, (call, _) in calls.items()})
    for name, (_, fields) in calls.items():
        expected = ["returned"] if fields is None else [FAILED | fields]
        assert got[name] == expected, name
    assert console.page.page_errors == []


# -------------------------------------------------------- fireEvent and sendCTIMessage with numbers


def test_fire_event_with_a_number(console: Console) -> None:
    """A page passes a number as the message: it arrives as text, as with the original."""
    key = console.h1.listen("addEventListener", before=("Counter",))
    h2 = console.h2
    for message in ("42", "3.5", "true"):
        assert h2.plain(h2.call_js("fireEvent", f"['Counter', {message}]", cb=2)) == {
            "success": True
        }
    h2.ok("fireEvent", "Counter", None)
    h2.ok("fireEvent", "Counter", "text")
    events = console.h1.events(key, 5)
    assert events == [
        {"message": "42"},
        {"message": "3.5"},
        {"message": "true"},
        {"message": None},
        {"message": "text"},
    ]
    # An object would arrive as "[object Object]": refused with a reason, nothing sent.
    refused = h2.plain(h2.call_js("fireEvent", "['Counter', {n: 1}]", cb=2))
    assert refused["success"] is False and "JSON.stringify" in refused["error"]
    h2.ok("fireEvent", "Counter", "barrier")
    assert console.h1.events(key, 6)[-1] == {"message": "barrier"}
    assert console.page.page_errors == []


def test_send_cti_message_with_a_number(console: Console) -> None:
    key = console.h1.listen("cti.onSendCTIMessage")
    h2 = console.h2
    assert h2.plain(h2.call_js("cti.sendCTIMessage", "[12345]", cb=1)) == {"success": True}
    assert console.h1.events(key, 1) == [{"message": "12345"}]
    for bad in ("[null]", "[undefined]", "[{}]", "['']"):
        refused = h2.plain(h2.call_js("cti.sendCTIMessage", bad, cb=1))
        assert refused["success"] is False and refused["error"], bad
    assert console.page.page_errors == []


# --------------------------------------------------------------------- hostile identifiers

HOSTILE = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]


def test_hostile_event_types(console: Console) -> None:
    h1, h2 = console.h1, console.h2
    keys = {name: h1.listen("addEventListener", before=(name,)) for name in HOSTILE}
    other = h1.listen("addEventListener", before=("ordinary",))
    for name in HOSTILE:
        h2.ok("fireEvent", name, f"to {name}")
    for name, key in keys.items():
        assert h1.events(key, 1) == [{"message": f"to {name}"}], name
    # Removing one leaves the others; nothing leaked into Object.prototype.
    h1.eval(
        "k => sforce.console.removeEventListener('__proto__', H.handlers[k])", keys["__proto__"]
    )
    h2.ok("fireEvent", "__proto__", "after removal")
    h2.ok("fireEvent", "constructor", "barrier")
    assert h1.events(keys["constructor"], 2)[-1] == {"message": "barrier"}
    assert h1.event_count(keys["__proto__"]) == 1
    assert h1.event_count(other) == 0
    clean = "() => [Object.keys(Object.prototype).length, typeof ({}).push, ({}).toString()]"
    assert h1.eval(clean) == [0, "undefined", "[object Object]"]
    assert console.page.page_errors == []


def _hostile_call_ids(console: Console) -> None:
    """Such strings as call IDs through every CTI method: each is a call like any other."""
    h1, h2 = console.h1, console.h2
    begun = h1.listen("cti.onCallBegin")
    ended = h1.listen("cti.onCallEnd", "__proto__")  # bound to the call '__proto__'
    for call_id in ("__proto__", "constructor", "toString"):
        h2.ok("cti.fireOnCallBegin", call_id, "inbound", f"call {call_id}")
    assert [e["id"] for e in h1.events(begun, 3)] == ["__proto__", "constructor", "toString"]
    ids = h1.result(h1.call("cti.getCallObjectIds"))["fields"]["ids"]["items"]
    assert ids == ["__proto__", "constructor", "toString"]
    h2.ok("cti.setCallAttachedData", "constructor", '{"account": "ACME"}', "inbound")
    data = h1.plain(h1.call("cti.getCallAttachedData", "constructor"))
    assert data["success"] is True and '"ACME"' in data["data"]
    h2.ok("cti.fireOnCallEnd", "constructor", 3, "done")
    h2.ok("cti.fireOnCallEnd", "__proto__", 5, "done")
    assert h1.events(ended, 1) == [{"id": "__proto__", "duration": "5", "disposition": "done"}]
    h2.ok("cti.setCallObjectIds", ["toString", "hasOwnProperty"])
    assert h1.result(h1.call("cti.getCallObjectIds"))["fields"]["ids"]["items"] == [
        "toString",
        "hasOwnProperty",
    ]
    assert stays(lambda: h1.event_count(ended) == 1, console.page)
    for h in (h1, h2):
        assert h.eval("() => Object.keys(Object.prototype).length") == 0


def test_hostile_call_ids(console: Console) -> None:
    _hostile_call_ids(console)


def test_hostile_call_ids_leave_the_console_page_working(console: Console) -> None:
    _hostile_call_ids(console)
    assert console.page.page_errors == []


def test_hostile_identifiers_from_the_console_side(page: Any, ctikit_server: Any) -> None:
    """A console answering or pushing with such identifiers cannot confuse integration.js."""
    page.goto(f"{ctikit_server.component_url}/components/fake-console.html?v=66")
    h = Harness(find_frame(page, lambda u: "name=fake" in u))
    h.wait_ready()
    h.eval("() => { window.heard = []; sforce.console.addEventListener('x', m => heard.push(m)); }")
    page.evaluate(
        """() => {
        const frame = FC.frame.contentWindow.location.origin;
        for (const id of ['__proto__', 'constructor', 'toString']) {
            FC.post({ctikit: 1, kind: 'response', id: id, success: true}, frame);
            FC.post({ctikit: 1, kind: 'event', event: 'customEvent',
                     data: {type: id, message: 'm'}}, frame);
            FC.post({ctikit: 1, kind: 'event', event: id, data: {id: id}}, frame);
        }
        FC.post({ctikit: 1, kind: 'event', event: 'customEvent',
                 data: {type: 'x', message: 'last'}}, frame);
    }"""
    )
    h.frame.wait_for_function("() => heard.length === 1")
    assert h.eval("() => heard") == [{"message": "last"}]
    assert h.eval("() => Object.keys(Object.prototype).length") == 0
    assert page.page_errors == []
