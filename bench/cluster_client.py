"""The load client of the cluster scenario: the lean client plus a call-cycle driver.

``python -m bench.cluster_client --cpu 1`` (started by ``python -m bench cluster``). It is
:class:`bench.client.LoadClient` (raw asyncio sockets; every event's seq checked, latency
from ``at``) with one more command, ``cycles``: components' call life cycles sent as console
requests over the sockets it holds, each of which commits one event of that agent:

    fireOnCallBegin -> setCallAttachedData -> fireOnCallEnd -> (next call) ...

An agent has at most one request in flight (its next step waits for the answer), and its
requests alternate between its sockets, so an agent whose frames are on two nodes changes
its state through both. ``rate`` sends open-loop at that many requests per second over the
agents in turn; ``inflight`` instead keeps that many requests outstanding (the most the
servers can commit). Sockets may be connected to different servers: ``connect`` is called
once per node with that node's port.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from collections import Counter
from typing import Any

import msgspec

from . import sysinfo
from .client import LoadClient, _encode
from .control import serve_control
from .leanws import Slot

#: How far (s) the open-loop sender may fall behind before it drops what it could not send.
MAX_LAG = 0.5
#: Least time between two requests of one agent: the server allows a socket 50 requests/s
#: on average (a console over that gets ``rate_limited`` answers without the request's id).
MIN_GAP = 1 / 40
_DATA = msgspec.json.encode({"queue": "US Support", "account": "A-42", "verified": True}).decode()


class _Error(msgspec.Struct):
    id: Any = None
    error: str = ""
    code: str = ""


_decode_error = msgspec.json.Decoder(_Error).decode
_QUOTED = re.compile(r"'[^']*'")  # call IDs in error messages: one key per kind of error


class _Agent:
    __slots__ = ("agent", "call", "last_rid", "last_t", "slots", "stage", "turn")

    def __init__(self, agent: str, slots: list[Slot]) -> None:
        self.agent = agent
        self.slots = slots
        self.stage = 0
        self.call = 0
        self.turn = 0
        self.last_rid = 0
        self.last_t = 0.0


class ClusterLoadClient(LoadClient):
    def __init__(self) -> None:
        super().__init__()
        self.request_errors: Counter[str] = Counter()
        self._rid = 0
        self._run_tag = 0
        self._by_rid: dict[int, _Agent] = {}

    def on_text(self, slot: Slot, payload: bytes, now: float) -> None:
        super().on_text(slot, payload, now)
        if b'"success":false' in payload:
            try:
                err = _decode_error(payload)
            except msgspec.DecodeError:
                self.request_errors["undecodable error"] += 1
                return
            message = _QUOTED.sub("'…'", err.error)[:100]
            self.request_errors[f"{err.code}: {message}"] += 1
            ag = self._by_rid.get(err.id) if isinstance(err.id, int) else None
            if ag is not None and ag.last_rid == err.id:
                # A step failed: that call is abandoned, the agent's next step begins a new one.
                ag.stage = 0
                ag.call += 1

    def _body(self, a: _Agent) -> dict[str, Any]:
        call_id = f"{a.agent}-r{self._run_tag}-c{a.call}"
        if a.stage == 0:
            return {
                "op": "fireOnCallBegin",
                "callId": call_id,
                "callType": "INBOUND",
                "label": "+14155550100",
            }
        if a.stage == 1:
            return {
                "op": "setCallAttachedData",
                "callId": call_id,
                "data": _DATA,
                "callType": "INBOUND",
            }
        return {"op": "fireOnCallEnd", "callId": call_id, "duration": 42, "disposition": "resolved"}

    def _send_next(self, a: _Agent) -> None:
        live = [s for s in a.slots if s.sock is not None and s.sock.open]
        if not live:
            return
        slot = live[a.turn % len(live)]
        a.turn += 1
        body = self._body(a)
        self._rid += 1
        body["id"] = self._rid
        a.last_rid = self._rid
        self._by_rid[self._rid] = a
        self.pending[self._rid] = time.perf_counter()
        assert slot.sock is not None
        slot.sock.send(_encode(body))
        a.stage = (a.stage + 1) % 3
        if a.stage == 0:
            a.call += 1

    async def cmd_cycles(self, a: dict[str, Any]) -> dict[str, Any]:
        """Drive call cycles for ``duration`` s: open-loop at ``rate`` requests/s, or with
        ``inflight`` requests outstanding; then wait (``drain`` s) for every answer."""
        duration = float(a["duration"])
        rate = a.get("rate")
        inflight = a.get("inflight")
        self._run_tag = int(a.get("tag", 0))
        self._by_rid = {}
        by_agent: dict[str, list[Slot]] = {}
        for s in self.slots:
            by_agent.setdefault(s.agent, []).append(s)
        agents = [_Agent(name, slots) for name, slots in by_agent.items()]
        random.Random(a.get("seed", 1)).shuffle(agents)
        if not agents:
            raise RuntimeError("no sockets")
        pending = self.pending
        n = len(agents)
        nxt = 0
        sent = dropped = busy = 0
        t_start = time.time()
        t0 = time.perf_counter()
        end = t0 + duration
        while (now := time.perf_counter()) < end:
            want = (
                int((now - t0) * float(rate)) + 1 - sent - dropped
                if rate is not None
                else int(inflight) - len(pending)
            )
            if rate is not None and want > float(rate) * MAX_LAG:
                dropped += want - int(float(rate) * MAX_LAG)
                want = int(float(rate) * MAX_LAG)
            scanned = 0
            while want > 0 and scanned < n:
                ag = agents[nxt]
                nxt = (nxt + 1) % n
                scanned += 1
                if ag.last_rid in pending or now - ag.last_t < MIN_GAP:
                    busy += 1  # its previous step is not answered yet: the next agent
                    continue
                ag.last_t = now
                self._send_next(ag)
                sent += 1
                want -= 1
                scanned = 0
            await asyncio.sleep(0.001)
        t_sent = time.time()
        deadline = time.perf_counter() + a.get("drain", 20)
        while pending and time.perf_counter() < deadline:  # noqa: ASYNC110 (polling)
            await asyncio.sleep(0.005)
        return {
            "sent": sent,
            "dropped": dropped,
            "busy_skips": busy,
            "unanswered": len(pending),
            "t_start": t_start,
            "t_sent": t_sent,
            "t_answered": time.time(),
            "agents": n,
        }

    async def cmd_stats(self, a: dict[str, Any]) -> dict[str, Any]:
        out = await super().cmd_stats(a)
        out["request_errors"] = dict(self.request_errors)
        return out

    def reset(self) -> None:
        super().reset()
        self.request_errors = Counter()


async def amain() -> None:
    client = ClusterLoadClient()
    handlers = {name[4:]: getattr(client, name) for name in dir(client) if name.startswith("cmd_")}
    await serve_control(handlers, {"nofile": sysinfo.raise_nofile()})
    await client.cmd_close({"linger": 0.05})


def main() -> None:
    p = argparse.ArgumentParser(description="cluster bench load client (python -m bench)")
    p.add_argument("--cpu", help="CPU(s) to pin to, e.g. 1")
    args = p.parse_args()
    sysinfo.pin(args.cpu)
    asyncio.run(amain())


if __name__ == "__main__":
    main()
