"""One agent's state, the changes every input ends in, and its persistence.

:class:`AgentState` holds one agent's active calls (arrival order), a few recently ended
calls (so a call log can still be saved during wrap-up), data set for calls that have not
begun yet, a bounded log of recent events and the agent's sequence number. The registry's
modules change it only through the methods here, so that every event gets the next
sequence number and lands in the log.

The second half turns a state into JSON-ready data and back: :func:`snapshot` /
:func:`restore` (the calls only: a restart, where numbering starts again) and :func:`dump` /
:func:`load` (everything: cluster mode's shared store, where numbering goes on).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from .budget import AGENT_COST, EVENT_COST, ServerBudget, data_cost
from .errors import CtiRequestError, LimitExceededError
from .events import CallBegan, CallEnded, Event
from .jsonvalue import check_json_value
from .model import Call, CallType, CallView, Limits, LineState, check_agent_id


class AgentState:
    """One agent's calls and recent events. Only the registry mutates it.

    It keeps its own memory account (:mod:`.budget`): ``cost`` is what it has charged to
    the server's ``budget``. Active calls' data is the hard part (a change that would not
    fit is refused: :meth:`admit`); the event log, recently ended calls and pending data
    are the soft part, dropped oldest first when the agent's or the server's budget is
    over (:meth:`trim`): a console then resyncs from a snapshot instead of a replay.
    """

    __slots__ = (
        "_memo",
        "agent",
        "budget",
        "calls",
        "cost",
        "ended",
        "limits",
        "line_up",
        "log",
        "log_cost",
        "log_costs",
        "pending_data",
        "seq",
    )

    def __init__(self, agent: str, limits: Limits, budget: ServerBudget | None = None) -> None:
        self.agent = agent
        self.limits = limits
        self.budget = budget or ServerBudget(limits.server_memory_bytes)
        self.calls: OrderedDict[str, Call] = OrderedDict()
        self.ended: OrderedDict[str, Call] = OrderedDict()
        self.pending_data: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict()
        self.log: deque[Event] = deque()
        self.log_costs: deque[int] = deque()
        self.log_cost = 0
        self.seq = 0
        self.line_up: bool | None = None
        self.cost = 0  # charged to budget: nothing until the registry keeps this state
        # id(data) -> (data, its cost): data kept by the state is priced once.
        self._memo: dict[int, tuple[Any, int]] = {}

    # ---------------------------------------------------------------- budget

    def cost_of(self, data: Any) -> int:
        """:func:`.budget.data_cost` of ``data``, priced once while the state holds it."""
        known = self._memo.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        cost = data_cost(data)
        self._memo[id(data)] = (data, cost)
        return cost

    def _data_costs(self, *, forget: bool = True) -> tuple[int, int]:
        """(active calls' data, recent calls' and pending data); ``forget``: drop the
        prices of data the state no longer holds."""
        old = self._memo
        if forget:
            self._memo = {}
        hard = soft = 0
        for group, is_hard in ((self.calls, True), (self.ended, False)):
            for call in group.values():
                known = old.get(id(call.data))
                cost = known[1] if known and known[0] is call.data else data_cost(call.data)
                self._memo[id(call.data)] = (call.data, cost)
                if is_hard:
                    hard += cost
                else:
                    soft += cost
        for data, _ in self.pending_data.values():
            known = old.get(id(data))
            cost = known[1] if known and known[0] is data else data_cost(data)
            self._memo[id(data)] = (data, cost)
            soft += cost
        return hard, soft

    def admit(self, new_cost: int, old_cost: int = 0) -> None:
        """Refuse (LimitExceededError) active-call data of ``new_cost`` replacing data of
        ``old_cost`` if it cannot fit even once the soft part is dropped."""
        hard = self._data_costs(forget=False)[0] + new_cost - old_cost
        limit = self.limits.agent_memory_bytes
        if hard + AGENT_COST > limit:
            raise LimitExceededError(
                f"the agent's calls would take more than its memory budget ({limit} bytes, "
                "agent_memory_bytes): attach less data"
            )
        others = self.budget.used - self.cost
        if others + hard + AGENT_COST > self.budget.limit and self.budget.reclaim is not None:
            # Other agents' soft state (logs, ended calls) goes before a refusal.
            self.budget.reclaim(others + hard + AGENT_COST - self.budget.limit)
            others = self.budget.used - self.cost
        if others + hard + AGENT_COST > self.budget.limit:
            raise LimitExceededError(
                "the server's memory budget is used up (server_memory_bytes): try again later"
            )

    def recount(self) -> None:
        """Charge what the state holds now to the budget, then :meth:`trim`."""
        hard, soft = self._data_costs()
        self._charge(AGENT_COST + hard + soft + self.log_cost)
        self.trim()

    def _charge(self, cost: int) -> None:
        self.budget.used += cost - self.cost
        self.cost = cost

    def release(self) -> None:
        """Give the state's memory back to the budget (the registry forgets it)."""
        self._charge(0)

    def _over(self) -> bool:
        return self.cost > self.limits.agent_memory_bytes or self.budget.used > self.budget.limit

    def trim(self) -> None:
        """Drop the soft part, oldest first, while a budget is over: the event log, then
        recently ended calls, then pending data."""
        while self._over():
            if self.log:
                self._drop_logged()
            elif self.ended:
                self.ended.popitem(last=False)
                self.recount_only()
            elif self.pending_data:
                self.pending_data.popitem(last=False)
                self.recount_only()
            else:
                return

    def shed(self) -> None:
        """Drop the whole soft part (the server needs the room for another agent)."""
        self.log.clear()
        self.log_costs.clear()
        self.log_cost = 0
        self.ended.clear()
        self.pending_data.clear()
        self.recount_only()

    def recount_only(self) -> None:
        hard, soft = self._data_costs()
        self._charge(AGENT_COST + hard + soft + self.log_cost)

    def _drop_logged(self) -> None:
        self.log.popleft()
        cost = self.log_costs.popleft()
        self.log_cost -= cost
        self._charge(self.cost - cost)

    def log_event(self, event: Event, cost: int) -> None:
        """Keep ``event`` for replay, within the log's count and byte budgets."""
        self.log.append(event)
        self.log_costs.append(cost)
        self.log_cost += cost
        self._charge(self.cost + cost)
        limits = self.limits
        while len(self.log) > limits.event_log_size or self.log_cost > limits.event_log_bytes:
            self._drop_logged()
        if self._over():
            self.trim()

    def emit(self, cls: type[Any], now: float, **fields: Any) -> Event:
        """Make an event of ``cls`` with the next sequence number and log it."""
        self.seq += 1
        event: Event = cls(agent=self.agent, seq=self.seq, at=now, **fields)
        call = fields.get("call")
        cost = EVENT_COST + (self.cost_of(call.data) if call is not None else 0)
        message = fields.get("message")
        if isinstance(message, str):
            cost += len(message)
        self.log_event(event, cost)
        return event

    def add_call(self, call: Call, now: float) -> list[Event]:
        """A new active call (last in arrival order), with any data set for it earlier."""
        if len(self.calls) >= self.limits.max_active_calls:
            raise LimitExceededError(
                f"at most {self.limits.max_active_calls} active calls per agent"
            )
        pending = self.pending_data.get(call.id)
        self.admit(self.cost_of(pending[0] if pending is not None else call.data))
        self.apply_pending(call)
        self.ended.pop(call.id, None)
        self.calls[call.id] = call
        self.recount()
        return [self.emit(CallBegan, now, call=call.view())]

    def apply_pending(self, call: Call) -> None:
        """Give ``call`` the data (and type) set for it before it began."""
        pending = self.pending_data.pop(call.id, None)
        if pending is not None:
            data, ctype = pending
            call.data = data
            if ctype is not None:
                call.call_type = ctype

    def finish(
        self,
        cid: str,
        *,
        now: float,
        duration: float | None,
        disposition: str,
        reason: str | None,
    ) -> list[Event]:
        """End the active call ``cid``: it moves to the recently ended calls."""
        call = self.calls.pop(cid)
        call.ended_at = now
        call.duration = duration if duration is not None else max(0.0, now - call.started_at)
        call.disposition = disposition
        self.ended[cid] = call
        while len(self.ended) > self.limits.max_recent_ended:
            self.ended.popitem(last=False)
        self.recount()
        return [
            self.emit(
                CallEnded,
                now,
                call=call.view(),
                duration=call.duration,
                disposition=disposition,
                reason=reason,
            )
        ]


