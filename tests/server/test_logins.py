"""Login budgets: the windows of LocalLoginLimiter as pure data, client addresses, and the
password checks' slots in front of the database."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.server.addresses import TrustedProxies, client_address, normalized
from ctikit.server.auth import Authenticator, UserCache, hash_password, verify_password
from ctikit.server.logins import (
    LocalLoginLimiter,
    LoginBusyError,
    LoginLimits,
    LoginLockedError,
    PasswordChecks,
)
from ctikit.storage import AccountStore, CallLogStore

LIMITS = LoginLimits(per_user=3, per_address=5, window=60.0)
_HASH_OF_RIGHT = hash_password("right password")


def limiter(max_tracked: int = 100) -> LocalLoginLimiter:
    return LocalLoginLimiter(LIMITS, clock=lambda: 0.0, max_tracked=max_tracked)


def test_attempts_count_before_their_outcome() -> None:
    lim = limiter()
    held = [lim.reserve_now("u", f"a{i}", 0.0) for i in range(3)]  # none has failed yet
    with pytest.raises(LoginLockedError) as exc:
        lim.reserve_now("u", "a9", 1.0)
    assert exc.value.code == "rate_limited" and exc.value.retry_after == pytest.approx(59.0)
    assert "this user" in exc.value.message
    assert held[0].user == "u"


async def test_success_clears_the_name_and_returns_the_address_slot() -> None:
    lim = limiter()
    first = lim.reserve_now("u", "a", 0.0)
    await lim.failed(first)
    second = lim.reserve_now("u", "a", 1.0)
    await lim.succeeded(second)
    assert lim.tracked() == (0, 1)  # the name forgot; the address keeps its one failure
    for i in range(4):
        await lim.failed(lim.reserve_now(f"n{i}", "a", 2.0))
    with pytest.raises(LoginLockedError) as exc:
        lim.reserve_now("other", "a", 3.0)
    assert "your address" in exc.value.message


async def test_released_attempts_do_not_count() -> None:
    lim = limiter()
    for _ in range(10):
        await lim.released(lim.reserve_now("u", "a", 0.0))
    assert lim.tracked() == (0, 0)


async def test_the_window_slides() -> None:
    lim = limiter()
    for t in (0.0, 10.0, 20.0):
        await lim.failed(lim.reserve_now("u", "a", t))
    with pytest.raises(LoginLockedError) as exc:
        lim.reserve_now("u", "a", 30.0)
    assert exc.value.retry_after == pytest.approx(30.0)
    lim.reserve_now("u", "a", 60.5)  # the first failure left the window


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 8), st.sampled_from(["fail", "ok", "drop"])),
        max_size=200,
    )
)
def test_tables_stay_bounded_and_limits_hold(ops: list[tuple[int, int, str]]) -> None:
    import asyncio

    lim = limiter(max_tracked=10)
    now = 0.0
    for name, address, outcome in ops:
        now += 0.5
        try:
            attempt = lim.reserve_now(f"user{name}", f"10.0.0.{address}", now)
        except LoginLockedError as exc:
            assert 0 < exc.retry_after <= LIMITS.window
            continue
        done: Any = {"fail": lim.failed, "ok": lim.succeeded, "drop": lim.released}[outcome]
        asyncio.run(done(attempt))
        users, addresses = lim.tracked()
        assert users <= 10 and addresses <= 10
        for table, limit in zip(lim._tables, (LIMITS.per_user, LIMITS.per_address), strict=True):
            assert all(len(w) <= limit for w in table.values())


class _Req:
    def __init__(self, remote: str, forwarded: list[str]) -> None:
        self.remote = remote
        self.headers = _Headers(forwarded)


class _Headers:
    def __init__(self, values: list[str]) -> None:
        self.values = values

    def getall(self, key: str, default: Any = ()) -> list[str]:
        return self.values if key == "X-Forwarded-For" else list(default)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expect"),
    [
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # not a proxy: its header is ignored
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["1.2.3.4"], "1.2.3.4"),
        ("127.0.0.1", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),  # the left part is the client's say
        ("10.0.0.7", ["6.6.6.6", "1.2.3.4, 10.0.0.8"], "1.2.3.4"),  # two proxies
        ("::ffff:127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("::ffff:198.51.100.2", [], "198.51.100.2"),
    ],
)
def test_client_address(remote: str, forwarded: list[str], expect: str) -> None:
    trusted = TrustedProxies(["127.0.0.1", "::1", "10.0.0.0/8"])
    assert client_address(_Req(remote, forwarded), trusted) == expect  # type: ignore[arg-type]


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match=r"trusted_proxies: 'proxy\.example'"):
        TrustedProxies(["proxy.example"])
    assert normalized("x" * 100) == "x" * 64


async def test_a_login_flood_is_refused_before_the_database(tmp_path: Path) -> None:
    """Past the password checks' slots and queue a login is refused (503) before the user's
    record is read: 640 logins at once queued 640 database reads ahead of everyone's."""
    release = threading.Event()

    def slow_check(hash_: str | None, password: str) -> bool:
        release.wait(10)
        return verify_password(hash_, password)

    async with await CallLogStore.open(tmp_path / "f.db") as store:
        accounts, reads = await _alice_with_counted_reads(store)
        checks = PasswordChecks(slow_check, slots=1, queue=1)
        limits = LoginLimits(per_user=100, per_address=100, window=60.0)
        authn = await Authenticator.create(
            accounts, token_ttl=3600, demo=False, checks=checks,
            limiter=LocalLoginLimiter(limits, clock=lambda: 0.0),
        )  # fmt: skip
        try:
            held = [asyncio.create_task(authn.login("alice", "right password")) for _ in range(2)]
            await asyncio.sleep(0.2)  # one checking, one waiting: the slot and the queue
            for _ in range(5):
                with pytest.raises(LoginBusyError):
                    await authn.login("alice", "right password")
            assert reads["db"] == 1  # only the login being checked read the record
            release.set()
            for task in held:
                token, who, _ = await task
                assert who.name == "alice" and token
            assert reads["db"] == 2
        finally:
            release.set()
            authn.close()


