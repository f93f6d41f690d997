"""CTI commands (``sendCTIMessage("/HOLD")``...) checked against one agent's calls.

:func:`resolve_command` decides whether a parsed :class:`~ctikit.core.commands.CtiCommand`
can be carried out now and names the call it acts on: the one given by ``CALL_ID`` or
``LINE_NUMBER``, else the first call (in arrival order) in the first line state the
transitions table lists for the command. It changes nothing: the connector carries the
action out and reports what happened as telephony events.

``/COMPLETE_TRANSFER``, ``/CANCEL_CONSULT`` and ``/CONFERENCE`` act on a *consult call* (one
whose attached data links it, under :data:`~ctikit.core.commands.CONSULT_OF`, to a held call
of the agent) and name that held call too. A component may name either call of the pair.
The link in the data only picks the calls: the connector checks its own before acting.
"""

from __future__ import annotations

from . import telephony as tel
from .agentstate import AgentState
from .commands import CONSULT_ACTIONS, CONSULT_OF, Action, CtiCommand
from .errors import CommandRejectedError
from .model import Call, LineState
from .transitions import COMMANDS, allows, needs


def resolve_command(state: AgentState, cmd: CtiCommand) -> tel.ConnectorAction:
    """Check ``cmd`` can be carried out now and name the call it acts on; raises
    :class:`~ctikit.core.errors.CommandRejectedError` saying why not."""
    agent = state.agent
    if cmd.action is Action.DIAL:
        if len(state.calls) >= state.limits.max_active_calls:
            raise CommandRejectedError(
                f"cannot dial: {len(state.calls)} calls already active (the limit)"
            )
        return tel.ConnectorAction(agent=agent, action=cmd.action, number=cmd.number)
    if cmd.action in CONSULT_ACTIONS:
        return _resolve_consult(state, cmd)
    call = _target(state, cmd)
    if not allows(cmd.action, call.line_state):
        raise CommandRejectedError(
            f"/{cmd.action} needs a {needs(cmd.action)} call; "
            f"call {call.id!r} is {call.line_state.value if call.line_state else 'unknown'}"
        )
    if cmd.action is Action.MUTE and call.muted:
        raise CommandRejectedError(f"call {call.id!r} is already muted")
    if cmd.action is Action.UNMUTE and not call.muted:
        raise CommandRejectedError(f"call {call.id!r} is not muted")
    return tel.ConnectorAction(
        agent=agent,
        action=cmd.action,
        call_id=call.id,
        number=cmd.number,
        digits=cmd.digits,
        # The call's data follows it to a transfer or consult target.
        data=call.data if cmd.action in (Action.TRANSFER, Action.CONSULT) else None,
    )


def _held_original(state: AgentState, call: Call) -> Call | None:
    """The other active call ``call`` is a consult about, if its data names one."""
    data = call.data
    other = data.get(CONSULT_OF) if isinstance(data, dict) else None
    if not isinstance(other, str) or other == call.id:
        return None
    return state.calls.get(other)


def _resolve_consult(state: AgentState, cmd: CtiCommand) -> tel.ConnectorAction:
    name = f"/{cmd.action}"
    pairs = [
        (c, held) for c in state.calls.values() if (held := _held_original(state, c)) is not None
    ]
    if cmd.call_id is not None or cmd.line_number is not None:
        named = _target(state, cmd)
        pairs = [(c, h) for c, h in pairs if named in (c, h)]
        if not pairs:
            raise CommandRejectedError(f"{name}: call {named.id!r} has no consult call")
    else:
        # The consult calls in the table's order of states, as for other commands.
        order: dict[LineState | None, int] = {s: i for i, s in enumerate(COMMANDS[cmd.action])}
        pairs.sort(key=lambda p: order.get(p[0].line_state, len(order)))
        if not pairs:
            raise CommandRejectedError(f"{name}: no consult call (start one with /CONSULT)")
    consult, held = pairs[0]
    if not allows(cmd.action, consult.line_state):
        state_text = consult.line_state.value if consult.line_state else "unknown"
        raise CommandRejectedError(
            f"{name} needs a {needs(cmd.action)} consult call; call {consult.id!r} is {state_text}"
        )
    if held.line_state is not LineState.HELD:
        state_text = held.line_state.value if held.line_state else "unknown"
        raise CommandRejectedError(
            f"{name}: the call consulted about ({held.id!r}) is {state_text}, not held"
        )
    return tel.ConnectorAction(
        agent=state.agent,
        action=cmd.action,
        call_id=consult.id,
        held_call_id=held.id,
        data=held.data if cmd.action is Action.COMPLETE_TRANSFER else None,
    )


def _target(state: AgentState, cmd: CtiCommand) -> Call:
    if cmd.call_id is not None:
        call = state.calls.get(cmd.call_id)
        if call is None:
            raise CommandRejectedError(f"/{cmd.action}: call {cmd.call_id!r} is not active")
    elif cmd.line_number is not None:
        if cmd.line_number > len(state.calls):
            raise CommandRejectedError(
                f"/{cmd.action}: no line {cmd.line_number} ({len(state.calls)} active calls)"
            )
        call = list(state.calls.values())[cmd.line_number - 1]
    else:
        for wanted in COMMANDS[cmd.action]:
            for candidate in state.calls.values():
                if candidate.line_state is wanted:
                    return candidate
        if not state.calls:
            raise CommandRejectedError(f"/{cmd.action}: no active call")
        raise CommandRejectedError(f"/{cmd.action}: no {needs(cmd.action)} call")
    if call.line_state is None:
        raise CommandRejectedError(
            f"/{cmd.action}: call {call.id!r} is not controlled by the telephony connector"
        )
    return call
