"""The ``sforce.console`` namespace as data: every member, its first API version, what it answers.

The version in a component's script URL (``/support/console/NN.0/integration.js``) selects
the API: a member first shipped in a later version is *not defined* in that script, exactly
as in the Salesforce Console Integration Toolkit. These tables are the one source of truth:
the server injects :func:`api_table` into ``integration.js``, and docs/console-namespace.md
is checked against them.

Each member is either implemented by ctikit (:data:`IMPLEMENTED`) or answers "not supported":
its callback gets ``{success: false, error}`` plus every result field the developer guide
documents for it, empty (:data:`EMPTY_FIELDS`), so code that reads ``result.id`` or
``result.ids`` without checking ``success`` keeps running. Implementing a member later means
moving its name into :data:`IMPLEMENTED` and writing it in ``integration.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import CtiRequestError

MIN_VERSION = 20
MAX_VERSION = 66

#: How a member answers. ``call``: asynchronous, the callback gets a result object;
#: ``event``: registers a handler; ``sync``: returns its answer; ``none``: documented with no
#: callback and no result (``setTabTitle``, ``resetSessionTimeOut``, ``removeEventListener``).
Kind = Literal["call", "event", "sync", "none"]


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a namespace."""

    since: int
    kind: Kind = "call"
    #: Result fields the developer guide documents besides ``success``.
    result: tuple[str, ...] = ()
    #: Last version that defines it (members renamed in 32.0), or None.
    until: int | None = None
    #: Why the version or the member itself is not taken from the guide (docs only).
    note: str = ""

    def exists_in(self, version: int) -> bool:
        return self.since <= version and (self.until is None or version <= self.until)


def _call(since: int, *result: str, until: int | None = None, note: str = "") -> Member:
    return Member(since, "call", result, until, note)


def _event(since: int, note: str = "") -> Member:
    return Member(since, "event", note=note)


_NO_GUIDE = "not in the developer guide; the original defines it, first version assumed"

