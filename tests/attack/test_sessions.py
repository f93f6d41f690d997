"""A stolen session after its user logged out, changed password, or was disabled or removed
(issue 13, "info": a JWT stayed valid for its 12 hours)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ctikit.testing import run_ctikit

from .conftest import Attack, bystander_of, start
from .harness import (
    PASSWORD,
    AttackServer,
    Bystander,
    attacker_address,
    login,
    session_from,
)

pytestmark = pytest.mark.attack

USERS = {name: "agent" for name in ("out1", "out2", "pw1", "gone1", "off1")}
CACHE_SECONDS = 0.5  # server.session_cache_seconds: sockets are checked every 2.5 s
#: How long another process's change (the CLI) may take to reach the server's session check,
#: with room for a slow machine.
WITHIN = 6.0


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[AttackServer]:
    settings = {"trusted_proxies": [], "session_cache_seconds": CACHE_SECONDS}
    yield from start(workdir / "sessions", server=settings, users=USERS)


@pytest.fixture(scope="module")
def bystander(server: AttackServer) -> Iterator[Bystander]:
    yield from bystander_of(server)


async def _token(server: AttackServer, user: str) -> str:
    status, body, _, _ = await login(server.url, user, PASSWORD, address=attacker_address(7000))
    assert status == 200, body
    return str(body["token"])


async def _whoami(server: AttackServer, token: str) -> int:
    async with (
        session_from(attacker_address(7001)) as s,
        s.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status


async def _socket_status(server: AttackServer, token: str, agent: str) -> int:
    async with session_from(attacker_address(7002)) as s:
        try:
            ws = await s.ws_connect(f"{server.url}/ws?agent={agent}&token={token}")
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


async def _open_console(
    s: aiohttp.ClientSession, server: AttackServer, token: str, agent: str
) -> aiohttp.ClientWebSocketResponse:
    ws = await s.ws_connect(f"{server.url}/ws?agent={agent}&token={token}")
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    return ws


async def _closed_within(ws: aiohttp.ClientWebSocketResponse, within: float) -> float:
    """Seconds until the server closes the socket (fails after ``within``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        msg = await ws.receive(timeout=within - (loop.time() - started))
        if msg.type is aiohttp.WSMsgType.CLOSE:
            assert msg.data == 1008, msg  # policy: the session ended
            return loop.time() - started
        assert msg.type is not aiohttp.WSMsgType.CLOSED, "closed without a close frame"


async def _refused_within(server: AttackServer, token: str, agent: str) -> float:
    """Seconds until the token is refused on REST and on the socket (fails after WITHIN)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while await _whoami(server, token) != 401:
        assert loop.time() - started < WITHIN, "the old session still works"
        await asyncio.sleep(0.1)
    assert await _socket_status(server, token, agent) == 401
    return loop.time() - started


async def test_logout_ends_the_session_everywhere(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    async with (
        attack(server, bystander, "stolen session after logout") as m,
        session_from(attacker_address(7005)) as thief,
    ):
        stolen = await _token(server, "out1")
        console = await _open_console(thief, server, stolen, "out1")
        # The console's session (the cookie) logs out; the stolen copy dies with it.
        async with session_from(attacker_address(7003)) as s:
            _, body, _, _ = await login(
                server.url, "out1", PASSWORD, address=attacker_address(7003)
            )
            cookie = {"Cookie": f"ctikit_session={body['token']}", "Origin": server.url}
            async with s.post(f"{server.url}/api/logout", json={}, headers=cookie) as r:
                assert r.status == 200, await r.text()
                assert "ctikit_session=" in r.headers["Set-Cookie"]  # cleared
        took = await _refused_within(server, stolen, "out1")
        assert took < 0.5  # this node's own logout: at once
        assert await _closed_within(console, 1.0) < 1.0
        # Bearer logout too (API clients).
        token = await _token(server, "out2")
        async with (
            session_from(attacker_address(7003)) as s,
            s.post(f"{server.url}/api/logout", headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            assert r.status == 200
        await _refused_within(server, token, "out2")
        # Logging in again works.
        assert await _whoami(server, await _token(server, "out2")) == 200
    m.check_bystander()


async def test_password_change_disable_and_removal_end_sessions(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    db = ("--database", server.database)
    name = "stolen session after password change, disable, removal (by the CLI)"
    async with attack(server, bystander, name) as m, session_from(attacker_address(7006)) as s:
        stolen = await _token(server, "pw1")
        console = await _open_console(s, server, stolen, "pw1")
        await asyncio.to_thread(
            run_ctikit, "user", "passwd", "pw1", "--password-stdin", *db, stdin="new-pass-123\n"
        )
        pw_s = await _refused_within(server, stolen, "pw1")
        m.notes["refused_after_s"] = f"{pw_s:.1f}"
        # Its open console socket is closed by the next sweep.
        m.notes["socket_closed_after_s"] = round(await _closed_within(console, 10.0), 1)

        stolen = await _token(server, "off1")
        await asyncio.to_thread(run_ctikit, "user", "disable", "off1", *db)
        off_s = await _refused_within(server, stolen, "off1")
        status, body, _, _ = await login(
            server.url, "off1", PASSWORD, address=attacker_address(7004)
        )
        assert status == 403 and "disabled" in body["error"], body
        await asyncio.to_thread(run_ctikit, "user", "enable", "off1", *db)
        assert await _whoami(server, await _token(server, "off1")) == 200

        stolen = await _token(server, "gone1")
        await asyncio.to_thread(run_ctikit, "user", "remove", "gone1", *db)
        gone_s = await _refused_within(server, stolen, "gone1")
    m.notes["refused_after_s"] = f"{pw_s:.1f}/{off_s:.1f}/{gone_s:.1f}"
    m.check_bystander()
