"""The simulator on a :class:`ManualClock`: every scenario runs in no real time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from ctikit.connectors.clock import ManualClock
from ctikit.connectors.directory import Directory
from ctikit.connectors.sim import SimulatorConnector

from ..rig import REFERENCE, Recorder, Rig

WITHIN = 10.0  # simulated seconds a wait may take (a ring timeout is 30)
SETTLE = 2.0  # simulated seconds for stray events


class SimRig(Rig):
    name = "sim"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        ids = itertools.count(1)
        self.sim = SimulatorConnector(
            directory=Directory({ext: agent for agent, ext in REFERENCE.extensions.items()}),
            clock=clock,
            id_factory=lambda: f"sim-{next(ids):04d}",
            max_lines=2,  # as the SIP lab's agents
        )
        super().__init__(self.sim, Recorder(clock.time))
        self._moving = asyncio.Lock()  # two waiters must not move the clock at once

    def now(self) -> float:
        return self.clock.time()

    async def wait_until(self, cond: Callable[[], bool], *, what: str) -> None:
        # Straight to the next timer each time: exact, and nothing is skipped.
        deadline = self.clock.time() + WITHIN
        while True:
            async with self._moving:
                await self.clock.settle()
                if cond():
                    return
                due = [t for t in self.clock.pending() if t <= deadline]
                if not due:
                    raise AssertionError(f"never happened within {WITHIN} s (simulated): {what}")
                await self.clock.advance(due[0] - self.clock.time())

    async def settle(self) -> None:
        async with self._moving:
            await self.clock.advance(SETTLE)

    async def caller_hangup(self, call_id: str) -> None:
        await self.sim.caller_hangup(call_id)

    async def far_end_hangup(self, call_id: str) -> None:
        await self.sim.caller_hangup(call_id)  # the simulator's far end of any call

    def digits_heard(self, call_id: str) -> str:
        return self.sim.model.digits(call_id)


@asynccontextmanager
async def sim_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = SimRig(ManualClock())
    await rig.sim.start(rig.recorder)
    try:
        yield rig
    finally:
        await rig.sim.stop()