#: ``sforce.console.*`` (the developer guide's method lists for tabs, navigation tabs,
#: application-level custom console components, push notifications and console events).
CONSOLE: dict[str, Member] = {
    # Primary tabs and subtabs
    "openPrimaryTab": _call(20, "id"),
    "openSubtab": _call(20, "id"),
    "openSubtabByPrimaryTabName": _call(22, "id"),
    "getEnclosingTabId": _call(20, "id"),
    "getEnclosingPrimaryTabId": _call(20, "id"),
    "getEnclosingPrimaryTabObjectId": _call(24, "id"),
    "getFocusedPrimaryTabId": _call(25, "id"),
    "getFocusedPrimaryTabObjectId": _call(25, "id"),
    "getFocusedSubtabId": _call(25, "id"),
    "getFocusedSubtabObjectId": _call(24, "id"),
    "getPrimaryTabIds": _call(26, "ids"),
    "getSubtabIds": _call(26, "ids"),
    "getPageInfo": _call(26, "pageInfo"),
    "getTabLink": _call(28, "tabLink"),
    "setTabLink": _call(28),
    "generateConsoleUrl": _call(28, "consoleUrl"),
    "openConsoleUrl": _call(28),
    "setTabTitle": Member(20, "none"),
    "setTabIcon": _call(28),
    "setTabStyle": _call(28),
    "setTabTextStyle": _call(28),
    "setTabUnsavedChanges": _call(23),
    "onTabSave": _event(28),
    "disableTabClose": _call(36, "message"),
    "closeTab": _call(20, "error"),
    "reopenLastClosedTab": _call(35),
    "refreshPrimaryTabById": _call(22),
    "refreshPrimaryTabByName": _call(22),
    "refreshSubtabById": _call(22),
    "refreshSubtabByNameAndPrimaryTabId": _call(22),
    "refreshSubtabByNameAndPrimaryTabName": _call(22),
    "focusPrimaryTabById": _call(22),
    "focusPrimaryTabByName": _call(22),
    "focusSubtabById": _call(22),
    "focusSubtabByNameAndPrimaryTabId": _call(22),
    "focusSubtabByNameAndPrimaryTabName": _call(22),
    "onFocusedPrimaryTab": _event(25),
    "onFocusedSubtab": _event(24),
    "onEnclosingTabRefresh": _event(24),
    "isInConsole": Member(22, "sync"),
    "resetSessionTimeOut": Member(24, "none"),
    "focusSidebarComponent": _call(34),
    # Navigation tabs
    "getNavigationTabs": _call(31, "menuItems"),
    "getSelectedNavigationTab": _call(31, "navigationTabId", "listViewUrl", "label", "selected"),
    "setSelectedNavigationTab": _call(31),
    "focusNavigationTab": _call(31),
    "refreshNavigationTab": _call(31),
    # Application-level custom console components
    "isInCustomConsoleComponent": _call(25, "inCustomConsoleComponent"),
    "setCustomConsoleComponentButtonText": _call(25),
    "setCustomConsoleComponentButtonStyle": _call(25),
    "setCustomConsoleComponentButtonIconUrl": _call(25),
    "setCustomConsoleComponentWindowVisible": _call(25, until=31),
    "isCustomConsoleComponentWindowHidden": _call(25, "hidden", until=31),
    "setCustomConsoleComponentVisible": _call(32),
    "isCustomConsoleComponentHidden": _call(32, "hidden"),
    "setCustomConsoleComponentWidth": _call(32),
    "setCustomConsoleComponentHeight": _call(32),
    "onCustomConsoleComponentButtonClicked": _event(25),
    "scrollCustomConsoleComponentButtonText": _call(25),
    "removeScrollCustomConsoleComponentButtonText": _call(25, note=_NO_GUIDE),
    "blinkCustomConsoleComponentButtonText": _call(25),
    "removeBlinkCustomConsoleComponentButtonText": _call(25, note=_NO_GUIDE),
    "setCustomConsoleComponentPopoutable": _call(30),
    "isCustomConsoleComponentPoppedOut": _call(30, "poppedOut"),
    "addToBrowserTitleQueue": _call(28),
    "removeFromBrowserTitleQueue": _call(28),
    "setSidebarVisible": _call(33),
    "selectMacro": _call(36, "cause"),
    "runSelectedMacro": _call(36, "cause"),
    # Push notifications
    "addPushNotificationListener": _event(26),
    "removePushNotificationListener": _call(26),
    # Console events
    "addEventListener": _event(25),
    "removeEventListener": Member(25, "none"),
    "fireEvent": _call(25),
}

#: ``sforce.console.cti.*``.
CTI: dict[str, Member] = {
    "getCallObjectIds": _call(24, "ids"),
    "getCallAttachedData": _call(24, "data", "type"),
    "onCallBegin": _event(24),
    "onCallEnd": _event(24),
    "sendCTIMessage": _call(24),
    "fireOnCallBegin": _call(31),
    "fireOnCallEnd": _call(31),
    "onCallLogSaved": _event(31),
    "fireOnCallLogSaved": _call(31),
    "onSendCTIMessage": _event(31),
    "setCallAttachedData": _call(31),
    "setCallObjectIds": _call(31),
}

#: ``sforce.console.chat.*`` (Chat, formerly Live Agent).
CHAT: dict[str, Member] = {
    "acceptChat": _call(29),
    "declineChat": _call(29),
    "endChat": _call(29),
    "getAgentInput": _call(29, "text"),
    "setAgentInput": _call(29),
    "getAgentState": _call(29, "state"),
    "setAgentState": _call(29),
    "getChatLog": _call(29, "messages", "customEvents"),
    "getChatRequests": _call(29, "chatKey"),
    "getEngagedChats": _call(29, "chatKey"),
    "getDetailsByChatKey": _call(29, "primaryTabId", "details"),
    "getDetailsByPrimaryTabId": _call(29, "primaryTabId", "details"),
    "getMaxCapacity": _call(29, "count"),
    "sendMessage": _call(29),
    "sendCustomEvent": _call(29),
    "initFileTransfer": _call(31),
    "cancelFileTransferByAgent": _call(31),
    "onAgentSend": _event(29),
    "onAgentStateChanged": _event(29),
    "onChatCanceled": _event(29),
    "onChatCriticalWaitState": _event(29),
    "onChatDeclined": _event(29),
    "onChatEnded": _event(29),
    "onChatRequested": _event(29),
    "onChatStarted": _event(29),
    "onChatTransferredOut": _event(29),
    "onCurrentCapacityChanged": _event(29),
    "onCustomEvent": _event(29),
    "onNewMessage": _event(29),
    "onTypingUpdate": _event(29),
    "onFileTransferCompleted": _event(31),
}

