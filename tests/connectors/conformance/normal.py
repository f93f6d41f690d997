"""Telephony events as short lines of text, the same whichever connector reported them.

What varies between connectors and runs is taken out: call IDs become ``c1``, ``c2``... in
the order calls first appear (all agents together, so two agents sharing one call ID shows),
and a rig's numbers become the reference numbers the expectations are written with.
Everything else (types, ANI, DNIS, data, reasons, dispositions) is kept: it is what consoles
show.

==================  =================================================================
event               line
==================  =================================================================
CallOffered         ``offered c1 INBOUND ani=+14155550123 dnis=+18005550199 data={...}``
                    (``outgoing`` after the type for a call the agent's phone placed)
CallAnswered        ``answered c1``
CallHeld            ``held c1``; CallRetrieved: ``retrieved c1``
CallMuted           ``muted c1`` / ``unmuted c1``
CallDataAttached    ``data c1 {...}``
CallReleased        ``released c1: agent hung up`` (`` [disposition]`` if there is one)
ActionFailed        ``failed c1 number=5550486: busy (486 Busy Here)``
LineStatus          ``line up`` / ``line down`` (the reason names the connector: dropped)
==================  =================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ctikit.core import telephony as tel

from .rig import REFERENCE, Numbers


def translation(numbers: Numbers) -> dict[str, str]:
    """A rig's numbers -> the reference's."""
    pairs = [(numbers.extensions[a], REFERENCE.extensions[a]) for a in REFERENCE.extensions]
    for what in ("answers", "busy", "not_found", "declines"):
        pairs.append((getattr(numbers, what), getattr(REFERENCE, what)))
    return {mine: ref for mine, ref in pairs if mine != ref}


def describe(event: tel.TelephonyEvent, name: Callable[[str], str], tr: dict[str, str]) -> str:
    """``event`` as a line (see the module docstring); ``name`` names call IDs."""

    def num(value: str | None) -> str | None:
        return tr.get(value, value) if value is not None else None

    def text(value: str) -> str:
        for mine, ref in tr.items():
            value = value.replace(mine, ref)
        return value

    match event:
        case tel.CallOffered():
            line = f"offered {name(event.call_id)} {event.call_type.value}"
            line += " outgoing" if event.outgoing else ""
            line += f" ani={num(event.ani)} dnis={num(event.dnis)}"
            if event.label is not None:
                line += f" label={event.label}"
            return line + (f" data={_data(event.data, num, name)}" if event.data else "")
        case tel.CallAnswered():
            return f"answered {name(event.call_id)}"
        case tel.CallHeld():
            return f"held {name(event.call_id)}"
        case tel.CallRetrieved():
            return f"retrieved {name(event.call_id)}"
        case tel.CallMuted():
            return f"{'muted' if event.muted else 'unmuted'} {name(event.call_id)}"
        case tel.CallDataAttached():
            return f"data {name(event.call_id)} {_data(event.data, num, name)}"
        case tel.CallReleased():
            line = f"released {name(event.call_id)}: {text(event.reason)}"
            return line + (f" [{event.disposition}]" if event.disposition else "")
        case tel.ActionFailed():
            call = name(event.call_id) if event.call_id is not None else "-"
            return f"failed {call} number={num(event.number)}: {text(event.reason)}"
        case tel.LineStatus():
            return "line up" if event.up else "line down"
    raise AssertionError(f"unknown telephony event {event!r}")


#: Attached-data keys whose values are call IDs (consult and conference links): named too.
CALL_LINKS = ("consultOf", "conferenceWith")


def _data(
    data: dict[str, Any], num: Callable[[str | None], str | None], name: Callable[[str], str]
) -> str:
    values = {
        k: (name(v) if k in CALL_LINKS else num(v)) if isinstance(v, str) else v
        for k, v in data.items()
    }
    return json.dumps(values, sort_keys=True)
