"""The load-client process: many lean console sockets, driven over the control channel.

``python -m bench.client --cpu 1`` (the orchestrator starts it). It counts events, checks
each socket's ``seq`` (gaps are lost events, repeats are duplicates), measures the delay from
an event's server timestamp ``at`` to its arrival (same machine, same ``time.time()`` clock)
and the round trip of requests. It reports its own CPU time so that a client-bound number is
never taken for the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import socket
import time
from collections import Counter
from typing import Any

import msgspec

from . import sysinfo
from .control import serve_control
from .leanws import LeanSocket, Slot
from .stats import Samples

MAX_VALUES_SENT = 200_000  # raw latency samples a client hands the orchestrator
BACKOFF_MIN = 0.25  # the console's reconnect back-off (web/console/connection.js)
BACKOFF_MAX = 5.0


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux >= 4.2


async def _connected(
    loop: asyncio.AbstractEventLoop, src: str, host: str, port: int
) -> socket.socket:
    """A TCP socket from source address ``src`` connected to ``host:port``.

    The source port is chosen at connect time, not at bind time (IP_BIND_ADDRESS_NO_PORT):
    ``bind((src, 0))`` must find a port no socket holds, and 10,000 ports in TIME_WAIT from
    the previous run made that search cost the client whole seconds of system time
    (bench/results/reconnect-diagnosis-20261125.txt); ``connect`` only needs a free 4-tuple
    and may reuse TIME_WAIT ones on loopback (net.ipv4.tcp_tw_reuse=2, the default).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((src, 0))
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class Frame(msgspec.Struct):
    """The fields of a server frame the client looks at (the rest is skipped by msgspec)."""

    type: str
    seq: int = -1
    at: float = 0.0
    id: Any = None
    epoch: str | None = None
    resumed: str | None = None
    success: bool = True


_decode = msgspec.json.Decoder(Frame).decode
_encode = msgspec.json.Encoder().encode


