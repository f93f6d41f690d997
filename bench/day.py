"""The contact-centre day: calls arriving by a Poisson process, each one the full life cycle.

Each call goes to a random idle agent: it rings (``callBegin``), the IVR attaches data
(``callUpdate``), the agent answers (``ctiMessage`` /ANSWER, then ``callUpdate`` when the
line is connected), the caller hangs up (``callEnd``), the agent saves the call log after
wrap-up (``callLogSaved``): six events per call. A call that finds no idle agent is counted
as abandoned. The same schedule drives ctikit (through its service and simulator) and the
baselines (which publish frames of the same shape), so both carry the same event stream.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from .stats import Samples


@dataclass(frozen=True, slots=True)
class DayParams:
    """Rates and delays of the day (seconds)."""

    rate: float = 20.0  # calls per second, Poisson arrivals
    duration: float = 20.0  # arrivals stop after this; calls in progress finish
    attach_after: float = 0.3  # the IVR attaches data this long after the call rings
    ring: float = 1.0  # the agent answers this long after the call rang
    talk: float = 3.0  # the caller hangs up this long after the answer
    wrap: float = 1.0  # the agent saves the call log this long after the call ended
    seed: int = 1
    drain_timeout: float = 30.0


class DayActions(Protocol):
    """What a server does for each step of a call."""

    async def begin(self, agent: str) -> str: ...

    async def attach(self, agent: str, call_id: str) -> None: ...

    async def answer(self, agent: str, call_id: str) -> None: ...

    async def hangup(self, agent: str, call_id: str) -> None: ...

    async def save_log(self, agent: str, call_id: str) -> None: ...


async def run_day(actions: DayActions, agents: list[str], p: DayParams) -> dict[str, Any]:
    """Play the day; return counts, the schedule's lag and throughput."""
    rng = random.Random(p.seed)
    idle = list(agents)
    loop = asyncio.get_running_loop()
    counts: Counter[str] = Counter()
    lag = Samples()
    tasks: set[asyncio.Task[None]] = set()

    async def flow(agent: str) -> None:
        try:
            cid = await actions.begin(agent)
            counts["calls"] += 1
            await asyncio.sleep(p.attach_after)
            await actions.attach(agent, cid)
            await asyncio.sleep(max(0.0, p.ring - p.attach_after))
            await actions.answer(agent, cid)
            await asyncio.sleep(p.talk)
            await actions.hangup(agent, cid)
            counts["ended"] += 1
            await asyncio.sleep(p.wrap)
            await actions.save_log(agent, cid)
            counts["call_logs"] += 1
        except Exception as exc:
            counts[f"error {type(exc).__name__}: {exc}"[:120]] += 1
        finally:
            idle.append(agent)

    start_wall = time.time()
    t0 = loop.time()
    at = 0.0
    while True:
        at += rng.expovariate(p.rate)
        if at >= p.duration:
            break
        delay = t0 + at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.add((loop.time() - t0 - at) * 1000.0)
        if not idle:
            counts["abandoned"] += 1
            continue
        i = rng.randrange(len(idle))
        idle[i], idle[-1] = idle[-1], idle[i]
        task = loop.create_task(flow(idle.pop()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    arrivals_s = loop.time() - t0
    if tasks:
        await asyncio.wait(set(tasks), timeout=p.drain_timeout)
    for task in list(tasks):
        task.cancel()
    total_s = loop.time() - t0
    return {
        "params": asdict(p),
        "counts": dict(counts),
        "arrivals_s": arrivals_s,
        "total_s": total_s,
        "t0": start_wall,
        "call_logs_per_s": counts["call_logs"] / total_s if total_s else 0.0,
        "schedule_lag_ms": lag.summary(),
        "unfinished": len(tasks),
    }
