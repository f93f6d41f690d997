"""Attacks on connections (issue 13, F3): slowloris, idle and slow-body sockets, connection
floods, one agent's thousands of console sockets, running out of file descriptors."""

from __future__ import annotations

import asyncio
import re
import resource
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import Attack, bystander_of, start
from .harness import (
    BYSTANDER_ADDRESS,
    PASSWORD,
    AttackServer,
    Bystander,
    RawConnection,
    attacker_address,
    http_stats,
    login,
    open_many,
    open_raw,
    scale,
    session_from,
)

pytestmark = pytest.mark.attack

# Full size: opening thousands of sockets takes seconds; they must all be open at once.
# (aiohttp's idle timeout also closes a connection waiting for its first request: it is
# kept longer than the header timeout, so that the header timeout is what is tested.)
HEADER_TIMEOUT = float(scale(2, 20))
BODY_TIMEOUT = 2.0
IDLE_TIMEOUT = float(scale(3, 25))
PER_ADDRESS = scale(40, 200)
MAX_CONNECTIONS = scale(400, 6_000)
PER_AGENT = 8
SETTINGS = {
    "trusted_proxies": [],
    "header_timeout": HEADER_TIMEOUT,
    "body_timeout": BODY_TIMEOUT,
    "idle_timeout": IDLE_TIMEOUT,
    "max_connections_per_address": PER_ADDRESS,
    "max_connections": MAX_CONNECTIONS,
    "max_sockets_per_agent": PER_AGENT,
}
HALF_HEAD = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: "  # never finished


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[AttackServer]:
    yield from start(workdir / "conns", server=SETTINGS, users={"mallory": "agent"})


@pytest.fixture(scope="module")
def bystander(server: AttackServer) -> Iterator[Bystander]:
    yield from bystander_of(server)


async def _fresh_request(server: AttackServer) -> tuple[int, float]:
    """A new connection from the bystander's address: /api/health and a login (answered,
    not hung as before; how fast is the bystander's latency's business)."""
    started = time.perf_counter()
    async with session_from(BYSTANDER_ADDRESS) as s:
        async with s.get(f"{server.url}/api/health", timeout=aiohttp.ClientTimeout(30)) as r:
            health = r.status
    status, _, _, _ = await login(
        server.url, "mallory", PASSWORD, address=BYSTANDER_ADDRESS, within=30
    )
    assert status == 200
    return health, time.perf_counter() - started


async def _all_closed(conns: list[RawConnection], within: float) -> float:
    """Seconds until the server has closed every one of ``conns`` (fails after ``within``)."""
    started = time.monotonic()
    pending = [c.closed.wait() for c in conns if not c.closed.is_set()]
    if pending:
        await asyncio.wait_for(asyncio.gather(*pending), within)
    return time.monotonic() - started


def _no_tracebacks(server: AttackServer) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-3000:]