class LoadClient:
    """Sockets and counters of one client process (see the module docstring)."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.sources: list[str] = ["127.0.0.1"]
        self.path_prefix = "/ws"
        self.origin: str | None = None
        self.attempt_timeout = 60.0
        self.spread = False
        self.reset()

    # --------------------------------------------------------------- counters

    def reset(self) -> None:
        self.events = 0
        self.lost = 0
        self.dup = 0
        self.bad = 0
        self.latency = Samples()
        self.rtt = Samples()
        self.t_first = 0.0
        self.t_last = 0.0
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()
        self.resumed: Counter[str] = Counter()
        self.lost_sockets = 0
        self.retries = 0
        self.errors: Counter[str] = Counter()
        self.pending: dict[int, float] = {}
        self.responses = 0
        self.failed_responses = 0
        self._waiting = 0
        self._all_reached: asyncio.Future[None] | None = None
        self._hellos_left = 0
        self._all_hello: asyncio.Future[None] | None = None

    # ---------------------------------------------------------------- sockets

    def on_text(self, slot: Slot, payload: bytes, now: float) -> None:
        try:
            fr = _decode(payload)
        except msgspec.DecodeError:
            self.bad += 1
            return
        kind = fr.type
        if kind == "event":
            self.events += 1
            if not self.t_first:
                self.t_first = now
            self.t_last = now
            self.latency.add((now - fr.at) * 1000.0)
            seq, last = fr.seq, slot.last_seq
            if seq == last + 1:
                slot.last_seq = seq
            elif seq <= last:
                self.dup += 1
            else:
                self.lost += seq - last - 1
                slot.last_seq = seq
            target = slot.target
            if target is not None and slot.last_seq >= target:
                slot.target = None
                self._reached()
        elif kind == "response":
            sent = self.pending.pop(fr.id, None) if isinstance(fr.id, int) else None
            if sent is not None:
                self.rtt.add((time.perf_counter() - sent) * 1000.0)
                self.responses += 1
                if not fr.success:
                    self.failed_responses += 1
        elif kind == "hello":
            slot.last_seq = fr.seq
            slot.epoch = fr.epoch
            slot.resumed = fr.resumed
            self.resumed[fr.resumed or "fresh"] += 1
            if slot.hello is not None and not slot.hello.done():
                slot.hello.set_result(None)
            if self._all_hello is not None:
                self._hellos_left -= 1
                if self._hellos_left <= 0 and not self._all_hello.done():
                    self._all_hello.set_result(None)
            target = slot.target
            if target is not None and slot.last_seq >= target:
                slot.target = None
                self._reached()

    def on_lost(self, slot: Slot, sock: LeanSocket) -> None:
        self.lost_sockets += 1
        if sock.hello is not None and not sock.hello.done():
            sock.hello.set_exception(ConnectionError("closed before hello"))

    def _reached(self) -> None:
        self._waiting -= 1
        if self._waiting <= 0 and self._all_reached is not None:
            if not self._all_reached.done():
                self._all_reached.set_result(None)

    def _path(self, slot: Slot, resume: bool) -> str:
        path = f"{self.path_prefix}?agent={slot.agent}"
        if resume and slot.last_seq >= 0:
            path += f"&since={slot.last_seq}"
            if slot.epoch:
                path += f"&epoch={slot.epoch}"
        return path

    async def _open(self, slot: Slot, n: int, resume: bool, within: float) -> None:
        """Connect until the hello arrives or ``within`` seconds pass. An attempt that fails
        or has no hello after ``attempt_timeout`` s is retried after the console's back-off
        (250 ms doubling to 5 s, +-25 % jitter). With ``spread``, the first attempt also
        waits the first back-off, as a console that just lost its socket does."""
        loop = asyncio.get_running_loop()
        deadline = time.perf_counter() + within
        attempt = 0
        if self.spread:
            await asyncio.sleep(BACKOFF_MIN * random.uniform(0.75, 1.25))
            attempt = 1
        while True:
            slot.hello = loop.create_future()
            left = min(deadline - time.perf_counter(), self.attempt_timeout)
            try:
                await asyncio.wait_for(self._attempt(slot, n, resume, loop), max(0.1, left))
                return
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                if slot.sock is not None:
                    slot.sock.abort()
            backoff = min(BACKOFF_MAX, BACKOFF_MIN * 2**attempt) * random.uniform(0.75, 1.25)
            attempt += 1
            if time.perf_counter() + backoff >= deadline:
                return
            self.retries += 1
            await asyncio.sleep(backoff)

    async def _attempt(
        self, slot: Slot, n: int, resume: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        src = self.sources[n % len(self.sources)]
        host = f"{self.host}:{self.port}"
        path = self._path(slot, resume)
        _, sock = await loop.create_connection(
            lambda: LeanSocket(self, slot, host, path, self.origin),
            sock=await _connected(loop, src, self.host, self.port),
        )
        slot.sock = sock
        assert slot.hello is not None
        await slot.hello

    async def _open_all(
        self, slots: list[Slot], concurrency: int, resume: bool, within: float
    ) -> None:
        if concurrency <= 0:
            await asyncio.gather(*(self._open(s, i, resume, within) for i, s in enumerate(slots)))
            return
        gate = asyncio.Semaphore(concurrency)

        async def one(slot: Slot, i: int) -> None:
            async with gate:
                await self._open(slot, i, resume, within)

        await asyncio.gather(*(one(s, i) for i, s in enumerate(slots)))

    # --------------------------------------------------------------- commands

    async def cmd_connect(self, a: dict[str, Any]) -> dict[str, Any]:
        """Open ``per_agent`` sockets for each of ``agents``; wait for every hello."""
        self.host, self.port = a.get("host", "127.0.0.1"), int(a["port"])
        self.sources = a.get("sources") or ["127.0.0.1"]
        self.path_prefix = a.get("path", "/ws")
        self.origin = a.get("origin")
        new = [Slot(agent, i) for agent in a["agents"] for i in range(a.get("per_agent", 1))]
        self.slots.extend(new)
        t0 = time.perf_counter()
        await self._open_all(new, a.get("concurrency", 256), False, a.get("timeout", 60))
        opened = sum(1 for s in new if s.sock is not None and s.sock.open)
        for s in new:
            s.mark = s.last_seq
        return {
            "opened": opened,
            "wanted": len(new),
            "seconds": time.perf_counter() - t0,
            "errors": dict(self.errors),
        }

    async def cmd_reset(self, a: dict[str, Any]) -> dict[str, Any]:
        """Zero the counters; ``wait`` with ``relative`` counts from here."""
        self.reset()
        for s in self.slots:
            s.mark = s.last_seq
        return {}

    async def cmd_mark(self, a: dict[str, Any]) -> dict[str, Any]:
        """Note every socket's seq now, for a later ``wait`` with ``relative``."""
        for s in self.slots:
            s.mark = s.last_seq
        return {}

    async def cmd_wait(self, a: dict[str, Any]) -> dict[str, Any]:
        """Wait until every socket reached a seq: ``relative`` more events than at the last
        ``reset``, or the per-agent ``seqs`` given; at most ``timeout`` seconds. Returns how
        many sockets fell short and by how many events."""
        loop = asyncio.get_running_loop()
        self._all_reached = loop.create_future()
        self._waiting = 0
        seqs: dict[str, int] | None = a.get("seqs")
        relative = a.get("relative")
        for s in self.slots:
            want = s.mark + relative if relative is not None else (seqs or {}).get(s.agent)
            if want is not None and s.last_seq < want:
                s.target = want
                self._waiting += 1
        t0 = time.perf_counter()
        if self._waiting:
            try:
                await asyncio.wait_for(self._all_reached, a.get("timeout", 60))
            except TimeoutError:
                pass
        short = [s for s in self.slots if s.target is not None]
        missing = sum(s.target - s.last_seq for s in short if s.target is not None)
        for s in short:
            s.target = None
        self._all_reached = None
        return {
            "seconds": time.perf_counter() - t0,
            "short_sockets": len(short),
            "missing": missing,
        }

    async def cmd_stats(self, a: dict[str, Any]) -> dict[str, Any]:
        cpu = time.process_time() - self.cpu0
        wall = time.perf_counter() - self.wall0
        lat = self.latency
        vals = list(lat.values)
        if len(vals) > MAX_VALUES_SENT:
            vals = vals[:: len(vals) // MAX_VALUES_SENT + 1]
        rtt_vals = list(self.rtt.values)
        if len(rtt_vals) > MAX_VALUES_SENT:
            rtt_vals = rtt_vals[:: len(rtt_vals) // MAX_VALUES_SENT + 1]
        return {
            "events": self.events,
            "lost": self.lost,
            "dup": self.dup,
            "bad": self.bad,
            "t_first": self.t_first,
            "t_last": self.t_last,
            "cpu_s": cpu,
            "wall_s": wall,
            "latency": {"n": len(lat), "max": lat.max, "values": vals},
            "rtt": {"n": len(self.rtt), "max": self.rtt.max, "values": rtt_vals},
            "responses": self.responses,
            "failed_responses": self.failed_responses,
            "unanswered": len(self.pending),
            "resumed": dict(self.resumed),
            "lost_sockets": self.lost_sockets,
            "retries": self.retries,
            "open_sockets": sum(1 for s in self.slots if s.sock is not None and s.sock.open),
            "errors": dict(self.errors),
            "rss_kib": sysinfo.rss_kib(),
        }

    async def cmd_drop(self, a: dict[str, Any]) -> dict[str, Any]:
        """Abort every socket (as a network failure would) and wait until all are gone."""
        for s in self.slots:
            if s.sock is not None:
                s.sock.abort()
        deadline = time.perf_counter() + a.get("timeout", 30)
        while any(s.sock is not None and not s.sock.closed for s in self.slots):
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.01)
        return {"dropped": len(self.slots)}

    async def cmd_reconnect(self, a: dict[str, Any]) -> dict[str, Any]:
        """Reconnect every socket with since/epoch; time until all have their hello and,
        if ``target`` is given, have caught up to that seq (replayed what they missed)."""
        loop = asyncio.get_running_loop()
        target = a.get("target")
        self._waiting = 0
        self._all_reached = loop.create_future() if target is not None else None
        for s in self.slots:
            if target is not None and s.last_seq < target:
                s.target = target
                self._waiting += 1
        self._hellos_left = len(self.slots)
        self._all_hello = loop.create_future()
        t0 = time.perf_counter()
        self.attempt_timeout = a.get("attempt_timeout", 5.0)
        self.spread = a.get("spread", False)
        opening = asyncio.ensure_future(
            self._open_all(self.slots, a.get("concurrency", 0), True, a.get("timeout", 60))
        )
        timeout = a.get("timeout", 60)
        t_hello = t_live = None
        try:
            await asyncio.wait_for(asyncio.shield(self._all_hello), timeout)
            t_hello = time.perf_counter() - t0
            if self._all_reached is not None and self._waiting > 0:
                await asyncio.wait_for(self._all_reached, timeout)
            t_live = time.perf_counter() - t0
        except TimeoutError:
            pass
        await opening
        short = sum(1 for s in self.slots if s.target is not None)
        for s in self.slots:
            s.target = None
        self._all_hello = self._all_reached = None
        return {
            "all_hello_s": t_hello,
            "all_live_s": t_live,
            "short_sockets": short,
            "resumed": dict(self.resumed),
            "errors": dict(self.errors),
            "retries": self.retries,
        }

    async def cmd_requests(self, a: dict[str, Any]) -> dict[str, Any]:
        """Open-loop requests: ``rate`` per second for ``duration`` s over random sockets,
        ops drawn from ``ops`` (list of request bodies without id); then wait for answers."""
        rate, duration = float(a["rate"]), float(a["duration"])
        bodies: list[dict[str, Any]] = a["ops"]
        per_agent: dict[str, dict[str, Any]] = a.get("fields", {})
        rng = random.Random(a.get("seed", 1))
        live = [s for s in self.slots if s.sock is not None and s.sock.open]
        if not live:
            raise RuntimeError("no open socket")
        ids = itertools.count(1)
        total = int(rate * duration)
        t0 = time.perf_counter()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - t0) * rate) + 1)
            while sent < due:
                slot = rng.choice(live)
                body = dict(rng.choice(bodies))
                body.update(per_agent.get(slot.agent, {}))
                rid = next(ids)
                body["id"] = rid
                assert slot.sock is not None
                self.pending[rid] = time.perf_counter()
                slot.sock.send(_encode(body))
                sent += 1
            await asyncio.sleep(0.001)
        deadline = time.perf_counter() + a.get("drain", 10)
        while self.pending and time.perf_counter() < deadline:  # noqa: ASYNC110 (polling)
            await asyncio.sleep(0.01)
        return {"sent": sent, "seconds": time.perf_counter() - t0}

    async def cmd_close(self, a: dict[str, Any]) -> dict[str, Any]:
        for s in self.slots:
            if s.sock is not None:
                s.sock.close()
        await asyncio.sleep(a.get("linger", 0.2))
        self.slots = []
        return {}


async def amain(args: argparse.Namespace) -> None:
    client = LoadClient()
    handlers = {name[4:]: getattr(client, name) for name in dir(client) if name.startswith("cmd_")}
    await serve_control(handlers, {"nofile": sysinfo.raise_nofile()})
    await client.cmd_close({"linger": 0.05})


def main() -> None:
    p = argparse.ArgumentParser(description="bench load client (driven by python -m bench)")
    p.add_argument("--cpu", help="CPU(s) to pin to, e.g. 1")
    args = p.parse_args()
    sysinfo.pin(args.cpu)
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
