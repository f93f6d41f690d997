"""Memory amplification by one agent (issue 13, F2) and campaigns to made-up agents (F4).

Each attack measures the server's RSS: before the budgets, 1,000 ``setCallAttachedData`` of
a 64 KiB ``[{},{},...]`` took it from 455 MB to 1.6 GB, sockets opened with an old cursor
cost ~64 MB each, a listing of 1,000 call logs +1.7 GB, and campaigns to new IDs ~68 MB
per 50,000 IDs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.storage import CallLogStore, NewCallLog
from ctikit.testing import run_ctikit

from .conftest import Attack, bystander_of, start
from .harness import (
    PASSWORD,
    AttackServer,
    Bystander,
    attacker_address,
    login,
    scale,
    session_from,
)

pytestmark = pytest.mark.attack

#: ``[{},{},...]`` of 64 KiB: ~21,800 dicts, ~1.5 MB of Python objects once parsed.
HOSTILE_DATA = "[" + ",".join(["{}"] * 21_800) + "]"
SAVES_PER_MINUTE = 30
SERVER_BUDGET_MB = 48
MAX_AGENTS = 2_000
LIMITS = {
    "server_memory_bytes": SERVER_BUDGET_MB * 1024 * 1024,
    "call_log_saves_per_minute": SAVES_PER_MINUTE,
    "max_agents": MAX_AGENTS,
}
USERS = {"mallory": "agent", **{f"filler{i}": "agent" for i in range(6)}}


#: The memory attacks push 64 MB of attached data through one agent: the byte budget on
#: requests (max_request_bytes_*, its own attack below) is lifted here so that they can.
NO_BYTE_BUDGET = {"max_request_bytes_per_second": 1 << 40, "max_request_bytes_burst": 1 << 40}


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[AttackServer]:
    yield from start(
        workdir / "memory",
        server={"trusted_proxies": [], **NO_BYTE_BUDGET},
        users=USERS,
        limits=LIMITS,
    )


@pytest.fixture(scope="module")
def bystander(server: AttackServer) -> Iterator[Bystander]:
    yield from bystander_of(server)


@pytest.fixture(scope="module")
def budgeted(workdir: Path) -> Iterator[AttackServer]:
    """A server with the default request budgets."""
    yield from start(workdir / "budgeted", server={"trusted_proxies": []}, users=USERS)


@pytest.fixture(scope="module")
def budgeted_bystander(budgeted: AttackServer) -> Iterator[Bystander]:
    yield from bystander_of(budgeted)


class Console:
    """An attacker's console socket: requests and their answers (events are skipped)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws, self.hello, self._ids = ws, hello, 0

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        self._ids += 1
        await self.ws.send_str(json.dumps({"id": self._ids, "op": op, **fields}))
        return await self.answer(self._ids)

    async def answer(self, rid: int) -> dict[str, Any]:
        while True:
            msg = await self.ws.receive(timeout=60)
            assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
            if msg.data.startswith('{"type":"response"'):
                frame: dict[str, Any] = json.loads(msg.data)
                if frame["id"] == rid:
                    return frame


async def _token(server: AttackServer, user: str, i: int = 0) -> str:
    status, body, _, _ = await login(server.url, user, PASSWORD, address=attacker_address(i))
    assert status == 200, body
    return str(body["token"])


async def _console(
    s: aiohttp.ClientSession, server: AttackServer, token: str, user: str, query: str = ""
) -> Console:
    ws = await s.ws_connect(f"{server.url}/ws?agent={user}&token={token}{query}", heartbeat=None)
    hello = await ws.receive_json(timeout=60)
    assert hello["type"] == "hello", hello
    return Console(ws, hello)


