"""Where a connector legitimately gives other events than the simulator: one table, as data.

Each row names a connector and a scenario, says in a line what differs and why real
telephony behaves so, and gives what that connector must report instead: the sequences of
the agents it names (the others keep the reference's) and/or the cross-agent ordering.
Nothing else in the suite knows about connectors. docs/connectors.md shows this table
(:func:`as_markdown`; a test compares), and a row that no longer changes anything fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .scenarios import (
    A1,
    A2,
    EXT1,
    EXT2,
    OFFERED_TO_A2,
    SCENARIOS,
    TRANSFERRED_TO_A2,
    Expected,
    N,
    dialing,
    offered,
)
from .session import Mark


@dataclass(frozen=True, kw_only=True)
class Difference:
    connector: str
    scenario: str
    what: str  # one line: what the connector reports otherwise
    why: str  # why that is how real telephony behaves, not a bug
    events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per agent
    order: tuple[tuple[Mark, Mark], ...] | None = None  # replaces the reference's


NO_CONSULT = (
    "baresip 1.0.0's control interface has a blind transfer only (no attended transfer, no "
    "call mixing); the server answers these commands unsupported"
)

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        connector="sip",
        scenario="consult_transfer_to_agent",
        what="no consult transfer: the connector lacks the capability; the agent hangs up",
        why=NO_CONSULT,
        events={
            A1: (offered("c1"), "answered c1", "released c1: agent hung up"),
            A2: (),
        },
    ),
    Difference(
        connector="sip",
        scenario="consult_cancelled",
        what="no consult transfer: the connector lacks the capability; the agent hangs up",
        why=NO_CONSULT,
        events={
            A1: (offered("c1"), "answered c1", "released c1: agent hung up"),
            A2: (),
        },
    ),
    Difference(
        connector="sip",
        scenario="conference",
        what="no conference: the connector lacks the capability; the agent hangs up",
        why=NO_CONSULT,
        events={
            A1: (offered("c1"), "answered c1", "released c1: agent hung up"),
            A2: (),
        },
    ),
    Difference(
        connector="sip",
        scenario="blind_transfer_to_agent",
        what="the transferring agent's call ends when the target answers, not when it rings",
        why="a blind transfer is a REFER; baresip ends its call when the NOTIFY reports the "
        "new call answered (200), where the simulator hands the call over at once",
        order=((OFFERED_TO_A2, TRANSFERRED_TO_A2),),
    ),
    Difference(
        connector="sip",
        scenario="blind_transfer_fails",
        what="a failed transfer ends the call",
        why="baresip 1.0.0 hangs the call up itself when the REFER's NOTIFY reports a "
        "failure; the simulator keeps the call, as most PBXs do",
        events={
            A1: (
                offered("c1"),
                "answered c1",
                f"failed c1 number={N.not_found}: not found (404 Not Found)",
                "released c1: transfer failed (404 Not Found) [transfer failed]",
            )
        },
    ),
    Difference(
        connector="sip",
        scenario="internal_call",
        what="both agents' legs of an internal call have the same call ID",
        why="the proxy keeps the SIP Call-ID from end to end; call IDs need only be unique "
        "per agent",
        events={
            A2: (
                f"offered c1 INTERNAL ani={EXT1} dnis={EXT2}",
                "answered c1",
                "released c1: agent hung up",
            )
        },
    ),
    Difference(
        connector="sip",
        scenario="internal_call_rejected",
        what="an agent who rejects a call answers 486 Rejected: the caller hears busy, not "
        "declined (and both legs share the call ID)",
        why="baresip 1.0.0 rejects a call only with 486; the SIP status is reported as it came",
        events={
            A1: (
                dialing("c1", EXT2, call_type="INTERNAL"),
                f"failed c1 number={EXT2}: busy (486 Rejected)",
                "released c1: busy [busy]",
            ),
            A2: (f"offered c1 INTERNAL ani={EXT1} dnis={EXT2}", "released c1: agent hung up"),
        },
    ),
)


def expected_for(connector: str, scenario: str) -> Expected:
    """What ``connector`` must give in ``scenario``: the reference, with its rows applied."""
    reference = SCENARIOS[scenario].reference
    events = dict(reference.events)
    order = reference.order
    for row in DIFFERENCES:
        if (row.connector, row.scenario) == (connector, scenario):
            events.update(row.events)
            order = row.order if row.order is not None else order
    return Expected(events=events, order=order)


def as_markdown() -> str:
    """The table as docs/connectors.md shows it."""
    lines = ["| connector | scenario | what differs | why |", "|---|---|---|---|"]
    for row in DIFFERENCES:
        lines.append(f"| `{row.connector}` | `{row.scenario}` | {row.what} | {row.why} |")
    return "\n".join(lines) + "\n"
