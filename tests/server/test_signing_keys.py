"""Signing-key rotation: nobody is logged out by it; a retired key's tokens are refused.

In-process against a real SQLite database, then end to end: ``ctikit keys`` run against the
database of a running server process, which takes the change without a restart.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import jwt
import pytest
from alembic import command
from sqlalchemy import insert, select

from ctikit.server.auth import Authenticator, AuthError, hash_password
from ctikit.storage import AccountStore, CallLogStore
from ctikit.storage.engine import build_engine, normalize_url
from ctikit.storage.migrate import alembic_config
from ctikit.storage.models import SettingRow, SigningKeyRow
from ctikit.testing import CtikitProcess, run_ctikit

PASSWORD = "correct horse battery"


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_rotation_keeps_old_tokens_until_retired(tmp_path: Path) -> None:
    async with await CallLogStore.open(tmp_path / "k.db") as store:
        accounts = AccountStore(store)
        await accounts.add_user(
            "alice", role="agent", password_hash=hash_password(PASSWORD), agent_id="a1", team=None
        )
        authn = await Authenticator.create(accounts, token_ttl=3600, demo=False)
        try:
            before, _, _ = await authn.login("alice", PASSWORD)
            old = authn.keys.current()
            assert _kid(before) == old.id

            keys = accounts.signing_keys()
            new = await keys.add(retire_others_at=store._now() + timedelta(hours=1))
            await authn.keys.refresh()
            after, _, _ = await authn.login("alice", PASSWORD)
            assert _kid(after) == new.id != old.id
            for token in (before, after):  # nobody logged out
                assert (await authn.principal_for(token)).name == "alice"

            assert await keys.retire(old.id, store._now())
            await authn.keys.refresh()
            with pytest.raises(AuthError, match="retired"):
                await authn.principal_for(before)
            assert authn.session_of(before) is None
            assert (await authn.principal_for(after)).name == "alice"
            # A token naming a key nobody made: refused, and re-reading is rate-limited.
            forged = jwt.encode(
                {"sub": "alice", "role": "agent", "exp": 2**31}, "x" * 40, headers={"kid": "knope"}
            )
            for _ in range(3):
                with pytest.raises(AuthError, match="unknown or retired"):
                    await authn.principal_for(forged)
        finally:
            authn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("pg_database"))


async def test_the_old_single_key_becomes_the_legacy_key(database: str) -> None:
    """A database from before keys rotated: its key, and the tokens it signed (no kid), go on."""
    url = normalize_url(database)
    engine = build_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda c: command.upgrade(alembic_config(c), "0004")  # the revision before keys
            )
            await conn.execute(insert(SettingRow).values(key="jwt_secret", value="s" * 64))
    finally:
        await engine.dispose()
    old_token = jwt.encode(
        {"sub": "alice", "role": "agent", "exp": int(time.time()) + 600}, "s" * 64
    )
    async with await CallLogStore.open(url) as store:
        accounts = AccountStore(store)
        await accounts.add_user(
            "alice", role="agent", password_hash=hash_password(PASSWORD), agent_id="a1", team=None
        )
        async with store._session() as session:
            assert (await session.get(SettingRow, "jwt_secret")) is None
            rows = (await session.scalars(select(SigningKeyRow))).all()
            assert [(r.id, r.secret, r.retires_at) for r in rows] == [("legacy", "s" * 64, None)]
        authn = await Authenticator.create(accounts, token_ttl=3600, demo=False)
        try:
            assert (await authn.principal_for(old_token)).name == "alice"
            assert _kid((await authn.login("alice", PASSWORD))[0]) == "legacy"
        finally:
            authn.close()


async def _login(s: aiohttp.ClientSession, url: str) -> str:
    async with s.post(f"{url}/api/login", json={"username": "alice", "password": PASSWORD}) as r:
        body = await r.json()
        assert body["success"], body
        return str(body["token"])


async def _status(s: aiohttp.ClientSession, url: str, token: str) -> int:
    async with s.get(f"{url}/api/whoami", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def _eventually(check, within: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.2)


async def test_ctikit_keys_rotate_and_retire_on_a_running_server(tmp_path: Path) -> None:
    db = str(tmp_path / "ctikit.db")
    run_ctikit("user", "add", "alice", "--password-stdin", "--database", db, stdin=PASSWORD)
    server = CtikitProcess(["serve", "--port", "0", "--database", db], tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as s:
            before = await _login(s, server.url)
            old = _kid(before)
            done = run_ctikit("keys", "rotate", "--database", db)
            assert f"key {old} verifies until" in done.stdout
            new = done.stdout.split()[1]
            assert new != old

            async def signs_with_new_key() -> bool:
                return _kid(await _login(s, server.url)) == new

            await _eventually(signs_with_new_key)
            after = await _login(s, server.url)
            assert await _status(s, server.url, before) == 200  # nobody logged out
            listing = run_ctikit("keys", "list", "--database", db).stdout
            assert f"{new}\t" in listing and "signs" in listing and "verifies until" in listing

            refused = run_ctikit("keys", "retire", new, "--database", db, check=False)
            assert refused.returncode == 1 and "keys rotate` first" in refused.stderr
            run_ctikit("keys", "retire", old, "--database", db)

            async def old_refused() -> bool:
                return await _status(s, server.url, before) == 401

            await _eventually(old_refused)
            assert await _status(s, server.url, after) == 200
            assert "retired" in run_ctikit("keys", "list", "--database", db).stdout
    finally:
        server.stop()
    missing = run_ctikit("keys", "retire", "knope", "--database", db, check=False)
    assert missing.returncode == 1 and "no signing key 'knope'" in missing.stderr
