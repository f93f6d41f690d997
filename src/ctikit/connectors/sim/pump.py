"""The simulator connector: a thin asyncio pump around :class:`~.model.SimModel`.

It reads the clock, starts the model's timers, feeds due timers back to the model and reports
the model's events to the sink in order. All call behaviour lives in the model. Time and
timers come from an injected :class:`~ctikit.connectors.clock.Clock`: tests give it a
:class:`~ctikit.connectors.clock.ManualClock` and run ring timeouts and delays instantly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...core.model import CallType, CallView, LineState
from ...core.telephony import ConnectorAction, LineStatus, TelephonyEvent
from ..base import ActionFailedError, Capability, EventSink
from ..clock import Clock, LoopClock, Timer
from .callers import random_caller
from .config import Directory, SimTimings
from .lines import SimStep
from .model import SimModel
from .scenario import AttachStep, CallStep, HangupStep, Scenario, load_scenario

log = logging.getLogger(__name__)


class SimulatorConnector:
    """The built-in telephony simulator: a ``Connector`` with every optional part
    (``CallPlacer``, ``CallAdopter``, ``ScenarioRunner``).

    On :meth:`start` every agent of the directory reports its line up; :meth:`stop` reports
    them down and cancels every pending timer and running scenario. ``clock`` gives the time
    and runs the timers (default: the wall clock and the running event loop).
    """

    name = "sim"
    capabilities = frozenset(
        {
            Capability.PLACE_CALLS,
            Capability.ADOPT_CALLS,
            Capability.SCENARIOS,
            Capability.CONSULT,
            Capability.CONFERENCE,
        }
    )

    def __init__(
        self,
        *,
        timings: SimTimings | None = None,
        directory: Directory | None = None,
        clock: Clock | None = None,
        id_factory: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        max_lines: int = 20,
    ) -> None:
        self._timings = timings or SimTimings()
        self._directory = directory or Directory()
        self._id_factory = id_factory
        self._max_lines = max_lines
        self._clock = clock or LoopClock()
        self._rng = rng or random.Random()
        self.model = self._new_model()
        self._sink: EventSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handles: dict[str, Timer] = {}
        self._tasks: set[asyncio.Task[list[str | None]]] = set()
        self._used = False  # a stopped simulator starts again with fresh lines

    def _new_model(self) -> SimModel:
        return SimModel(self._timings, self._directory, self._id_factory, max_lines=self._max_lines)

    @property
    def running(self) -> bool:
        return self._sink is not None

    # ----------------------------------------------------------------- Connector

    async def start(self, sink: EventSink) -> None:
        """Begin reporting to ``sink``. Raises RuntimeError if already running."""
        if self._sink is not None:
            raise RuntimeError("the simulator is already running")
        if self._used:
            self.model = self._new_model()
        self._used = True
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        for agent in self._directory.agents():
            self._report(LineStatus(agent=agent, up=True))

    async def stop(self) -> None:
        """Cancel pending timers and scenarios; report lines down. Idempotent."""
        if self._sink is None:
            return
        for agent in self._directory.agents():
            self._report(LineStatus(agent=agent, up=False, reason="simulator stopped"))
        self._sink = None
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def execute(self, action: ConnectorAction) -> None:
        """Start ``action``; raises :class:`ActionFailedError` if it cannot start."""
        now = self._now_running()
        self._apply(self.model.execute(action, now), now)

    # ----------------------------------------------------------------- CallPlacer

    async def place_inbound_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
        talk_time: float | None = None,
    ) -> str:
        """Ring ``agent``; return the call ID. Missing ANI, DNIS or data are made up."""
        now = self._now_running()
        if ani is None or dnis is None or data is None:
            caller = random_caller(self._rng)
            ani = caller.ani if ani is None else ani
            dnis = caller.dnis if dnis is None else dnis
            data = caller.data if data is None else data
        step = self.model.place_inbound_call(agent, ani, dnis, data, now, talk_time=talk_time)
        self._apply(step, now)
        assert step.call_id is not None
        return step.call_id

    async def adopt_calls(self, calls: Iterable[tuple[str, CallView]]) -> list[str]:
        """After a restart: put ``(agent, call)`` back on the lines (the registry restored
        them from storage). Returns the IDs it could not take (to be released)."""
        if self._sink is None:
            raise ActionFailedError("the telephony simulator is not running")
        refused = []
        for agent, call in calls:
            if call.line_state is None:
                continue
            now = self._clock.time()
            try:
                step = self.model.adopt(
                    agent,
                    call.id,
                    call.call_type,
                    call.line_state,
                    now,
                    outgoing=call.line_state is LineState.DIALING
                    or call.call_type is CallType.OUTBOUND,
                    ani=call.ani,
                    dnis=call.dnis,
                    data=call.data if isinstance(call.data, dict) else {},
                    muted=call.muted,
                )
            except (ActionFailedError, ValueError):
                refused.append(call.id)
                continue
            self._apply(step, now)
        return refused

    # ------------------------------------------------------- the scripted caller

    async def caller_hangup(self, call_id: str) -> None:
        """The caller (the far end) of ``call_id`` hangs up (nothing happens if the call is
        over)."""
        now = self._now_running()
        self._apply(self.model.caller_hangup(call_id, now), now)

    async def attach_data(self, call_id: str, data: Mapping[str, Any]) -> None:
        """The IVR attaches ``data`` to a call still active."""
        now = self._now_running()
        self._apply(self.model.attach_data(call_id, data, now), now)

    def note_data(self, agent: str, call_id: str, data: Mapping[str, Any]) -> None:
        """The server's current data of a call, for a later transfer to carry."""
        self.model.note_data(agent, call_id, data)

    def run_scenario(
        self, scenario: Scenario | str | os.PathLike[str], *, speed: float = 1.0
    ) -> asyncio.Task[list[str | None]]:
        """Play a scenario (object or file) as a task; it returns the IDs of its calls.

        ``speed`` > 1 plays it faster (step times and talk times are divided by it). A file
        that cannot be parsed raises :class:`~.scenario.ScenarioError` here, before any step.
        """
        if self._sink is None or self._loop is None:
            raise RuntimeError("start the simulator before running a scenario")
        if not speed > 0:
            raise ValueError("speed must be > 0")
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        task = self._loop.create_task(self._play(sc, speed), name=f"sim scenario {sc.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _play(self, sc: Scenario, speed: float) -> list[str | None]:
        start = self._clock.time()
        calls: list[str | None] = []
        for step in sc.steps:
            delay = start + step.at / speed - self._clock.time()
            if delay > 0:
                await self._clock.sleep(delay)
            match step:
                case CallStep():
                    talk = None if step.talk_time is None else step.talk_time / speed
                    try:
                        cid: str | None = await self.place_inbound_call(
                            step.agent,
                            ani=step.ani,
                            dnis=step.dnis,
                            data=step.data,
                            talk_time=talk,
                        )
                    except ActionFailedError as exc:  # agent's lines full: the caller gets busy
                        log.warning(
                            "scenario %s: call %d not placed: %s", sc.name, len(calls) + 1, exc
                        )
                        cid = None
                    calls.append(cid)
                case HangupStep():
                    if (cid := calls[step.call - 1]) is not None:
                        await self.caller_hangup(cid)
                case AttachStep():
                    if (cid := calls[step.call - 1]) is not None:
                        await self.attach_data(cid, step.data)
        return calls

    # ------------------------------------------------------------------ the pump

    def _now_running(self) -> float:
        if self._sink is None:
            raise ActionFailedError("the telephony simulator is not running")
        return self._clock.time()

    def _apply(self, step: SimStep, now: float) -> None:
        for tid in step.cancel:
            handle = self._handles.pop(tid, None)
            if handle is not None:
                handle.cancel()
        for timer in step.timers:
            self._handles[timer.id] = self._clock.call_later(
                timer.at - now, functools.partial(self._fire, timer.id)
            )
        for event in step.events:
            self._report(event)

    def _fire(self, timer_id: str) -> None:
        self._handles.pop(timer_id, None)
        if self._sink is None:
            return
        now = self._clock.time()
        self._apply(self.model.timer_fired(timer_id, now), now)

    def _report(self, event: TelephonyEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink.report(event)
        except Exception:
            # The sink promises not to raise; if it does, keep the simulated lines running.
            log.exception("event sink raised on %r", event)