#: ``sforce.console.presence.*`` (Omni-Channel).
PRESENCE: dict[str, Member] = {
    "login": _call(32),
    "logout": _call(32),
    "getServicePresenceStatusId": _call(32, "statusId", "statusName", "statusApiName"),
    "getServicePresenceStatusChannels": _call(32, "channels"),
    "setServicePresenceStatus": _call(32, "statusId", "statusName", "statusApiName", "channels"),
    "getAgentWorks": _call(32, "works"),
    "acceptAgentWork": _call(32),
    "declineAgentWork": _call(32),
    "closeAgentWork": _call(32),
    "getAgentWorkload": _call(
        35,
        "configuredCapacity",
        "currentWorkload",
        "configuredInterruptibleCapacity",
        "currentInterruptibleWorkload",
    ),
}

#: Namespace -> its members; "console" is ``sforce.console`` itself. A sub-namespace object
#: exists from the first version that has one of its members.
NAMESPACES: dict[str, dict[str, Member]] = {
    "console": CONSOLE,
    "cti": CTI,
    "chat": CHAT,
    "presence": PRESENCE,
}

#: The tab methods are web/integration-tabs.js, carried out by the console's workspace.
TAB_METHODS: frozenset[str] = frozenset(
    {"openPrimaryTab", "openSubtab", "openSubtabByPrimaryTabName", "closeTab", "setTabTitle"}
    | {"getEnclosingTabId", "getEnclosingPrimaryTabId", "getEnclosingPrimaryTabObjectId"}
    | {"getFocusedPrimaryTabId", "getFocusedPrimaryTabObjectId"}
    | {"getFocusedSubtabId", "getFocusedSubtabObjectId"}
    | {"getPrimaryTabIds", "getSubtabIds", "getPageInfo"}
    | {"focusPrimaryTabById", "focusPrimaryTabByName", "focusSubtabById"}
    | {"focusSubtabByNameAndPrimaryTabId", "focusSubtabByNameAndPrimaryTabName"}
    | {"refreshPrimaryTabById", "refreshPrimaryTabByName", "refreshSubtabById"}
    | {"refreshSubtabByNameAndPrimaryTabId", "refreshSubtabByNameAndPrimaryTabName"}
    | {"onFocusedPrimaryTab", "onFocusedSubtab", "onEnclosingTabRefresh"}
)

#: What ctikit implements for real; everything else answers "not supported".
IMPLEMENTED: dict[str, frozenset[str]] = {
    "console": frozenset(
        {"isInConsole", "isInCustomConsoleComponent", "addEventListener"}
        | {"removeEventListener", "fireEvent"}
    )
    | TAB_METHODS,
    "cti": frozenset(CTI),
    "chat": frozenset(),
    "presence": frozenset(),
}

#: The value a documented result field gets in a "not supported" answer (default: null).
#: ``ids``: an empty ID list whose string form is "null" (see docs/compatibility.md);
#: ``chatKey``: an empty array, as the original gives when there is none; the fields that
#: carry a failure's reason get ours.
EMPTY_FIELDS: dict[str, Literal["ids", "list", "reason"]] = {
    "ids": "ids",
    "chatKey": "list",
    "error": "reason",
    "cause": "reason",
    "message": "reason",
}

#: ``getCallAttachedData(..., {getCallType: true})`` returns ``type`` from this version on.
CALL_TYPE_OPTION_SINCE = 29

#: Enumerations: name -> (first version, values). Values as the original defines them.
ENUMS: dict[str, tuple[int, dict[str, str]]] = {
    # getTabLink() levels (28.0, with getTabLink).
    "TabLink": (
        28,
        {
            "PARENT_AND_CHILDREN": "complete",
            "TAB_ONLY": "thistabonly",
            "SALESFORCE_URL": "standard",
        },
    ),
    # setSidebarVisible() regions (33.0, with setSidebarVisible).
    "Region": (33, {"LEFT": "left", "RIGHT": "right", "TOP": "top", "BOTTOM": "bottom"}),
    # focusSidebarComponent() component types (34.0, with focusSidebarComponent).
    "ComponentType": (
        34,
        {
            name: name
            for name in (
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
            )
        },
    ),
}

