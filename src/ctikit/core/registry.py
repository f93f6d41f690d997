"""The call registry: every agent's call state, as a state machine.

Theory of operation
-------------------
The registry holds one :class:`~ctikit.core.agentstate.AgentState` per agent: the active
calls in arrival order, a few recently ended calls (so the agent can still save a call log
during wrap-up), data set for calls that have not begun yet, and a bounded log of the
agent's recent events.

Every change comes in as a method call with the current time ``now`` (seconds since the
epoch, supplied by the caller: the registry never reads a clock) and returns the list of
events it caused, each stamped with the agent's next sequence number. The registry does no
I/O: the server sends the events to consoles, the connector carries out actions.

Inputs come from three places, each validated in a module of its own:
- components (``fireOnCallBegin``, ``setCallAttachedData``...), :mod:`.components`: bad
  input raises :class:`~ctikit.core.errors.CtiRequestError` and changes nothing;
- the telephony connector (:mod:`ctikit.core.telephony` events), :mod:`.line_events`:
  nonsense, including any transition the table in :mod:`.transitions` does not list, raises
  :class:`~ctikit.core.errors.TelephonyError` and changes nothing;
- CTI commands (``sendCTIMessage``), :mod:`.resolve`: :meth:`CallRegistry.resolve_command`
  checks the call state allows the command (the same table) and names the call it acts on.

:mod:`.agentstate` holds the state itself and its persistence (snapshots for restarts,
dumps for cluster mode's shared store). This class is the front door: it finds the agent's
state and hands it to those modules.

No agent's input can reach another agent's state: every method takes the agent ID and looks
only at that agent's :class:`AgentState`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import agentstate, components, line_events, resolve
from . import telephony as tel
from .agentstate import AgentState
from .budget import ServerBudget
from .commands import CtiCommand
from .errors import CtiRequestError, LimitExceededError, TelephonyError, UnknownCallError
from .events import Event
from .model import CallView, Limits, check_agent_id

__all__ = ["AgentState", "CallRegistry"]


class CallRegistry:
    """All agents' call state. See the module docstring."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        #: Memory of every agent's state together (``Limits.server_memory_bytes``).
        self.budget = ServerBudget(self.limits.server_memory_bytes, reclaim=self._reclaim)
        self._agents: dict[str, AgentState] = {}
        self._pinned: dict[str, int] = {}  # agents with consoles: never evicted

    # ----------------------------------------------------------------- reading

    def agent(self, agent: str) -> AgentState:
        """The agent's state, created empty on first use. At ``Limits.max_agents`` states
        an idle one (no calls, no pending data, no console) is forgotten to make room;
        if none is idle, LimitExceededError."""
        state = self._agents.get(agent)
        if state is None:
            check_agent_id(agent)
            if len(self._agents) >= self.limits.max_agents:
                self._evict_idle()
            state = self._agents[agent] = AgentState(agent, self.limits, self.budget)
            state.recount()
        return state

    def _peek(self, agent: str) -> AgentState:
        """The agent's state for reading: an unknown agent's empty state is not kept."""
        state = self._agents.get(agent)
        if state is None:
            state = AgentState(check_agent_id(agent), self.limits)
        return state

    def has_agent(self, agent: str) -> bool:
        """Whether the registry keeps state for ``agent``."""
        return agent in self._agents

    def _reclaim(self, needed: int) -> None:
        """Shed agents' soft state, longest-known agents first, until ``needed`` bytes
        were freed (or nothing soft is left)."""
        budget = self.budget
        target = budget.used - needed
        for state in self._agents.values():
            if budget.used <= target:
                return
            if state.log or state.ended or state.pending_data:
                state.shed()

    def _evict_idle(self) -> None:
        for name, state in self._agents.items():
            if not (state.calls or state.ended or state.pending_data or name in self._pinned):
                # Its consoles (none now) resync from a snapshot: see events_after.
                del self._agents[name]
                state.release()
                return
        raise LimitExceededError(
            f"the server keeps state for {len(self._agents)} agents, its limit (max_agents), "
            "and none is idle: try again later"
        )

    def pin(self, agent: str) -> None:
        """A console of ``agent`` connected: keep its state (see :meth:`unpin`)."""
        self.agent(agent)
        self._pinned[agent] = self._pinned.get(agent, 0) + 1

    def unpin(self, agent: str) -> None:
        """A console of ``agent`` went away."""
        left = self._pinned.get(agent, 0) - 1
        if left > 0:
            self._pinned[agent] = left
        else:
            self._pinned.pop(agent, None)

    def agents(self) -> list[str]:
        return list(self._agents)

    def call_ids(self, agent: str) -> list[str]:
        """Active call IDs in arrival order (``getCallObjectIds``)."""
        return list(self._peek(agent).calls)

    def calls(self, agent: str) -> list[CallView]:
        return [c.view() for c in self._peek(agent).calls.values()]

    def get_call(self, agent: str, call_id: str) -> CallView:
        """An active call; raises :class:`UnknownCallError` if it is not active."""
        call = self._peek(agent).calls.get(call_id)
        if call is None:
            raise UnknownCallError(f"call {call_id!r} is not active")
        return call.view()

    def find_call(self, agent: str, call_id: str) -> CallView | None:
        """An active or recently ended call (for saving its call log), else None."""
        state = self._peek(agent)
        call = state.calls.get(call_id) or state.ended.get(call_id)
        return call.view() if call else None

    def recent_calls(self, agent: str) -> list[CallView]:
        """Recently ended calls, newest last."""
        return [c.view() for c in self._peek(agent).ended.values()]

    def last_seq(self, agent: str) -> int:
        return self._peek(agent).seq

    def line_up(self, agent: str) -> bool | None:
        return self._peek(agent).line_up

    def events_after(self, agent: str, seq: int) -> list[Event] | None:
        """Events with sequence number > ``seq``, or None if some were already dropped
        (or the cursor is past the agent's numbering: its state was forgotten)."""
        state = self._peek(agent)
        if seq == state.seq:
            return []
        if seq > state.seq or not state.log or state.log[0].seq > seq + 1:
            return None
        return [e for e in state.log if e.seq > seq]

    # ------------------------------------------------------------ persistence

    def snapshot_agent(self, agent: str) -> dict[str, Any]:
        """The agent's calls as JSON-ready data, to survive a restart (see restore_agent)."""
        return agentstate.snapshot(self.agent(agent))

    def restore_agent(self, agent: str, snapshot: object) -> list[CallView]:
        """Put back calls saved by :meth:`snapshot_agent` (at start-up, before any console
        connects). Sequence numbers restart: consoles resync from a snapshot. Returns the
        restored active calls; a malformed snapshot raises CtiRequestError and restores
        nothing."""
        return agentstate.restore(self.agent(agent), snapshot)

    def dump_agent(self, agent: str) -> dict[str, Any]:
        """The agent's whole state (calls, recent calls, pending data, line status and
        sequence number) as JSON-ready data, for a shared state store (see load_agent)."""
        return agentstate.dump(self.agent(agent))

    def load_agent(self, agent: str, dump: object) -> None:
        """Replace the agent's state with one made by :meth:`dump_agent` (sequence number
        included: numbering goes on where the dump left it). Raises CtiRequestError on a
        malformed dump and then changes nothing."""
        state = agentstate.load(agent, dump, self.limits, self.budget)
        old = self._agents.get(agent)
        if old is not None:
            old.release()
        self._agents[agent] = state

    # ------------------------------------------------------ component requests

    def begin_call(
        self, agent: str, call_id: object, call_type: object, label: object = None, *, now: float
    ) -> list[Event]:
        """``fireOnCallBegin``: a component's softphone reports a new call."""
        return components.begin_call(self.agent(agent), call_id, call_type, label, now=now)

    def end_call(
        self, agent: str, call_id: object, duration: object, disposition: object, *, now: float
    ) -> list[Event]:
        """``fireOnCallEnd``: only a call that began earlier can end."""
        return components.end_call(self.agent(agent), call_id, duration, disposition, now=now)

    def set_call_ids(self, agent: str, ids: object, *, now: float) -> list[Event]:
        """``setCallObjectIds``: replace the active list (see :func:`.components.set_call_ids`)."""
        return components.set_call_ids(self.agent(agent), ids, now=now)

    def set_attached_data(
        self, agent: str, call_id: object, data_json: object, call_type: object, *, now: float
    ) -> list[Event]:
        """``setCallAttachedData``: replace a call's data (a JSON string) and type; kept for
        a call that has not begun yet, and applied when it begins."""
        return components.set_attached_data(
            self.agent(agent), call_id, data_json, call_type, now=now
        )

    def attach_data(self, agent: str, call_id: object, data: object, *, now: float) -> list[Event]:
        """Merge keys into a call's data (the REST API and IVRs use this)."""
        return components.attach_data(self.agent(agent), call_id, data, now=now)

    def call_log_saved(self, agent: str, log_id: object, *, now: float) -> list[Event]:
        """``fireOnCallLogSaved``, or the interaction log saved a call log."""
        return components.call_log_saved(self.agent(agent), log_id, now=now)

    def cti_message(self, agent: str, message: str, *, now: float) -> list[Event]:
        """``sendCTIMessage``: every ``onSendCTIMessage`` handler hears of it."""
        return components.cti_message(self.agent(agent), message, now=now)

    def custom_event(
        self, agent: str, event_type: object, message: object, *, now: float
    ) -> list[Event]:
        """``sforce.console.fireEvent``."""
        return self.custom_events([agent], event_type, message, now=now)

    def custom_events(
        self, agents: Sequence[str], event_type: object, message: object, *, now: float
    ) -> list[Event]:
        """The same custom event for each of ``agents`` (a campaign start): checked once,
        then one event per agent, in each agent's own sequence. Agent IDs are checked
        before any event is emitted, so a bad one fires none.

        Only agents with state (a console connected, or calls) get the event: an agent
        the server has no state for has no console to hear it, and a later console starts
        from a snapshot anyway. So a campaign to made-up IDs creates nothing (issue 13, F4).
        """
        checked_type, checked_message = components.check_custom_event(
            event_type, message, max_bytes=self.limits.max_data_bytes
        )
        known = self._agents
        for agent in agents:
            if agent not in known:
                check_agent_id(agent)
        return [
            components.custom_event(state, checked_type, checked_message, now=now)
            for state in (known.get(agent) for agent in agents)
            if state is not None
        ]

    # -------------------------------------------------------------- CTI commands

    def resolve_command(self, agent: str, cmd: CtiCommand) -> tel.ConnectorAction:
        """Check ``cmd`` can be carried out now and name the call it acts on."""
        return resolve.resolve_command(self.agent(agent), cmd)

    # --------------------------------------------------------- telephony events

    def apply(self, event: tel.TelephonyEvent, *, now: float) -> list[Event]:
        """Map a connector's event onto the agent's call state (:mod:`.line_events`)."""
        try:
            state = self.agent(event.agent)
        except CtiRequestError as exc:
            raise TelephonyError(f"connector named a bad agent: {exc.message}") from None
        return line_events.apply(state, event, now=now)

    def check_offered_data(
        self, ani: str | None, dnis: str | None, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The attached data a call offered with these values would have (ANI and DNIS
        first); raises CtiRequestError if the registry would refuse it."""
        return line_events.check_offered_data(self.limits, ani, dnis, data)
