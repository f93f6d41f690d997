"""Test helpers: drive a SimModel with a controlled clock, the way the asyncio pump would."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ctikit.connectors.sim import Directory, SimModel, SimStep, SimTimings, Timer
from ctikit.core.commands import Action
from ctikit.core.telephony import ConnectorAction, TelephonyEvent

AGENTS = ("agent1", "agent2", "agent3")
START = 1_000_000.0


def counter_ids(prefix: str = "sim-") -> Callable[[], str]:
    """Deterministic call IDs: sim-000000000001, sim-000000000002..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):012x}"


class Driver:
    """A SimModel, the time, and the timers a pump would have started.

    Every step the model returns goes through :meth:`feed`, which checks it is consistent with
    the timers already started (a cancelled or scheduled timer must be one we know, and due
    in the future).
    """

    def __init__(
        self,
        timings: SimTimings | None = None,
        agents: tuple[str, ...] = AGENTS,
        max_lines: int = 20,
        on_event: Callable[[TelephonyEvent, float], None] | None = None,
    ) -> None:
        self.model = SimModel(
            timings or SimTimings(),
            Directory.numbered(agents),
            counter_ids(),
            max_lines=max_lines,
        )
        self.now = START
        self.events: list[TelephonyEvent] = []
        self.pending: dict[str, Timer] = {}
        self._taken = 0
        self._on_event = on_event

    def feed(self, step: SimStep) -> SimStep:
        for tid in step.cancel:
            assert tid in self.pending, f"cancelled unknown timer {tid}"
            del self.pending[tid]
        for timer in step.timers:
            assert timer.id not in self.pending, f"timer {timer.id} started twice"
            assert timer.at >= self.now, f"timer {timer} is due in the past"
            self.pending[timer.id] = timer
        for ev in step.events:
            self.events.append(ev)
            if self._on_event is not None:
                self._on_event(ev, self.now)
        assert {t.id for t in self.model.timers()} == set(self.pending)
        return step

    def take(self) -> list[TelephonyEvent]:
        """Events since the last take."""
        new = self.events[self._taken :]
        self._taken = len(self.events)
        return new

    # -------------------------------------------------------------- inputs

    def place(
        self,
        agent: str = "agent1",
        *,
        ani: str | None = "+14155550123",
        dnis: str | None = "+18005550199",
        data: dict[str, Any] | None = None,
        talk_time: float | None = None,
    ) -> str:
        step = self.feed(
            self.model.place_inbound_call(agent, ani, dnis, data, self.now, talk_time=talk_time)
        )
        assert step.call_id is not None
        return step.call_id

    def do(
        self,
        agent: str,
        action: Action,
        call_id: str | None = None,
        *,
        number: str | None = None,
        digits: str | None = None,
    ) -> SimStep:
        act = ConnectorAction(
            agent=agent, action=action, call_id=call_id, number=number, digits=digits
        )
        return self.feed(self.model.execute(act, self.now))

    def fire(self, timer: Timer) -> SimStep:
        del self.pending[timer.id]
        self.now = max(self.now, timer.at)
        return self.feed(self.model.timer_fired(timer.id, self.now))

    def next_timer(self) -> Timer | None:
        # Ties are broken by start order, as asyncio's call_at would for equal times.
        return min(self.pending.values(), key=lambda t: (t.at, int(t.id[1:])), default=None)

    def advance(self, seconds: float) -> list[TelephonyEvent]:
        """Move the clock ``seconds`` on, firing the timers due; return the new events."""
        until = self.now + seconds
        while (timer := self.next_timer()) is not None and timer.at <= until:
            self.fire(timer)
        self.now = until
        return self.take()

    def run_all(self, limit: int = 10_000) -> list[TelephonyEvent]:
        """Fire every timer (and those they start) until none is left."""
        for _ in range(limit):
            timer = self.next_timer()
            if timer is None:
                return self.take()
            self.fire(timer)
        raise AssertionError("timers never ran out")


def names(events: list[TelephonyEvent]) -> list[tuple[str, str, str | None]]:
    """(event class, agent, call ID) of each event: short to compare in asserts."""
    return [(type(e).__name__, e.agent, getattr(e, "call_id", None)) for e in events]


def cid_of(ev: TelephonyEvent) -> str:
    """The call ID an event names (it must name one)."""
    value = getattr(ev, "call_id", None)
    assert isinstance(value, str), f"{ev} names no call"
    return value
