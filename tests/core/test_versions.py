"""The namespace tables: versions, what is implemented, what "not supported" answers carry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core import CtiRequestError
from ctikit.core.versions import (
    CONSOLE,
    CONSOLE_EVENTS,
    CTI,
    EMPTY_FIELDS,
    ENUMS,
    IMPLEMENTED,
    MAX_VERSION,
    MIN_VERSION,
    NAMESPACES,
    api_table,
    members_for,
    parse_version,
)


def test_parse_version() -> None:
    assert parse_version("31.0") == 31
    assert parse_version("24") == 24
    assert parse_version("20.0") == 20  # the first toolkit version is served
    for bad in ("19.0", "67.0", "31.5", "x", "", "031.0.0", "31.", "٣١.0", "+31.0", " 31.0"):
        with pytest.raises(CtiRequestError):
            parse_version(bad)


@given(st.text(max_size=8))
def test_parse_version_accepts_only_served_versions(text: str) -> None:
    try:
        version = parse_version(text)
    except CtiRequestError as exc:
        assert "\n" not in exc.message
    else:
        assert MIN_VERSION <= version <= MAX_VERSION
        assert text in (str(version), f"{version}.0")


def test_cti_methods_by_version() -> None:
    assert list(members_for("cti", 23)) == []
    assert list(members_for("cti", 24)) == [
        "getCallObjectIds",
        "getCallAttachedData",
        "onCallBegin",
        "onCallEnd",
        "sendCTIMessage",
    ]
    assert members_for("cti", 30) == members_for("cti", 24)
    assert members_for("cti", 31) == CTI


def test_versions_20_to_23_have_the_members_they_had() -> None:
    assert set(members_for("console", 20)) == {
        "openPrimaryTab",
        "openSubtab",
        "getEnclosingTabId",
        "getEnclosingPrimaryTabId",
        "setTabTitle",
        "closeTab",
    }
    assert "isInConsole" not in members_for("console", 21)
    assert "isInConsole" in members_for("console", 22)
    assert "openSubtabByPrimaryTabName" in members_for("console", 22)
    assert "focusSubtabById" in members_for("console", 22)
    assert "setTabUnsavedChanges" not in members_for("console", 22)
    assert "setTabUnsavedChanges" in members_for("console", 23)
    # Only sforce.console itself exists before 24.0: no cti, chat or presence object.
    for version in (20, 21, 22, 23):
        assert list(api_table(version)["namespaces"]) == ["console"]  # type: ignore[call-overload]


def test_namespaces_appear_with_their_first_member() -> None:
    firsts = {ns: min(m.since for m in members.values()) for ns, members in NAMESPACES.items()}
    assert firsts == {"console": 20, "cti": 24, "chat": 29, "presence": 32}
    for ns, first in firsts.items():
        assert ns not in api_table(first - 1)["namespaces"]  # type: ignore[operator]
        assert ns in api_table(first)["namespaces"]  # type: ignore[operator]


def test_renamed_members_end_in_31() -> None:
    for old, new in (
        ("setCustomConsoleComponentWindowVisible", "setCustomConsoleComponentVisible"),
        ("isCustomConsoleComponentWindowHidden", "isCustomConsoleComponentHidden"),
    ):
        assert old in members_for("console", 31) and new not in members_for("console", 31)
        assert old not in members_for("console", 32) and new in members_for("console", 32)


def test_implemented_members_exist_in_their_namespace() -> None:
    for ns, names in IMPLEMENTED.items():
        assert names <= set(NAMESPACES[ns]), ns
    assert IMPLEMENTED["cti"] == set(CTI)
    assert IMPLEMENTED["chat"] == IMPLEMENTED["presence"] == frozenset()


def _namespace(table: dict[str, Any], ns: str) -> dict[str, Any]:
    spec = table["namespaces"][ns]
    assert isinstance(spec, dict)
    return spec


def test_api_table_splits_implemented_and_unsupported() -> None:
    t66 = api_table(66)
    console = _namespace(t66, "console")
    # The tab methods (web/integration-tabs.js) are implemented, in the table's order.
    assert console["implemented"][:6] == [
        "openPrimaryTab",
        "openSubtab",
        "openSubtabByPrimaryTabName",
        "getEnclosingTabId",
        "getEnclosingPrimaryTabId",
        "getEnclosingPrimaryTabObjectId",
    ]
    assert {"setTabTitle", "closeTab", "onFocusedSubtab", "isInConsole", "fireEvent"} <= set(
        console["implemented"]
    )
    unsupported = console["unsupported"]
    assert unsupported["getTabLink"] == ["call", {"tabLink": None}]
    assert unsupported["disableTabClose"] == ["call", {"message": "reason"}]
    assert unsupported["runSelectedMacro"] == ["call", {"cause": "reason"}]
    assert unsupported["resetSessionTimeOut"] == ["none", {}]
    assert unsupported["onTabSave"] == ["event", {}]
    chat = _namespace(t66, "chat")
    assert chat["implemented"] == []
    assert chat["unsupported"]["getEngagedChats"] == ["call", {"chatKey": "list"}]
    assert chat["unsupported"]["getDetailsByChatKey"] == [
        "call",
        {"primaryTabId": None, "details": None},
    ]
    assert _namespace(t66, "cti")["unsupported"] == {}
    # The whole table is JSON and every member of the version is in exactly one list.
    json.dumps(t66)
    for ns, members in NAMESPACES.items():
        spec = _namespace(t66, ns)
        names = spec["implemented"] + list(spec["unsupported"])
        assert sorted(names) == sorted(n for n, m in members.items() if m.exists_in(66))


def test_every_documented_field_has_a_known_empty_value() -> None:
    values = set(EMPTY_FIELDS.values()) | {None}
    for ns in NAMESPACES:
        for name, (kind, fields) in _namespace(api_table(MAX_VERSION), ns)["unsupported"].items():
            assert kind in ("call", "event", "none", "sync"), name
            assert set(fields.values()) <= values, name
            if kind != "call":
                assert fields == {}, f"{name}: only callbacks get result fields"


def test_enums_by_version() -> None:
    assert api_table(27)["enums"] == {}
    assert api_table(28)["enums"] == {
        "TabLink": {
            "PARENT_AND_CHILDREN": "complete",
            "TAB_ONLY": "thistabonly",
            "SALESFORCE_URL": "standard",
        }
    }
    e30: Any = api_table(30)["enums"]
    assert e30["ConsoleEvent"] == {
        "OPEN_TAB": "SFORCE_CONSOLE:OPEN_TAB",
        "CLOSE_TAB": "SFORCE_CONSOLE:CLOSE_TAB",
    }
    e31: Any = api_table(31)["enums"]
    assert e31["ConsoleEvent"]["CONSOLE_LOGOUT"] == "SFORCE_CONSOLE:LOGOUT"
    e32: Any = api_table(32)["enums"]
    assert "Region" not in e32 and "PRESENCE" in e32["ConsoleEvent"]
    assert "WORKLOAD_CHANGED" not in e32["ConsoleEvent"]["PRESENCE"]
    e66: Any = api_table(66)["enums"]
    assert e66["Region"] == {"LEFT": "left", "RIGHT": "right", "TOP": "top", "BOTTOM": "bottom"}
    assert len(e66["ComponentType"]) == 12
    assert e66["ConsoleEvent"]["PRESENCE"]["WORKLOAD_CHANGED"] == "SFORCE_PRESENCE:WORKLOAD_CHANGED"
    # Each enum arrives with the method that takes its values.
    assert ENUMS["TabLink"][0] == CONSOLE["getTabLink"].since
    assert ENUMS["Region"][0] == CONSOLE["setSidebarVisible"].since
    assert ENUMS["ComponentType"][0] == CONSOLE["focusSidebarComponent"].since
    assert min(since for _, _, since in CONSOLE_EVENTS) == 30


def test_call_type_option_from_29() -> None:
    assert api_table(28)["callTypeOption"] is False
    assert api_table(29)["callTypeOption"] is True


@given(st.integers(MIN_VERSION, MAX_VERSION))
def test_tables_only_grow_except_renames(version: int) -> None:
    """A member present in a version stays in every later one, unless it has an end."""
    for members in NAMESPACES.values():
        for member in members.values():
            if member.exists_in(version) and member.until is None:
                assert all(member.exists_in(v) for v in range(version, MAX_VERSION + 1))