async def test_attached_data_priced_by_memory(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    sets = scale(100, 1_000)
    token = await _token(server, "mallory")
    async with session_from(attacker_address(1)) as s:
        console = await _console(s, server, token, "mallory")
        began = await console.request("fireOnCallBegin", callId="big", callType="inbound")
        assert began["success"], began
        what = f"F2: {sets} setCallAttachedData of a 64 KiB [{{}},{{}},...]"
        async with attack(server, bystander, what) as m:
            got: Counter[str] = Counter()
            while got["ok"] < sets:
                r = await console.request(
                    "setCallAttachedData", callId="big", data=HOSTILE_DATA, callType="inbound"
                )
                got["ok" if r["success"] else r["code"]] += 1
                if r.get("code") == "rate_limited":  # 50 a second per socket, bursts of 200
                    await asyncio.sleep(0.05)
                elif not r["success"]:
                    break
            m.notes["got"] = dict(got)
        await console.ws.close()
    # Each value fits the agent's budget (1.5 MB of 16 MiB): accepted; the event log keeps
    # only what fits its 2 MiB, so the 1,000 versions are not all kept.
    assert got["ok"] == sets and set(got) <= {"ok", "rate_limited"}, got
    m.check_bystander(rss_ceiling_mb=scale(80, 120))


async def test_one_agents_sockets_share_a_byte_budget(
    budgeted: AttackServer, budgeted_bystander: Bystander, attack: Attack
) -> None:
    """Each 64 KiB [{},{},...] costs the server ~8 ms to parse and price: 16 sockets of one
    agent at 50 requests a second each would take more than the whole event loop. The
    agent's sockets share one byte budget (max_request_bytes_*: 128 KiB/s, 256 KiB at once)."""
    sockets, seconds = 16, scale(2, 6)
    token = await _token(budgeted, "mallory")
    got: Counter[str] = Counter()
    async with session_from(attacker_address(6)) as s:
        consoles = [await _console(s, budgeted, token, "mallory") for _ in range(sockets)]
        began = await consoles[0].request("fireOnCallBegin", callId="big", callType="inbound")
        assert began["success"], began
        what = f"F2: {sockets} sockets of one agent sending 64 KiB sets for {seconds} s"
        async with attack(budgeted, budgeted_bystander, what) as m:
            started = time.monotonic()

            async def flood(console: Console) -> None:
                while time.monotonic() - started < seconds:
                    r = await console.request(
                        "setCallAttachedData", callId="big", data=HOSTILE_DATA, callType="inbound"
                    )
                    got["ok" if r["success"] else r["code"]] += 1
                    if not r["success"]:
                        assert "bytes of requests per second" in r["error"] or (
                            "too many requests" in r["error"]
                        ), r
                        await asyncio.sleep(0.05)

            await asyncio.gather(*(flood(c) for c in consoles))
            elapsed = time.monotonic() - started
            m.notes["got"] = dict(got)
        for c in consoles:
            await c.ws.close()
    assert set(got) == {"ok", "rate_limited"}, got
    frame = len(HOSTILE_DATA) + 100
    assert got["ok"] * frame <= 256 * 1024 + 128 * 1024 * elapsed + frame, got
    m.check_bystander(rss_ceiling_mb=scale(80, 120))


async def test_old_cursor_sockets_share_their_replay(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    token = await _token(server, "mallory")
    sockets = 15  # max_sockets_per_agent is 16
    async with session_from(attacker_address(2)) as s:
        first = await _console(s, server, token, "mallory")
        seq, epoch = first.hello["seq"], first.hello["epoch"]
        await first.ws.close()
        async with attack(server, bystander, f"F2: {sockets} sockets with since=seq-999") as m:
            query = f"&since={max(0, seq - 999)}&epoch={epoch}"
            opened = []
            for _ in range(sockets):
                # Connected, then never read: what the server sends stays with it.
                ws = await s.ws_connect(
                    f"{server.url}/ws?agent=mallory&token={token}{query}", heartbeat=None
                )
                opened.append(ws)
            await asyncio.sleep(1)
            m.notes["sockets"] = len(opened)
        hello = json.loads((await opened[0].receive(timeout=30)).data)
        for ws in opened:
            await ws.close()
    # The log kept what fits its byte budget: a snapshot, not 999 replayed 64 KiB frames.
    assert hello["resumed"] in ("snapshot", "replay"), hello
    m.check_bystander(rss_ceiling_mb=60)


async def _fill_logs(server: AttackServer, n: int) -> None:
    """``n`` call logs of mallory, each with 64 KiB of [{},...] and 32 KiB of comments,
    written straight to the server's database (the save quota would take minutes)."""
    store = await CallLogStore.open(server.database)
    try:
        now = datetime.now(UTC)
        for i in range(n):
            await store.save(
                NewCallLog(
                    agent_id="mallory",
                    call_id=f"filled{i}",
                    call_type="INBOUND",
                    attached_data=json.loads(HOSTILE_DATA),
                    started_at=now,
                    ended_at=now,
                    comments="x" * 32_000,
                )
            )
    finally:
        await store.close()


async def test_call_log_listing_and_export_are_streamed(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    n = scale(200, 1_000)
    await _fill_logs(server, n)
    token = await _token(server, "mallory")
    headers = {"Authorization": f"Bearer {token}"}
    async with session_from(attacker_address(3)) as s:

        async def fetch(path: str) -> tuple[int, bytes]:
            async with s.get(
                f"{server.url}{path}", headers=headers, timeout=aiohttp.ClientTimeout(300)
            ) as r:
                return r.status, await r.read()

        async with attack(
            server, bystander, f"F2: 3 x GET /api/call-logs?limit=1000 and a CSV export ({n} logs)"
        ) as m:
            answers = await asyncio.gather(
                *(fetch("/api/call-logs?agent=mallory&limit=1000") for _ in range(3)),
                fetch("/api/call-logs/export.csv?agent=mallory"),
            )
            m.notes["MB_sent"] = round(sum(len(b) for _, b in answers) / 1e6)
    for status, body in answers[:3]:
        listing = json.loads(body)
        assert status == 200 and listing["success"], body[:200]
        assert len(listing["logs"]) == min(n, 1000) and listing["total"] >= n
        assert len({e["id"] for e in listing["logs"]}) == len(listing["logs"])
    status, csv_body = answers[3]
    assert status == 200 and csv_body.count(b",filled") >= n
    m.check_bystander(rss_ceiling_mb=scale(120, 150))


async def test_call_log_saves_have_a_quota(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    token = await _token(server, "mallory")
    async with session_from(attacker_address(4)) as s:
        c = await _console(s, server, token, "mallory")
        assert (await c.request("fireOnCallBegin", callId="q1", callType="inbound"))["success"]
        async with attack(
            server, bystander, "F2: an agent saving call logs as fast as it can"
        ) as m:
            got: Counter[str] = Counter()
            refusal: dict[str, Any] = {}
            for _ in range(SAVES_PER_MINUTE + 20):
                r = await c.request("saveCallLog", callId="q1", subject="flood")
                got["ok" if r["success"] else r["code"]] += 1
                if not r["success"]:
                    refusal = r
            async with s.post(
                f"{server.url}/api/agents/mallory/call-logs",
                json={"callId": "q1"},
                headers={"Authorization": f"Bearer {token}"},
            ) as rest:
                body = await rest.json()
            m.notes["got"] = dict(got)
        await c.ws.close()
    # The bucket starts full (30), and refills at 30 a minute while the flood runs.
    assert SAVES_PER_MINUTE <= got["ok"] <= SAVES_PER_MINUTE + 3, got
    assert got["rate_limited"] >= 17 and "call_log_saves_per_minute" in refusal["error"]
    assert (rest.status, body["code"]) == (429, "rate_limited") and rest.headers["Retry-After"]
    m.check_bystander()


async def test_campaigns_to_made_up_agents_create_nothing(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    scopes = ("--scope", "calls:control", "--scope", "calls:attach")
    out = run_ctikit("token", "create", "dialer", *scopes, "--database", server.database).stdout
    token = out.strip().splitlines()[-1]
    ids = scale(5_000, 50_000)
    rounds = scale(3, 10)
    headers = {"Authorization": f"Bearer {token}"}
    async with session_from(attacker_address(5)) as s:
        async with attack(
            server, bystander, f"F4: {rounds} campaigns to {ids} new agent IDs each"
        ) as m:
            reached = []
            for r in range(rounds):
                body = {
                    "agents": [f"ghost{r}x{i}" for i in range(ids)],
                    "type": "t",
                    "message": "m",
                }
                async with s.post(
                    f"{server.url}/api/events",
                    json=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(120),
                ) as resp:
                    answer = await resp.json()
                    assert resp.status == 200, answer
                    reached.append(answer["agents"])
            async with s.get(f"{server.url}/api/agents", headers=headers) as resp:
                listing = await resp.json()
            m.notes["reached"] = sum(reached)
    assert reached == [0] * rounds  # nobody by those names is connected or has calls
    agents = listing["agents"]
    assert len(agents) < 50, f"{len(agents)} agents listed"
    m.check_bystander(rss_ceiling_mb=40)


async def test_the_server_budget_refuses_clearly(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    """Several agents together attach more data than the server's budget (48 MiB here)."""
    fillers = [u for u in USERS if u.startswith("filler")]
    async with session_from(attacker_address(6)) as s:
        consoles = {}
        for i, user in enumerate(fillers):
            consoles[user] = await _console(s, server, await _token(server, user, 10 + i), user)
        async with attack(server, bystander, "F2: six agents fill the server's budget") as m:
            got: Counter[str] = Counter()
            refusal = ""
            for user, c in consoles.items():
                for k in range(8):  # 8 calls of 1.5 MB each: 12 MB of 16 MiB per agent
                    cid = f"{user}c{k}"
                    r = await c.request("fireOnCallBegin", callId=cid, callType="inbound")
                    r = await c.request(
                        "setCallAttachedData", callId=cid, data=HOSTILE_DATA, callType="inbound"
                    )
                    got["ok" if r["success"] else r["code"]] += 1
                    if not r["success"]:
                        refusal = r["error"]
            m.notes["got"] = dict(got)
            # Given back: ended calls are the soft part, dropped when space is needed.
            for user, c in consoles.items():
                for k in range(8):
                    await c.request("fireOnCallEnd", callId=f"{user}c{k}", duration=1)
        for c in consoles.values():
            await c.ws.close()
    assert got["limit_exceeded"] > 0 and "server's memory budget" in refusal, got
    # 48 MiB of budget at ~1.5 MB a value: some 30 of the 48 fit.
    assert 20 <= got["ok"] <= 32, got
    m.check_bystander(rss_ceiling_mb=SERVER_BUDGET_MB + 40)
