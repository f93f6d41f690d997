"""CTI commands (``sendCTIMessage("/HOLD")``...) checked against one agent's calls.

:func:`resolve_command` decides whether a parsed :class:`~ctikit.core.commands.CtiCommand`
can be carried out now and names the call it acts on: the one given by ``CALL_ID`` or
``LINE_NUMBER``, else the first call (in arrival order) in the first line state the
transitions table lists for the command. It changes nothing: the connector carries the
action out and reports what happened as telephony events.
"""

from __future__ import annotations

from . import telephony as tel
from .agentstate import AgentState
from .commands import Action, CtiCommand
from .errors import CommandRejectedError
from .model import Call
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
        data=call.data if cmd.action is Action.TRANSFER else None,
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