async def test_the_session_cache_reads_a_user_once_for_many_requests(tmp_path: Path) -> None:
    """When a user's entry expires, the requests that find it so share one database read
    (64 handshakes at once queued 64 reads ahead of everyone's); a read that a logout on
    this node overtook is not kept."""
    async with await CallLogStore.open(tmp_path / "c.db") as store:
        accounts, reads = await _alice_with_counted_reads(store, delay=0.05)
        cache = UserCache(accounts, ttl=60.0)
        users = await asyncio.gather(*(cache.get("alice") for _ in range(64)))
        assert reads["db"] == 1 and {u.username for u in users if u} == {"alice"}
        assert (await cache.get("alice")) is users[0] and reads["db"] == 1  # cached

        cache.forget("alice")  # a logout here while a read is on its way
        reading = asyncio.create_task(cache.get("alice"))
        await asyncio.sleep(0.01)
        cache.forget("alice")
        assert (await reading) is not None and reads["db"] == 2
        await cache.get("alice")
        assert reads["db"] == 3  # the overtaken read was not kept

        # A caller that goes away does not cancel the read the others wait for.
        cache.forget("alice")
        first = asyncio.create_task(cache.get("alice"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(cache.get("alice"))
        await asyncio.sleep(0)
        first.cancel()
        assert (await second) is not None and reads["db"] == 4


async def test_a_user_at_work_is_read_again_ahead_of_time(tmp_path: Path) -> None:
    """In the second half of an entry's life a request gets the cached user at once and a
    read starts in the background: a user at work never waits for the database."""
    async with await CallLogStore.open(tmp_path / "r.db") as store:
        accounts, reads = await _alice_with_counted_reads(store)
        cache = UserCache(accounts, ttl=0.4)
        first = await cache.get("alice")
        assert reads["db"] == 1 and (await cache.get("alice")) is first  # young: no read
        await asyncio.sleep(0.25)
        assert (await cache.get("alice")) is first  # answered at once, from the cache
        await asyncio.sleep(0)
        assert reads["db"] == 2  # and read again meanwhile
        await asyncio.sleep(0.05)
        fresh = await cache.get("alice")
        assert fresh is not first and fresh is not None and reads["db"] == 2


async def _alice_with_counted_reads(
    store: CallLogStore, delay: float = 0.0
) -> tuple[AccountStore, Counter[str]]:
    """Accounts holding alice, whose database reads are counted (``reads["db"]``), each
    taking ``delay`` seconds more."""
    accounts = AccountStore(store)
    await accounts.add_user(
        "alice", role="agent", password_hash=_HASH_OF_RIGHT, agent_id="a1", team=None
    )
    reads: Counter[str] = Counter()
    get_user = accounts.get_user

    async def counted(name: str) -> Any:
        reads["db"] += 1
        await asyncio.sleep(delay)
        return await get_user(name)

    accounts.get_user = counted  # type: ignore[method-assign]
    return accounts, reads


def test_an_unknown_user_costs_an_argon2_check_made_off_import() -> None:
    """No such user: checked against a dummy hash (same cost, never True), which is made on
    the password checks' thread when a server starts, not when a CLI command imports auth."""
    import subprocess
    import sys

    probe = (
        "import argon2\n"
        "calls = []\n"
        "real = argon2.PasswordHasher.hash\n"
        "argon2.PasswordHasher.hash = lambda self, p: calls.append(p) or real(self, p)\n"
        "import ctikit.server.auth as a\n"
        "assert calls == [], 'hashed at import'\n"
        "assert a.verify_password(None, 'anything') is False\n"
        "assert len(calls) == 1\n"
        "assert a.verify_password(None, 'again') is False and len(calls) == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert verify_password(hash_password("a real one"), "a real one") is True
