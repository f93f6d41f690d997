"""The scenarios every connector runs, each with the events it must give: the reference.

The reference is what the simulator reports (it is the reference connector): for each agent,
the sequence of its events as lines (:mod:`.normal`), and, where it matters, which of two
events on different agents' lines comes first (``order``; events of different agents are
otherwise not ordered: each agent's phone reports on its own). Where a connector
legitimately behaves otherwise, the table in :mod:`.differences` says so; nothing here
depends on the connector.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ctikit.connectors.base import Capability
from ctikit.core.commands import Action
from ctikit.core.model import LineState
from ctikit.core.transitions import COMMANDS

from .rig import REFERENCE
from .session import ANI, DATA, DNIS, Mark, Session

A1, A2 = "agent1", "agent2"
EXT1, EXT2 = REFERENCE.extensions[A1], REFERENCE.extensions[A2]
N = REFERENCE
ANI2 = "+14155550124"
DATA2 = {"account": "43"}
# What the registry holds for a call offered with ANI, DNIS and DATA: a transfer carries it.
CALL_DATA = {"ANI": ANI, "DNIS": DNIS, **DATA}


def offered(c: str, *, ani: str = ANI, dnis: str = DNIS, data: Mapping[str, Any] = DATA) -> str:
    """The line of an inbound call offered to an agent."""
    line = f"offered {c} INBOUND ani={ani} dnis={dnis}"
    return line + (f" data={json.dumps(data, sort_keys=True)}" if data else "")


def dialing(c: str, number: str, *, call_type: str = "OUTBOUND", ani: str = EXT1) -> str:
    """The line of a call agent1's phone placed."""
    return f"offered {c} {call_type} outgoing ani={ani} dnis={number}"


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