#: ``sforce.console.ConsoleEvent``: (key path, value, first version). The standard events;
#: ctikit accepts listeners for them and never fires them.
CONSOLE_EVENTS: tuple[tuple[str, str, int], ...] = (
    ("OPEN_TAB", "SFORCE_CONSOLE:OPEN_TAB", 30),
    ("CLOSE_TAB", "SFORCE_CONSOLE:CLOSE_TAB", 30),
    ("CONSOLE_LOGOUT", "SFORCE_CONSOLE:LOGOUT", 31),
    ("PRESENCE.LOGIN_SUCCESS", "SFORCE_PRESENCE:LOGIN_SUCCESS", 32),
    ("PRESENCE.STATUS_CHANGED", "SFORCE_PRESENCE:STATUS_CHANGED", 32),
    ("PRESENCE.LOGOUT", "SFORCE_PRESENCE:LOGOUT", 32),
    ("PRESENCE.WORK_ASSIGNED", "SFORCE_PRESENCE:WORK_ASSIGNED", 32),
    ("PRESENCE.WORK_ACCEPTED", "SFORCE_PRESENCE:WORK_ACCEPTED", 32),
    ("PRESENCE.WORK_DECLINED", "SFORCE_PRESENCE:WORK_DECLINED", 32),
    ("PRESENCE.WORK_CLOSED", "SFORCE_PRESENCE:WORK_CLOSED", 32),
    # The guide gives no version; workloads arrived with getAgentWorkload() in 35.0.
    ("PRESENCE.WORKLOAD_CHANGED", "SFORCE_PRESENCE:WORKLOAD_CHANGED", 35),
)


def parse_version(text: str) -> int:
    """Parse ``"31.0"`` or ``"31"`` into 31; reject versions ctikit does not serve."""
    head, dot, tail = text.partition(".")
    if not (head.isascii() and head.isdigit() and 1 <= len(head) <= 3) or (dot and tail != "0"):
        raise CtiRequestError(f"bad API version {text!r}: expected NN.0, e.g. 31.0")
    version = int(head)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise CtiRequestError(
            f"API version {version}.0 is not served: "
            f"ctikit serves {MIN_VERSION}.0 to {MAX_VERSION}.0"
        )
    return version


def members_for(namespace: str, version: int) -> dict[str, Member]:
    """The members of ``namespace`` defined in ``version``, in table order."""
    return {n: m for n, m in NAMESPACES[namespace].items() if m.exists_in(version)}


def _enums_for(version: int) -> dict[str, object]:
    enums: dict[str, object] = {
        name: dict(values) for name, (since, values) in ENUMS.items() if since <= version
    }
    events: dict[str, object] = {}
    for path, value, since in CONSOLE_EVENTS:
        if since > version:
            continue
        *parents, key = path.split(".")
        target = events
        for parent in parents:
            inner = target.setdefault(parent, {})
            assert isinstance(inner, dict)
            target = inner
        target[key] = value
    if events:
        enums["ConsoleEvent"] = events
    return enums


def api_table(version: int) -> dict[str, object]:
    """Everything ``integration.js`` needs to know about ``version`` (JSON-ready).

    ``namespaces``: for each namespace with members in this version, the implemented names
    and, for every other member, how it answers: ``[kind, {field: empty value}]``.
    """
    namespaces: dict[str, object] = {}
    for namespace in NAMESPACES:
        members = members_for(namespace, version)
        if not members:
            continue
        real = IMPLEMENTED[namespace]
        namespaces[namespace] = {
            "implemented": [n for n in members if n in real],
            "unsupported": {
                name: [member.kind, {f: EMPTY_FIELDS.get(f) for f in member.result}]
                for name, member in members.items()
                if name not in real
            },
        }
    return {
        "version": version,
        "callTypeOption": version >= CALL_TYPE_OPTION_SINCE,
        "namespaces": namespaces,
        "enums": _enums_for(version),
    }
