"""`ctikit backup` / `ctikit restore`: a round trip through real databases and real server
processes, SQLite and PostgreSQL each way."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from ctikit.server.auth import hash_password
from ctikit.storage import AccountStore, CallLogStore, CallStateStore, NewCallLog
from ctikit.storage.backup import advance_sequences, tables
from ctikit.storage.engine import build_engine, normalize_url
from ctikit.testing import CtikitProcess, run_ctikit

PASSWORD = "correct horse battery"


async def _fill(database: str) -> str:
    """Users, a token, call logs and saved call state; returns the token's secret."""
    async with await CallLogStore.open(database) as store:
        accounts = AccountStore(store)
        await accounts.add_user(
            "alice", role="agent", password_hash=hash_password(PASSWORD), agent_id="a1", team="t"
        )
        await accounts.add_user(
            "bob", role="supervisor", password_hash=hash_password(PASSWORD), agent_id=None, team="t"
        )
        await accounts.set_disabled("bob", True)
        _, secret = await accounts.create_token("crm", frozenset({"calls:attach"}))
        for i in range(600):  # more than one insert batch
            await store.save(
                NewCallLog(
                    agent_id="a1",
                    call_id=f"c{i}",
                    call_type="INBOUND",
                    ani="+14155550100",
                    attached_data={"i": i, "name": 'Zoë \u2028 "quoted"\n'},
                    started_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                    duration_seconds=i,
                    comments=None if i % 2 else "note",
                )
            )
        await CallStateStore(store).save({"a1": {"calls": [{"id": "live-1", "state": "held"}]}})
    return secret


async def _dump(database: str) -> dict[str, list[dict[str, Any]]]:
    async with await CallLogStore.open(database) as store:
        async with store._engine.connect() as conn:
            return {
                t.name: [
                    dict(r)
                    for r in (
                        await conn.execute(select(t).order_by(*t.primary_key.columns))
                    ).mappings()
                ]
                for t in tables()
            }


async def _check_server(database: str, log: Path, *, jwt: str | None, secret: str) -> str:
    """Log in as alice on a server of ``database``; the old session token (``jwt``) and the
    service token still work. Returns a new session token."""
    proc = CtikitProcess(["serve", "--port", "0", "--database", database], log)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{proc.url}/api/login", json={"username": "alice", "password": PASSWORD}
            ) as r:
                body = await r.json()
                assert body["success"], body
            for token in (jwt, body["token"]):
                if token is None:
                    continue
                headers = {"Authorization": f"Bearer {token}"}
                async with s.get(f"{proc.url}/api/whoami", headers=headers) as r:
                    assert r.status == 200, await r.text()
                    assert (await r.json())["user"] == "alice"
            headers = {"Authorization": f"Bearer {secret}"}
            async with s.get(f"{proc.url}/api/call-logs?limit=1", headers=headers) as r:
                assert r.status in (200, 403), await r.text()  # known token: not a 401
            async with s.post(
                f"{proc.url}/api/login", json={"username": "bob", "password": PASSWORD}
            ) as r:
                assert r.status == 403 or not (await r.json())["success"]  # still disabled
            return str(body["token"])
    finally:
        proc.stop()


def _refused(*args: str) -> str:
    done = run_ctikit(*args, check=False)
    assert done.returncode != 0 and done.stdout == "", done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


async def _round_trip(source: str, target: str, tmp_path: Path) -> None:
    secret = await _fill(source)
    jwt = await _check_server(source, tmp_path / "source.log", jwt=None, secret=secret)
    backup = tmp_path / "ctikit.backup.gz"
    done = run_ctikit("backup", str(backup), "--database", source)
    assert "600 call_logs" in done.stdout and "2 users" in done.stdout
    assert backup.stat().st_mode & 0o777 == 0o600
    assert "exists already" in _refused("backup", str(backup), "--database", source)

    run_ctikit("restore", str(backup), "--database", target)
    assert await _dump(target) == await _dump(source)
    await _check_server(target, tmp_path / "target.log", jwt=jwt, secret=secret)

    line = _refused("restore", str(backup), "--database", target)
    assert "already holds data" in line and "--force" in line
    run_ctikit("restore", str(backup), "--database", target, "--force")
    assert await _dump(target) == await _dump(source)


async def test_round_trip_on_sqlite(tmp_path: Path) -> None:
    await _round_trip(f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path / "b.db"), tmp_path)


@pytest.mark.postgres
async def test_round_trip_from_sqlite_to_postgresql_and_back(
    tmp_path: Path, pg_database: str
) -> None:
    await _round_trip(f"sqlite:///{tmp_path / 'a.db'}", pg_database, tmp_path)
    again = tmp_path / "from-pg.backup.gz"
    run_ctikit("backup", str(again), "--database", pg_database)
    back = f"sqlite:///{tmp_path / 'c.db'}"
    run_ctikit("restore", str(again), "--database", back)
    assert await _dump(back) == await _dump(pg_database)


def _rewrite(src: Path, dst: Path, change: Any) -> None:
    lines = [json.loads(x) for x in gzip.decompress(src.read_bytes()).splitlines()]
    with gzip.open(dst, "wt") as f:
        for x in change(lines):
            f.write(json.dumps(x) + "\n")


async def test_a_bad_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    await _fill(source)
    good = tmp_path / "good.gz"
    run_ctikit("backup", str(good), "--database", source)
    target = str(tmp_path / "t.db")

    cut = tmp_path / "cut.gz"
    _rewrite(good, cut, lambda lines: lines[:-1])
    assert "cut off" in _refused("restore", str(cut), "--database", target)
    assert all(rows == [] for rows in (await _dump(target)).values())  # rolled back

    def older(lines: list[Any]) -> list[Any]:
        lines[0]["revision"] = "0001"
        return lines

    old = tmp_path / "old.gz"
    _rewrite(good, old, older)
    assert "schema revision 0001" in _refused("restore", str(old), "--database", target)

    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip at all")
    assert "not a ctikit backup" in _refused("restore", str(junk), "--database", target)
    plain = tmp_path / "plain.gz"
    plain.write_bytes(gzip.compress(b'{"hello": 1}\n'))
    assert "not a ctikit backup" in _refused("restore", str(plain), "--database", target)
    assert "no backup file" in _refused("restore", str(tmp_path / "nope"), "--database", target)
    missing = str(tmp_path / "missing.db")
    assert "no database file" in _refused("backup", str(tmp_path / "x.gz"), "--database", missing)


@pytest.mark.postgres
async def test_sequences_move_past_restored_integer_keys(pg_database: str) -> None:
    table = Table(
        "numbered", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(8))
    )
    engine = build_engine(normalize_url(pg_database))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(insert(table), [{"id": i, "v": "restored"} for i in (1, 2, 7)])
            await conn.run_sync(advance_sequences, [table])
            new = await conn.scalar(insert(table).values(v="new").returning(table.c.id))
            assert new == 8
    finally:
        await engine.dispose()
