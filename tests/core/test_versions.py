from __future__ import annotations

import pytest

from ctikit.core import CtiRequestError
from ctikit.core.versions import (
    CTI_METHODS,
    MAX_VERSION,
    MIN_VERSION,
    api_table,
    cti_methods_for,
    parse_version,
)


def test_parse_version() -> None:
    assert parse_version("31.0") == 31
    assert parse_version("24") == 24
    for bad in ("23.0", "67.0", "31.5", "x", "", "031.0.0"):
        with pytest.raises(CtiRequestError):
            parse_version(bad)


def test_methods_by_version() -> None:
    assert cti_methods_for(24) == [
        "getCallObjectIds",
        "getCallAttachedData",
        "onCallBegin",
        "onCallEnd",
        "sendCTIMessage",
    ]
    assert cti_methods_for(30) == cti_methods_for(24)
    assert sorted(cti_methods_for(31)) == sorted(CTI_METHODS)
    assert MIN_VERSION == 24 and MAX_VERSION >= 66


def test_api_table_gates() -> None:
    assert api_table(28)["callTypeOption"] is False
    assert api_table(29)["callTypeOption"] is True
    t25, t36 = api_table(25), api_table(36)
    assert "addEventListener" in t25["implemented"]
    assert "disableTabClose" not in t25["unsupported"] and "disableTabClose" in t36["unsupported"]
    assert "setCustomConsoleComponentWindowVisible" in api_table(31)["unsupported"]
    assert "setCustomConsoleComponentWindowVisible" not in api_table(32)["unsupported"]
    assert "onTabSave" in api_table(28)["unsupportedEvents"]
    assert api_table(29)["consoleEventEnum"] is False and api_table(30)["consoleEventEnum"]