# ------------------------------------------------------------------ persistence


def snapshot(state: AgentState) -> dict[str, Any]:
    """The agent's calls as JSON-ready data, to survive a restart (see :func:`restore`)."""
    return {
        "calls": [_call_to_dict(c) for c in state.calls.values()],
        "ended": [_call_to_dict(c) for c in state.ended.values()],
    }


def restore(state: AgentState, saved: object) -> list[CallView]:
    """Put back calls saved by :func:`snapshot`; returns the restored active calls. A
    malformed snapshot raises CtiRequestError and changes nothing."""
    if not isinstance(saved, dict):
        raise CtiRequestError("call state snapshot must be an object")
    try:
        calls = [_call_from_dict(d) for d in saved.get("calls", [])]
        ended = [_call_from_dict(d) for d in saved.get("ended", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise CtiRequestError(f"call state snapshot is malformed: {exc}") from None
    limits = state.limits
    state.calls = OrderedDict((c.id, c) for c in calls[: limits.max_active_calls])
    state.ended = OrderedDict((c.id, c) for c in ended[-limits.max_recent_ended :])
    state.recount()
    return [c.view() for c in state.calls.values()]


def dump(state: AgentState) -> dict[str, Any]:
    """The agent's whole state (calls, recent calls, pending data, line status and
    sequence number) as JSON-ready data, for a shared state store (see :func:`load`)."""
    return {
        **snapshot(state),
        "seq": state.seq,
        "line_up": state.line_up,
        "pending": [
            [cid, data, ctype.value if ctype else None]
            for cid, (data, ctype) in state.pending_data.items()
        ],
    }


def load(
    agent: str, saved: object, limits: Limits, budget: ServerBudget | None = None
) -> AgentState:
    """A new state for ``agent`` made from :func:`dump`'s data (sequence number included:
    numbering goes on where the dump left it). Raises CtiRequestError if it is malformed."""
    check_agent_id(agent)
    if not isinstance(saved, dict):
        raise CtiRequestError("agent state must be an object")
    seq, line_up = saved.get("seq", 0), saved.get("line_up")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
        raise CtiRequestError("agent state: seq must be a non-negative integer")
    if line_up is not None and not isinstance(line_up, bool):
        raise CtiRequestError("agent state: line_up must be true, false or null")
    try:
        pending: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict(
            (str(cid), (data, CallType(ctype) if ctype else None))
            for cid, data, ctype in saved.get("pending", [])
        )
        check_json_value([d for d, _ in pending.values()], "pending data")
    except (TypeError, ValueError) as exc:
        raise CtiRequestError(f"agent state: pending data is malformed: {exc}") from None
    state = AgentState(agent, limits, budget)
    state.pending_data = OrderedDict(list(pending.items())[-limits.max_pending_data :])
    restore(state, saved)  # and charges the budget
    state.seq, state.line_up = seq, line_up
    return state


_CALL_FIELDS = (
    "id",
    "label",
    "data",
    "started_at",
    "begun",
    "muted",
    "answered_at",
    "ended_at",
    "duration",
    "disposition",
    "ani",
    "dnis",
)


def _call_to_dict(call: Call) -> dict[str, Any]:
    out = {name: getattr(call, name) for name in _CALL_FIELDS}
    out["call_type"] = call.call_type.value
    out["line_state"] = call.line_state.value if call.line_state else None
    return out


def _call_from_dict(raw: Any) -> Call:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ValueError("a call needs an id")
    check_json_value(raw, "call state")
    return Call(
        **{name: raw[name] for name in _CALL_FIELDS if name in raw and name != "id"},
        id=raw["id"],
        call_type=CallType(raw["call_type"]),
        line_state=LineState(raw["line_state"]) if raw.get("line_state") else None,
    )
