"""API-version rules of ``sforce.console``: which member exists from which version.

The version in a component's script URL (``/support/console/NN.0/integration.js``) selects
the API; a member first shipped in a later version is *not defined* in that script, exactly
as in the Salesforce Console Integration Toolkit. This table is the one source of truth: the
server injects it into ``integration.js``.
"""

from __future__ import annotations

import re

from .errors import CtiRequestError

MIN_VERSION = 24
MAX_VERSION = 66

#: CTI methods (``sforce.console.cti.*``) and their first version.
CTI_METHODS: dict[str, int] = {
    "getCallObjectIds": 24,
    "getCallAttachedData": 24,
    "onCallBegin": 24,
    "onCallEnd": 24,
    "sendCTIMessage": 24,
    "fireOnCallBegin": 31,
    "fireOnCallEnd": 31,
    "onCallLogSaved": 31,
    "fireOnCallLogSaved": 31,
    "onSendCTIMessage": 31,
    "setCallAttachedData": 31,
    "setCallObjectIds": 31,
}

#: ``getCallAttachedData(..., {getCallType: true})`` returns ``type`` from this version on.
CALL_TYPE_OPTION_SINCE = 29

#: Members of ``sforce.console`` implemented for real.
CONSOLE_IMPLEMENTED: dict[str, int] = {
    "isInConsole": 22,
    "isInCustomConsoleComponent": 25,
    "addEventListener": 25,
    "removeEventListener": 25,
    "fireEvent": 25,
}

#: Other members: defined from their version, answer "not supported by ctikit".
#: Value: (first version, last version or None, is an event registration).
CONSOLE_UNSUPPORTED: dict[str, tuple[int, int | None, bool]] = {
    "openPrimaryTab": (20, None, False),
    "openSubtab": (20, None, False),
    "openSubtabByPrimaryTabName": (20, None, False),
    "getEnclosingTabId": (20, None, False),
    "getEnclosingPrimaryTabId": (20, None, False),
    "getEnclosingPrimaryTabObjectId": (24, None, False),
    "getFocusedPrimaryTabId": (25, None, False),
    "getFocusedPrimaryTabObjectId": (25, None, False),
    "getFocusedSubtabId": (25, None, False),
    "getFocusedSubtabObjectId": (24, None, False),
    "getPrimaryTabIds": (26, None, False),
    "getSubtabIds": (26, None, False),
    "getPageInfo": (26, None, False),
    "getTabLink": (28, None, False),
    "setTabLink": (28, None, False),
    "generateConsoleUrl": (28, None, False),
    "openConsoleUrl": (28, None, False),
    "setTabTitle": (20, None, False),
    "setTabIcon": (28, None, False),
    "setTabStyle": (28, None, False),
    "setTabTextStyle": (28, None, False),
    "setTabUnsavedChanges": (23, None, False),
    "onTabSave": (28, None, True),
    "disableTabClose": (36, None, False),
    "closeTab": (20, None, False),
    "reopenLastClosedTab": (35, None, False),
    "refreshPrimaryTabById": (22, None, False),
    "refreshPrimaryTabByName": (22, None, False),
    "refreshSubtabById": (22, None, False),
    "refreshSubtabByNameAndPrimaryTabId": (22, None, False),
    "refreshSubtabByNameAndPrimaryTabName": (22, None, False),
    "focusPrimaryTabById": (22, None, False),
    "focusPrimaryTabByName": (22, None, False),
    "focusSubtabById": (22, None, False),
    "focusSubtabByNameAndPrimaryTabId": (22, None, False),
    "focusSubtabByNameAndPrimaryTabName": (22, None, False),
    "onFocusedPrimaryTab": (25, None, True),
    "onFocusedSubtab": (24, None, True),
    "onEnclosingTabRefresh": (24, None, True),
    # '?' in the table: the lowest plausible version.
    "resetSessionTimeOut": (20, None, False),
    "focusSidebarComponent": (34, None, False),
    "setSidebarVisible": (33, None, False),
    "setCustomConsoleComponentButtonText": (25, None, False),
    "setCustomConsoleComponentButtonStyle": (25, None, False),
    "setCustomConsoleComponentButtonIconUrl": (25, None, False),
    "setCustomConsoleComponentVisible": (32, None, False),
    "setCustomConsoleComponentWindowVisible": (25, 31, False),
    "isCustomConsoleComponentHidden": (32, None, False),
    "setCustomConsoleComponentWidth": (32, None, False),
    "setCustomConsoleComponentHeight": (32, None, False),
    "onCustomConsoleComponentButtonClicked": (25, None, True),
    "scrollCustomConsoleComponentButtonText": (25, None, False),
    "removeScrollCustomConsoleComponentButtonText": (25, None, False),
    "blinkCustomConsoleComponentButtonText": (25, None, False),
    "removeBlinkCustomConsoleComponentButtonText": (25, None, False),
    "setCustomConsoleComponentPopoutable": (30, None, False),
    "isCustomConsoleComponentPoppedOut": (30, None, False),
    "addToBrowserTitleQueue": (28, None, False),
    "removeFromBrowserTitleQueue": (28, None, False),
    "addPushNotificationListener": (26, None, True),
    "removePushNotificationListener": (26, None, False),
    "getNavigationTabs": (31, None, False),
    "getSelectedNavigationTab": (31, None, False),
    "setSelectedNavigationTab": (31, None, False),
    "focusNavigationTab": (31, None, False),
    "refreshNavigationTab": (31, None, False),
    "selectMacro": (36, None, False),
    "runSelectedMacro": (36, None, False),
}

#: ``sforce.console.ConsoleEvent`` (an enum object) exists from this version.
CONSOLE_EVENT_ENUM_SINCE = 30

_VERSION_RE = re.compile(r"^(\d{1,3})(?:\.0)?\Z")


def parse_version(text: str) -> int:
    """Parse ``"31.0"`` or ``"31"`` into 31; reject versions ctikit does not serve."""
    m = _VERSION_RE.match(text)
    if not m:
        raise CtiRequestError(f"bad API version {text!r}: expected NN.0, e.g. 31.0")
    version = int(m.group(1))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise CtiRequestError(
            f"API version {version}.0 is not served: "
            f"ctikit serves {MIN_VERSION}.0 to {MAX_VERSION}.0"
        )
    return version


def cti_methods_for(version: int) -> list[str]:
    """The CTI methods defined in ``version``."""
    return [name for name, since in CTI_METHODS.items() if since <= version]


def console_members_for(version: int) -> dict[str, list[str]]:
    """Members of ``sforce.console`` defined in ``version``, grouped by how they answer."""
    unsupported = [
        name
        for name, (since, until, _) in CONSOLE_UNSUPPORTED.items()
        if since <= version and (until is None or version <= until)
    ]
    return {
        "implemented": [n for n, since in CONSOLE_IMPLEMENTED.items() if since <= version],
        "unsupported": [n for n in unsupported if not CONSOLE_UNSUPPORTED[n][2]],
        "unsupportedEvents": [n for n in unsupported if CONSOLE_UNSUPPORTED[n][2]],
    }


def api_table(version: int) -> dict[str, object]:
    """Everything ``integration.js`` needs to know about ``version`` (JSON-ready)."""
    return {
        "version": version,
        "cti": cti_methods_for(version),
        "callTypeOption": version >= CALL_TYPE_OPTION_SINCE,
        "consoleEventEnum": version >= CONSOLE_EVENT_ENUM_SINCE,
        **console_members_for(version),
    }
