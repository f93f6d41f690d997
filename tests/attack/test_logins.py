"""Attacks on logging in (issue 13: F1, F5, F6, F8): lockout, floods, login CSRF, cookies."""

from __future__ import annotations

import asyncio
import secrets
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
    FULL,
    PASSWORD,
    AttackServer,
    Bystander,
    attacker_address,
    login,
    scale,
    session_from,
)

pytestmark = pytest.mark.attack

USERS = {f"victim{i}": "agent" for i in range(1, 6)} | {"mallory": "agent", "alice": "agent"}
#: The server's defaults (docs/security.md) for what these attacks meet.
PER_USER, PER_ADDRESS = 5, 30


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[AttackServer]:
    # No trusted proxy: every client address counts as itself (127.0.0.1 included).
    yield from start(workdir / "logins", server={"trusted_proxies": []}, users=USERS)


@pytest.fixture(scope="module")
def bystander(server: AttackServer) -> Iterator[Bystander]:
    yield from bystander_of(server)


def _check_refusal(status: int, body: dict[str, Any], resp: aiohttp.ClientResponse) -> None:
    """A 429/503 in the API's shape, saying when to come back."""
    assert body["success"] is False and body["code"] in ("rate_limited", "unavailable"), body
    assert 1 <= int(resp.headers["Retry-After"]) <= 60, dict(resp.headers)


