"""Liveness and readiness against real parts: a real server process on PostgreSQL whose
database goes away, a cluster node whose Redis is killed, and the connector stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from ctikit.server.keys import SERVICE
from ctikit.testing import POSTGRES_ADMIN_DSN, CtikitProcess


async def _ready(s: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with s.get(f"{url}/api/ready") as r:
        return r.status, dict(await r.json())


async def _wait_ready(
    s: aiohttp.ClientSession, url: str, status: int, within: float = 20.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        got, body = await _ready(s, url)
        if got == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/api/ready stayed {got}: {body}")
        await asyncio.sleep(0.1)


async def test_live_and_ready_in_process(server: Any) -> None:
    r = await server.get("/api/live")
    assert r.status == 200 and (await r.json())["status"] == "live"
    r = await server.get("/api/ready")
    body = await r.json()
    assert r.status == 200, body
    assert body["checks"] == {"database": "ok", "connector": "ok"}
    # /api/health keeps its shape for existing monitors.
    health = await (await server.get("/api/health")).json()
    assert health["status"] == "ok" and health["connector"] == "sim"


async def test_a_stopped_connector_is_not_ready(server: Any) -> None:
    await server.app[SERVICE].telephony.stop()
    r = await server.get("/api/ready")
    body = await r.json()
    assert r.status == 503 and r.headers["Retry-After"] == "1"
    assert body["success"] is False and body["code"] == "not_ready"
    assert body["failed"] == ["connector"] and body["checks"]["database"] == "ok"
    assert "connector is not running" in body["error"]
    assert (await server.get("/api/live")).status == 200


def _config(tmp_path: Path, database: str, extra: str = "") -> Path:
    path = tmp_path / "ctikit.toml"
    path.write_text(
        f'[server]\ndatabase = "{database}"\n{extra}\n[[agents]]\nid = "agent1"\n'
        'extension = "1001"\n'
    )
    return path


@pytest.mark.postgres
async def test_a_database_that_goes_away_is_not_ready(tmp_path: Path, pg_database: str) -> None:
    config = _config(tmp_path, pg_database)
    node = CtikitProcess(["serve", "--config", str(config), "--port", "0"], tmp_path / "log")
    try:
        async with aiohttp.ClientSession() as s:
            body = await _wait_ready(s, node.url, 200)
            assert body["checks"] == {"database": "ok", "connector": "ok"}
            # The shared server stays up: only this test's database goes (connections cut).
            name = pg_database.rsplit("/", 1)[1]
            admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
            try:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            body = await _wait_ready(s, node.url, 503)
            assert body["failed"] == ["database"], body
            assert "postgres@" not in body["error"]  # no credentials in the answer
            async with s.get(f"{node.url}/api/live") as r:
                assert r.status == 200
    finally:
        node.stop()


@pytest.mark.postgres
async def test_a_cluster_node_without_redis_is_not_ready(
    tmp_path: Path, pg_database: str, private_redis: Any
) -> None:
    config = _config(tmp_path, pg_database, "cluster_lease_seconds = 1.0")
    args = ["serve", "--config", str(config), "--port", "0", "--cluster", private_redis.url]
    node = CtikitProcess([*args, "--node-id", "n1"], tmp_path / "log")
    try:
        async with aiohttp.ClientSession() as s:
            body = await _wait_ready(s, node.url, 200)
            assert body["checks"] == {"database": "ok", "connector": "ok", "redis": "ok"}
            private_redis.stop(kill=True)
            body = await _wait_ready(s, node.url, 503)
            assert "redis" in body["failed"], body
            private_redis.start()
            await _wait_ready(s, node.url, 200, within=30)
    finally:
        node.stop()