async def test_no_attack_baseline(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    """Not an attack: the bystander alone for a few seconds, the table's reference row (what
    the machine itself adds to the latencies below)."""
    async with attack(server, bystander, "(no attack: the bystander alone)") as m:
        await asyncio.sleep(scale(2, 5))
    b = m.bystander
    assert b["error_count"] == 0 and b["ws"]["n"] > 0 and b["rest"]["n"] > 0, b


async def test_f3_slowloris_is_capped_per_address_and_cut_off(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    # Held at once: at most PER_ADDRESS from each, under the server's cap.
    addresses = [attacker_address(i) for i in range(scale(6, 25))]
    per = PER_ADDRESS + scale(20, 100)
    name = f"F3: slowloris, {len(addresses) * per} half-sent heads from {len(addresses)} addresses"
    before = await http_stats(server)
    async with attack(server, bystander, name) as m:
        conns = await open_many(server.host, server.port, addresses, per, HALF_HEAD)
        # While they hang, a new visitor gets its answers.
        health, fresh_s = await _fresh_request(server)
        m.notes["fresh_request_s"] = round(fresh_s, 2)
        try:
            await _all_closed(conns, HEADER_TIMEOUT + 5)
        finally:
            for c in conns:
                c.close()
        after = await http_stats(server)
        m.notes.update(_deltas(before, after), connect_failed=dict(conns.failed))
    assert health == 200
    assert not conns.failed, conns.failed
    # The server's own count: no address ever held more than its cap.
    assert after["peakFromOneAddress"] <= PER_ADDRESS, after
    assert after["refused"] > before["refused"], after
    _check_answers(conns)
    _no_tracebacks(server)
    m.check_bystander()


def _deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        "refused": after["refused"] - before["refused"],
        "timed_out": after["timedOut"] - before["timedOut"],
        "peak_from_one_address": after["peakFromOneAddress"],
        "peak_open": after["peak"],
    }


def _check_answers(conns: list[RawConnection]) -> None:
    """Each was refused at once (503) or cut off at the header timeout (408); under a flood a
    refusal may be dropped unanswered (past MAX_LINGERING of them at once)."""
    statuses = Counter(c.status() for c in conns)
    assert set(statuses) <= {503, 408, None}, statuses
    for c in conns:
        assert c.closed_at is not None
        lived = c.closed_at - c.opened_at
        if c.status() == 408:  # (the client saw it open later than the server, when busy)
            assert HEADER_TIMEOUT * 0.5 < lived < HEADER_TIMEOUT + 5, lived


async def test_f3_idle_and_slow_body_connections_are_closed(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    address = attacker_address(600)
    n = scale(20, 150)
    name = f"F3: {n} silent sockets, a slow body, an idle keep-alive"
    async with attack(server, bystander, name) as m:
        silent = await open_many(server.host, server.port, [address], n, b"")
        # A complete head, then a body that never comes.
        slow_body = await open_raw(server.host, server.port, attacker_address(601))
        slow_body.send(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"username": '
        )
        # A kept-alive connection that went quiet after one request.
        idle = await open_raw(server.host, server.port, attacker_address(602))
        idle.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        silent_s = await _all_closed(silent, HEADER_TIMEOUT + 3)
        body_s = await _all_closed([slow_body], BODY_TIMEOUT + 3)
        idle_s = await _all_closed([idle], IDLE_TIMEOUT + 3)
        m.notes["closed_after_s"] = f"{silent_s:.1f}/{body_s:.1f}/{idle_s:.1f}"
    assert slow_body.status() == 408, bytes(slow_body.received[:200])
    assert b'"code"' in slow_body.received
    assert idle.status() == 200
    _no_tracebacks(server)
    m.check_bystander()


async def test_f3_connection_flood_is_capped_and_answered(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    per = PER_ADDRESS - 5  # under the per-address cap: only the server's cap stops them
    addresses = [attacker_address(700 + i) for i in range(MAX_CONNECTIONS // per + 3)]
    name = f"F3: {len(addresses) * per} connections (server cap {MAX_CONNECTIONS})"
    before = await http_stats(server)
    async with attack(server, bystander, name) as m:
        conns = await open_many(server.host, server.port, addresses, per, HALF_HEAD)
        try:
            await _all_closed(conns, HEADER_TIMEOUT + 5)
        finally:
            for c in conns:
                c.close()
        after = await http_stats(server)
        m.notes.update(_deltas(before, after), connect_failed=dict(conns.failed))
        # Room again once they are gone.
        health, _ = await _fresh_request(server)
    assert after["peak"] <= MAX_CONNECTIONS, after
    assert after["refused"] > before["refused"], after  # the cap was reached
    assert Counter(c.status() for c in conns)[503] > 0
    _check_answers(conns)
    assert health == 200
    _no_tracebacks(server)
    m.check_bystander()


async def test_f3_one_agent_cannot_open_thousands_of_sockets(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    n = scale(PER_AGENT + 6, 3000)
    _, body, _, _ = await login(server.url, "mallory", PASSWORD, address=attacker_address(800))
    token = body["token"]
    opened: list[aiohttp.ClientWebSocketResponse] = []
    refusals: Counter[int] = Counter()
    name = f"F3: {n} console sockets for one agent"
    async with attack(server, bystander, name) as m, session_from(attacker_address(801)) as s:
        sem = asyncio.Semaphore(64)

        async def one() -> None:
            async with sem:
                try:
                    ws = await s.ws_connect(f"{server.url}/ws?agent=mallory&token={token}")
                except aiohttp.WSServerHandshakeError as exc:
                    refusals[exc.status] += 1
                    return
                opened.append(ws)

        await asyncio.gather(*(one() for _ in range(n)))
        m.notes.update(opened=len(opened))
        for ws in opened:
            await ws.close()
    assert len(opened) == PER_AGENT, len(opened)
    assert refusals == {429: n - PER_AGENT}, refusals
    m.check_bystander()


async def test_f3_out_of_descriptors_logs_a_line_not_a_flood(workdir: Path, attack: Attack) -> None:
    # A server whose descriptor limit is lowered under it (other descriptors used up), so
    # accept() fails with EMFILE before any cap of ours is reached.
    settings: dict[str, Any] = {**SETTINGS, "max_connections_per_address": 0}
    for server in start(workdir / "emfile", server=settings):
        for by in bystander_of(server):
            limit = server.open_fds() + 60
            resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (limit, limit))
            addresses = [attacker_address(900 + i) for i in range(10)]
            async with attack(server, by, "F3: accept() out of descriptors (EMFILE)") as m:
                conns = await open_many(server.host, server.port, addresses, 30, HALF_HEAD)
                await asyncio.sleep(2.0)
                for c in conns:
                    c.close()
                await asyncio.sleep(HEADER_TIMEOUT + 1)
            log = server.log()
            lines = [ln for ln in log.splitlines() if re.search(r"descriptor|resource", ln)]
            m.notes["log_lines"] = len(lines)
            assert "Traceback" not in log, log[-3000:]
            assert 1 <= len(lines) <= 5, lines[:10]
            assert server.alive()
            # Nothing held any more: new connections are served again.
            async with (
                session_from(BYSTANDER_ADDRESS) as s,
                s.get(f"{server.url}/api/health") as r,
            ):
                assert r.status == 200
            m.check_bystander()