Script = Callable[[Session], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What a scenario must give: each agent's lines, and cross-agent orderings."""

    events: Mapping[str, tuple[str, ...]]
    order: tuple[tuple[Mark, Mark], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    title: str
    script: Script
    reference: Expected
    line_status: bool = False  # LineStatus events are part of the sequences


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    title: str,
    *,
    agent1: tuple[str, ...] = (),
    agent2: tuple[str, ...] = (),
    order: tuple[tuple[Mark, Mark], ...] = (),
    line_status: bool = False,
) -> Callable[[Script], Script]:
    def register(script: Script) -> Script:
        name = script.__name__
        SCENARIOS[name] = Scenario(
            name=name,
            title=title,
            script=script,
            reference=Expected(events={A1: agent1, A2: agent2}, order=order),
            line_status=line_status,
        )
        return script

    return register


# ----------------------------------------------------------------- inbound


@scenario(
    "an inbound call rings, is answered, and the agent hangs up",
    agent1=(offered("c1"), "answered c1", "released c1: agent hung up"),
)
async def inbound_answered_agent_hangs_up(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.ok(A1, "/HANGUP")


@scenario(
    "the caller hangs up an answered call",
    agent1=(offered("c1"), "answered c1", "released c1: caller hung up"),
)
async def caller_hangs_up(s: Session) -> None:
    c1 = await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.caller_hangup(c1)


@scenario(
    "the caller gives up while the call is ringing",
    agent1=(offered("c1"), "released c1: caller abandoned [abandoned]"),
)
async def caller_abandons_while_ringing(s: Session) -> None:
    c1 = await s.ring(A1)
    await s.caller_hangup(c1)


@scenario(
    "hold, then retrieve",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        "retrieved c1",
        "released c1: agent hung up",
    ),
)
async def hold_and_retrieve(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.ok(A1, "/HOLD")
    await s.ok(A1, "/RETRIEVE")
    await s.ok(A1, "/HANGUP")


@scenario(
    "mute, then unmute",
    agent1=(
        offered("c1"),
        "answered c1",
        "muted c1",
        "unmuted c1",
        "released c1: agent hung up",
    ),
)
async def mute_and_unmute(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.ok(A1, "/MUTE")
    await s.ok(A1, "/UNMUTE")
    await s.ok(A1, "/HANGUP")


@scenario(
    "a second call is answered while the first is held",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        offered("c2", ani=ANI2, data=DATA2),
        "answered c2",
        "released c2: agent hung up",
        "retrieved c1",
        "released c1: agent hung up",
    ),
)
async def two_calls_at_once(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.ok(A1, "/HOLD")
    await s.ring(A1, ani=ANI2, data=DATA2)
    await s.ok(A1, "/ANSWER")  # the ringing one: the second call
    await s.ok(A1, "/HANGUP")  # the connected one: the second call
    await s.ok(A1, "/RETRIEVE")
    await s.ok(A1, "/HANGUP")


@scenario(
    "a connector refuses what the transitions table refuses, on its own view of the line",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        "retrieved c1",
        "released c1: agent hung up",
    ),
)
async def refuses_what_the_table_refuses(s: Session) -> None:
    def refused_in(state: LineState) -> list[Action]:
        return [a for a, states in COMMANDS.items() if state not in states]

    c1 = await s.ring(A1)
    for action in refused_in(LineState.RINGING):
        await s.refuses(A1, action, c1)
    await s.ok(A1, "/ANSWER")
    for action in refused_in(LineState.CONNECTED):
        await s.refuses(A1, action, c1)
    await s.ok(A1, "/HOLD")
    for action in refused_in(LineState.HELD):
        await s.refuses(A1, action, c1)
    await s.ok(A1, "/RETRIEVE")
    await s.ok(A1, "/HANGUP")


# ---------------------------------------------------------------- dial out


@scenario(
    "the agent dials out, the far end answers, the agent hangs up",
    agent1=(dialing("c1", N.answers), "answered c1", "released c1: agent hung up"),
)
async def dial_out_answered(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.answers}")
    await s.seen(A1, "answered c1")
    await s.ok(A1, "/HANGUP")


@scenario(
    "the far end of a call the agent placed hangs up",
    agent1=(dialing("c1", N.answers), "answered c1", "released c1: other party hung up"),
)
async def dial_out_far_end_hangs_up(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.answers}")
    await s.seen(A1, "answered c1")
    await s.far_end_hangup("c1")


@scenario(
    "DTMF reaches the far end and reports nothing",
    agent1=(dialing("c1", N.answers), "answered c1", "released c1: agent hung up"),
)
async def dtmf(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.answers}")
    await s.seen(A1, "answered c1")
    await s.ok(A1, "/DTMF?DIGITS=12%23")
    await s.heard("c1", "12#")
    await s.ok(A1, "/HANGUP")


@scenario(
    "a dialled number is busy (486)",
    agent1=(
        dialing("c1", N.busy),
        f"failed c1 number={N.busy}: busy (486 Busy Here)",
        "released c1: busy [busy]",
    ),
)
async def dial_busy(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.busy}")
    await s.seen(A1, "released c1")


@scenario(
    "a dialled number does not exist (404)",
    agent1=(
        dialing("c1", N.not_found),
        f"failed c1 number={N.not_found}: not found (404 Not Found)",
        "released c1: not found [not found]",
    ),
)
async def dial_not_found(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.not_found}")
    await s.seen(A1, "released c1")


@scenario(
    "a dialled number declines (603)",
    agent1=(
        dialing("c1", N.declines),
        f"failed c1 number={N.declines}: declined (603 Decline)",
        "released c1: declined [declined]",
    ),
)
async def dial_declined(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={N.declines}")
    await s.seen(A1, "released c1")


@scenario(
    "an agent calls another agent, who answers, then hangs up",
    agent1=(
        dialing("c1", EXT2, call_type="INTERNAL"),
        "answered c1",
        "released c1: other party hung up",
    ),
    agent2=(
        f"offered c2 INTERNAL ani={EXT1} dnis={EXT2}",
        "answered c2",
        "released c2: agent hung up",
    ),
)
async def internal_call(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={EXT2}")
    await s.seen(A2, "offered")
    await s.ok(A2, "/ANSWER")
    await s.seen(A1, "answered")
    await s.ok(A2, "/HANGUP")


@scenario(
    "an agent rejects another agent's call",
    agent1=(
        dialing("c1", EXT2, call_type="INTERNAL"),
        f"failed c1 number={EXT2}: declined (603 Decline)",
        "released c1: declined [declined]",
    ),
    agent2=(f"offered c2 INTERNAL ani={EXT1} dnis={EXT2}", "released c2: agent hung up"),
)
async def internal_call_rejected(s: Session) -> None:
    await s.ok(A1, f"/DIAL?NUMBER={EXT2}")
    await s.seen(A2, "offered")
    await s.ok(A2, "/HANGUP")


# ----------------------------------------------------------------- transfer

TRANSFERRED_TO_A2 = (A1, "released c1: transferred [transferred]")
OFFERED_TO_A2 = (A2, offered("c2", data=CALL_DATA))


@scenario(
    "a blind transfer to another agent carries the call's data",
    agent1=(offered("c1"), "answered c1", TRANSFERRED_TO_A2[1]),
    agent2=(OFFERED_TO_A2[1], "answered c2", "released c2: agent hung up"),
    order=((TRANSFERRED_TO_A2, OFFERED_TO_A2),),
)
async def blind_transfer_to_agent(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    transfer = s.start(A1, f"/TRANSFER?NUMBER={EXT2}")  # may end only once agent2 answers
    await s.seen(A2, "offered")
    await s.ok(A2, "/ANSWER")
    verdict = await transfer
    assert verdict.ok, verdict.reason
    await s.ok(A2, "/HANGUP")


@scenario(
    "a blind transfer to an external number",
    agent1=(
        offered("c1"),
        "answered c1",
        f"released c1: transferred to {N.answers} [transferred]",
    ),
)
async def blind_transfer_to_number(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    await s.ok(A1, f"/TRANSFER?NUMBER={N.answers}")


@scenario(
    "a blind transfer to a number that does not exist fails",
    agent1=(
        offered("c1"),
        "answered c1",
        f"failed c1 number={N.not_found}: not found (404 Not Found)",
        "released c1: agent hung up",
    ),
)
async def blind_transfer_fails(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    reason = await s.fails(A1, f"/TRANSFER?NUMBER={N.not_found}")
    assert reason == "not found (404 Not Found)"
    await s.hang_up_all(A1)  # what is left of the call differs (see the differences)


# ------------------------------------------------------ consult and conference
# A connector without the CONSULT / CONFERENCE capability is never sent these commands (the
# server answers ``unsupported``): the scripts then only hang up, and the differences table
# says what such a connector gives.

CONSULTED = (A1, dialing("c2", EXT2, call_type="INTERNAL") + ' data={"consultOf": "c1"}')


@scenario(
    "a consult transfer to another agent: the call is held, agent2 answers the consult, "
    "then takes the caller",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        CONSULTED[1],
        "answered c2",
        f"released c1: transferred to {EXT2} [transferred]",
        f"released c2: transfer to {EXT2} completed [transferred]",
    ),
    agent2=(
        f"offered c3 INTERNAL ani={EXT1} dnis={EXT2} data={_json(CALL_DATA)}",
        "answered c3",
        f"data c3 {_json(CALL_DATA)}",
        "released c3: agent hung up",
    ),
)
async def consult_transfer_to_agent(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    if not s.can(Capability.CONSULT):
        await s.hang_up_all(A1)
        return
    await s.ok(A1, f"/CONSULT?NUMBER={EXT2}")
    await s.seen(A2, "offered")
    await s.ok(A2, "/ANSWER")
    await s.ok(A1, "/COMPLETE_TRANSFER")
    await s.ok(A2, "/HANGUP")


@scenario(
    "a consult call to a number is cancelled: the held call is retrieved",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        dialing("c2", N.answers) + ' data={"consultOf": "c1"}',
        "answered c2",
        "released c2: consult cancelled [consult cancelled]",
        "retrieved c1",
        "released c1: agent hung up",
    ),
)
async def consult_cancelled(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    if not s.can(Capability.CONSULT):
        # Handed to it anyway, the connector refuses it and reports nothing.
        await s.refuses(A1, Action.CONSULT, "c1")
        await s.hang_up_all(A1)
        return
    await s.ok(A1, f"/CONSULT?NUMBER={N.answers}")
    await s.seen(A1, "answered c2")
    await s.ok(A1, "/CANCEL_CONSULT")
    await s.ok(A1, "/HANGUP")


@scenario(
    "a three-way conference: the held call and the consult call are joined",
    agent1=(
        offered("c1"),
        "answered c1",
        "held c1",
        dialing("c2", N.answers) + ' data={"consultOf": "c1"}',
        "answered c2",
        "retrieved c1",
        'data c1 {"conferenceWith": "c2"}',
        'data c2 {"conferenceWith": "c1"}',
        "released c1: agent hung up",
        "released c2: agent hung up",
    ),
)
async def conference(s: Session) -> None:
    await s.ring(A1)
    await s.ok(A1, "/ANSWER")
    if not (s.can(Capability.CONSULT) and s.can(Capability.CONFERENCE)):
        await s.hang_up_all(A1)
        return
    await s.ok(A1, f"/CONSULT?NUMBER={N.answers}")
    await s.seen(A1, "answered c2")
    await s.ok(A1, "/CONFERENCE")
    await s.hang_up_all(A1)


# -------------------------------------------------------------- the lines


@scenario(
    "every agent's line is reported up at start and down at stop",
    agent1=("line up", "line down"),
    agent2=("line up", "line down"),
    line_status=True,
)
async def lines_up_then_down(s: Session) -> None:
    await s.rig.connector.stop()


def as_markdown() -> str:
    """The scenarios as docs/connectors.md lists them (a test compares)."""
    lines = ["| scenario | what happens |", "|---|---|"]
    lines += [f"| `{s.name}` | {s.title} |" for s in SCENARIOS.values()]
    return "\n".join(lines) + "\n"