async def test_f1_parallel_wrong_passwords_hit_the_lockout(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    n = scale(40, 400)
    # At most a few guesses per address, so the per-address limit is not what stops them.
    addresses = [attacker_address(i) for i in range(n // 4)]
    async with attack(server, bystander, f"F1: {n} parallel wrong passwords, one user") as m:
        results = await asyncio.gather(
            *(
                login(server.url, "victim1", f"guess-{i}", address=addresses[i % len(addresses)])
                for i in range(n)
            )
        )
    statuses = Counter(r[0] for r in results)
    m.notes["got"] = dict(statuses)
    assert statuses[401] <= PER_USER, statuses
    assert statuses[429] == n - statuses[401], statuses
    for status, body, _, resp in results:
        if status == 429:
            _check_refusal(status, body, resp)
    # Locked: the right password is refused too, from anywhere, for the rest of the minute.
    status, body, _, _ = await login(server.url, "victim1", PASSWORD, address=attacker_address(999))
    assert status == 429 and body["code"] == "rate_limited", body
    m.check_bystander()


async def test_f1_one_address_spraying_many_names_is_limited(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    wave = scale(60, 300)
    address = attacker_address(1000)
    statuses: Counter[int] = Counter()
    async with attack(server, bystander, f"F1/F8: waves of {wave} names from one address") as m:
        for _ in range(4):  # a wave: as many at once as the server lets in; again
            results = await asyncio.gather(
                *(
                    login(server.url, f"sprayed-{secrets.token_hex(4)}", "x", address=address)
                    for i in range(wave)
                )
            )
            statuses.update(r[0] for r in results)
            for status, body, _, resp in results:
                if status != 401:
                    _check_refusal(status, body, resp)
            m.notes["got"] = dict(statuses)
            if all(r[0] == 429 for r in results):
                break
    # At most the per-address limit of guesses were checked; the rest refused at once.
    assert statuses[401] <= PER_ADDRESS, statuses
    assert set(statuses) <= {401, 429, 503}, statuses
    assert all(r[0] == 429 for r in results), "not locked after the waves"
    # That address is locked out for now, whoever it tries.
    status, _, _, _ = await login(server.url, "alice", PASSWORD, address=address)
    assert status == 429
    # Others are not.
    status, _, _, _ = await login(server.url, "alice", PASSWORD, address=attacker_address(1001))
    assert status == 200
    m.check_bystander()


async def test_f8_login_flood_leaves_a_real_login_fast(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    n = scale(64, 640)
    flood_done = asyncio.Event()

    async def flood(i: int) -> tuple[int, dict[str, Any], float, aiohttp.ClientResponse]:
        name = f"nobody-{secrets.token_hex(6)}"
        return await login(server.url, name, "wrong", address=attacker_address(2000 + i))

    async def real_login() -> tuple[float, int]:
        """A real user logging in during the flood, coming back when told to."""
        await asyncio.sleep(0.05)  # the flood is in
        started, tries = time.perf_counter(), 0
        while True:
            tries += 1
            status, body, _, resp = await login(
                server.url, "mallory", PASSWORD, address=BYSTANDER_ADDRESS
            )
            if status == 200:
                return time.perf_counter() - started, tries
            assert status in (429, 503), (status, body)
            _check_refusal(status, body, resp)
            await asyncio.sleep(float(resp.headers["Retry-After"]))

    name = f"F8: {n} concurrent logins, random names, {n} addresses"
    async with attack(server, bystander, name) as m:
        real = asyncio.create_task(real_login())
        results = await asyncio.gather(*(flood(i) for i in range(n)))
        flood_done.set()
        took, tries = await real
    statuses = Counter(r[0] for r in results)
    m.notes.update(got=dict(statuses), real_login_s=round(took, 2))
    assert set(statuses) <= {401, 429, 503}, statuses
    for status, body, _, resp in results:
        if status in (429, 503):
            _check_refusal(status, body, resp)
    assert statuses[503] > 0, statuses  # the wait queue's bound was met: no pile-up
    if FULL:  # (the quick run's machine is busy with other tests: no timing there)
        assert took < 3.0, f"a real login took {took:.1f} s ({tries} tries) during the flood"
    # argon2 needs 64 MiB per check: only a few run at once.
    m.check_bystander(rss_ceiling_mb=200)


async def test_f5_cross_site_login_and_logout_are_refused(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    url = server.url
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    # What <form enctype="text/plain"> on the attacker's page posts: a JSON-looking body.
    form = '{"username":"mallory","password":"' + PASSWORD + '","x":"="}'
    address = attacker_address(3000)
    name = "F5: cross-site form posts to /api/login and /api/logout"
    async with attack(server, bystander, name) as m, session_from(address) as s:
        cases = [
            ({**evil, "Content-Type": "text/plain"}, form, 403),
            ({"Content-Type": "text/plain"}, form, 415),  # no Origin (an old browser)
            ({"Content-Type": "application/x-www-form-urlencoded"}, "username=mallory", 415),
            ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, form, 403),
            ({**evil, "Content-Type": "application/json"}, form, 403),
        ]
        for headers, body, expect in cases:
            async with s.post(f"{url}/api/login", data=body, headers=headers) as r:
                answer = await r.json()
                assert r.status == expect, (headers, r.status, answer)
                assert answer["success"] is False and answer["error"], answer
                assert "Set-Cookie" not in r.headers, (headers, r.headers)
        # A page of this server logs in (the console does exactly this).
        own = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        status, body, _, r = await login(url, "mallory", PASSWORD, address=address, headers=own)
        assert status == 200 and "ctikit_session=" in r.headers["Set-Cookie"], body
        token = body["token"]
        # A cross-site page cannot log the victim out either.
        cookie = {"Cookie": f"ctikit_session={token}", "Content-Type": "application/json"}
        async with s.post(f"{url}/api/logout", data="{}", headers={**evil, **cookie}) as r:
            assert r.status == 403 and "Set-Cookie" not in r.headers
        async with s.get(f"{url}/api/whoami", headers={"Cookie": f"ctikit_session={token}"}) as r:
            assert r.status == 200
    m.check_bystander()


async def test_f6_session_cookie_is_secure_behind_the_https_proxy(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    address = attacker_address(3001)
    async with attack(server, bystander, "F6: login behind an HTTPS reverse proxy") as m:
        _, _, _, r = await login(
            server.url,
            "alice",
            PASSWORD,
            address=address,
            headers={"X-Forwarded-Proto": "https"},
        )
        proxied = r.headers["Set-Cookie"]
        _, _, _, r = await login(server.url, "alice", PASSWORD, address=address)
        plain = r.headers["Set-Cookie"]
    assert "Secure" in proxied and "HttpOnly" in proxied and "SameSite=Strict" in proxied
    assert "Secure" not in plain  # plain HTTP (development): a Secure cookie would be dropped
    m.check_bystander()


async def test_f1_lockout_holds_across_cluster_nodes(
    workdir: Path, redis_server: Any, attack: Attack
) -> None:
    root = workdir / "cluster"
    shared = {
        "trusted_proxies": [],
        "cluster": redis_server.url,
        "cluster_prefix": f"attack{secrets.token_hex(3)}:",
    }
    database = f"sqlite:///{root / 'shared.db'}"
    nodes: list[AttackServer] = []
    try:
        for name in ("a", "b"):  # one after the other: each adds the config's users
            nodes.append(
                AttackServer(
                    root,
                    server={**shared, "node_id": name},
                    users=USERS,
                    database=database,
                    name=name,
                )
            )
        a = nodes[0]
        n = scale(40, 200)
        addresses = [attacker_address(4000 + i) for i in range(n // 4)]
        for by in bystander_of(a):
            name = f"F1: {n} parallel wrong passwords over two cluster nodes"
            async with attack(a, by, name) as m:
                results = await asyncio.gather(
                    *(
                        login(
                            nodes[i % 2].url,
                            "victim2",
                            f"guess-{i}",
                            address=addresses[i % len(addresses)],
                        )
                        for i in range(n)
                    )
                )
        statuses = Counter(r[0] for r in results)
        m.notes["got"] = dict(statuses)
        assert statuses[401] <= PER_USER, statuses
        assert statuses[429] == n - statuses[401], statuses
        for node in nodes:  # locked on every node
            status, _, _, _ = await login(
                node.url, "victim2", PASSWORD, address=attacker_address(4999)
            )
            assert status == 429, node.url
        m.check_bystander()
    finally:
        for node in nodes:
            node.stop()


async def test_login_bodies_are_small(
    server: AttackServer, bystander: Bystander, attack: Attack
) -> None:
    """Login bodies are read before anyone is known: each may hold 16 KiB, not 1 MiB."""
    n = scale(20, 200)
    big = '{"username": "mallory", "password": "' + "x" * 500_000 + '"}'
    async with attack(server, bystander, f"{n} logins with 500 KB bodies at once") as m:

        async def one(i: int) -> int:
            async with (
                session_from(attacker_address(3100 + i)) as s,
                s.post(
                    f"{server.url}/api/login",
                    data=big,
                    headers={"Content-Type": "application/json"},
                ) as r,
            ):
                body = await r.json()
                assert body["code"] == "limit_exceeded", body
                return r.status

        statuses = Counter(await asyncio.gather(*(one(i) for i in range(n))))
        m.notes["got"] = dict(statuses)
    assert statuses == {413: n}
    m.check_bystander(rss_ceiling_mb=100)
