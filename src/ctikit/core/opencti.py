"""Open CTI as data: the methods of ``sforce.opencti`` (Lightning) and ``sforce.interaction``
(Classic), the first API version of each, and the enumerations.

The version in a softphone's script URL (``/support/api/NN.0/lightning/opencti_min.js`` or
``/support/api/NN.0/interaction.js``) selects the methods, as ``integration.js`` does for the
console toolkit (core/versions.py): a method first shipped in a later version is *not
defined*. The server injects :func:`lightning_table` / :func:`classic_table` into the scripts;
docs/open-cti.md lists the same methods with their status.
"""

from __future__ import annotations

from typing import Final

from .errors import CtiRequestError

#: Lightning Experience's Open CTI starts with 38.0.
LIGHTNING_MIN: Final = 38
#: interaction.js: served from 20.0 (the first console toolkit version ctikit serves).
CLASSIC_MIN: Final = 20
MAX_VERSION: Final = 66

#: ``sforce.opencti.*``: method -> first version. The guide gives 38.0 for each.
LIGHTNING: Final[dict[str, int]] = {
    name: 38
    for name in (
        "saveLog",
        "screenPop",
        "searchAndScreenPop",
        "enableClickToDial",
        "disableClickToDial",
        "onClickToDial",
        "setSoftphonePanelVisibility",
        "isSoftphonePanelVisible",
        "setSoftphonePanelHeight",
        "setSoftphonePanelWidth",
        "setSoftphonePanelLabel",
        "setSoftphonePanelIcon",
        "setSoftphoneItemLabel",
        "setSoftphoneItemIcon",
        "getCallCenterSettings",
        "getSoftphoneLayout",
        "notifyInitializationComplete",
        "onNavigationChange",
        "getAppViewInfo",
        "refreshView",
        "runApex",
    )
}

#: ``sforce.interaction.*`` and (``cti.``) ``sforce.interaction.cti.*``: method -> first
#: version. The Classic pages name no version for most methods; ctikit assumes the first it
#: serves, and later ones where the method came later (docs/open-cti.md says which).
CLASSIC: Final[dict[str, int]] = {
    "isInConsole": 20,
    "screenPop": 20,
    "getPageInfo": 20,
    "setVisible": 20,
    "isVisible": 20,
    "saveLog": 20,
    "runApex": 20,
    "searchAndScreenPop": 20,
    "onFocus": 20,
    "refreshPage": 24,
    "refreshRelatedList": 24,
    "searchAndGetScreenPopUrl": 28,
    "cti.enableClickToDial": 20,
    "cti.disableClickToDial": 20,
    "cti.onClickToDial": 20,
    "cti.getCallCenterSettings": 20,
    "cti.getSoftphoneLayout": 20,
    "cti.getDirectoryNumbers": 20,
    "cti.setSoftphoneHeight": 20,
    "cti.setSoftphoneWidth": 28,
    "cti.notifyInitializationComplete": 32,
}

#: ``sforce.opencti.SCREENPOP_TYPE``: key -> (value, first version).
SCREENPOP_TYPES: Final[dict[str, tuple[str, int]]] = {
    "SOBJECT": ("sobject", 38),
    "URL": ("url", 38),
    "OBJECTHOME": ("objecthome", 38),
    "LIST": ("list", 38),
    "SEARCH": ("search", 38),
    "NEW_RECORD_MODAL": ("newRecord", 38),
    "FLOW": ("flow", 45),
}

#: ``sforce.opencti.CALL_TYPE``.
CALL_TYPES: Final[dict[str, str]] = {
    "INBOUND": "inbound",
    "OUTBOUND": "outbound",
    "INTERNAL": "internal",
}

#: Softphone panel sizes the guide allows (pixels).
HEIGHT_RANGE: Final = (240, 2560)
WIDTH_RANGE: Final = (200, 1920)


def parse_version(text: str, minimum: int) -> int:
    """``"52.0"`` -> 52; versions outside ``minimum``..:data:`MAX_VERSION` are refused."""
    head, dot, tail = text.partition(".")
    if not (head.isascii() and head.isdigit() and 1 <= len(head) <= 3) or (dot and tail != "0"):
        raise CtiRequestError(f"bad API version {text!r}: expected NN.0, e.g. 52.0")
    version = int(head)
    if not minimum <= version <= MAX_VERSION:
        raise CtiRequestError(
            f"API version {version}.0 is not served here: {minimum}.0 to {MAX_VERSION}.0"
        )
    return version


def lightning_table(version: int) -> dict[str, object]:
    """What ``opencti.js`` of ``version`` defines (JSON-ready)."""
    return {
        "version": version,
        "methods": [name for name, since in LIGHTNING.items() if since <= version],
        "screenPopTypes": {k: v for k, (v, since) in SCREENPOP_TYPES.items() if since <= version},
        "callTypes": dict(CALL_TYPES),
        "height": list(HEIGHT_RANGE),
        "width": list(WIDTH_RANGE),
    }


def classic_table(version: int) -> dict[str, object]:
    """What ``interaction.js`` of ``version`` defines (JSON-ready)."""
    return {
        "version": version,
        "methods": [name for name, since in CLASSIC.items() if since <= version],
        "height": list(HEIGHT_RANGE),
        "width": list(WIDTH_RANGE),
    }
