"""Suite-wide ordering, the SIP binaries check, and a private Redis for cluster-mode tests."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from ctikit.testing import POSTGRES_ADMIN_DSN as PG_ADMIN
from ctikit.testing import free_port, redis_server_command

SIP_LAB = "sip-lab"  # the xdist group of tests that run SIP labs


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: Playwright's sync API keeps its event loop marked running in the
    # main thread for the whole session (the browser fixture is session-scoped), which
    # would break every asyncio test collected after it. Under xdist (./run test runs two
    # workers) each worker gets its tests in this order too.
    items.sort(key=lambda item: "tests/browser/" in str(item.path))
    for item in items:
        # SIP labs (kamailio, rtpengine, baresip: blocks of ports, audio in real time) run
        # one at a time, on one worker (--dist loadgroup).
        if item.get_closest_marker("sip") is not None:
            item.add_marker(pytest.mark.xdist_group(SIP_LAB))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under --dist loadgroup, xdist marks a grouped test by appending ``@group`` to its ID
    (after the hook above). Should a pytest or xdist release stop that, labs would run side
    by side and fail now and then: fail at once instead."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lab = [i for i in session.items if i.get_closest_marker("sip") is not None]
    if lab and not all(i.nodeid.endswith(f"@{SIP_LAB}") for i in lab):
        raise pytest.UsageError(
            "pytest-xdist --dist loadgroup did not group the SIP lab tests: check the "
            "pytest and pytest-xdist versions (pyproject.toml)"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``sip`` needs kamailio, baresip and sipp: fail (not skip) when one is
    missing, unless CTIKIT_SKIP_SIP=1."""
    if item.get_closest_marker("sip") is None:
        return
    if os.environ.get("CTIKIT_SKIP_SIP") == "1":
        pytest.skip("CTIKIT_SKIP_SIP=1")
    missing = [b for b in ("kamailio", "baresip", "sipp") if shutil.which(b) is None]
    if missing:
        pytest.fail(
            f"SIP tests need {', '.join(missing)} on PATH (apt-get install kamailio "
            "baresip-core sip-tester), or set CTIKIT_SKIP_SIP=1 to skip them",
            pytrace=False,
        )


class RedisServer:
    """A private redis-server for tests (so a restart or kill hurts nobody else), with
    the persistence cluster mode needs: every write fsynced to the append-only file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server") or "redis-server"
        self.proc = subprocess.Popen(
            redis_server_command(exe, self.port, self.root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start (see {self.root / 'redis.log'})")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: ./run test installs it (apt redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, to kill and restart."""
    root = tmp_path / "redis"
    root.mkdir()
    server = RedisServer(root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database of the test's own, dropped afterwards: a server process
    migrates it to this checkout's schema, whatever another checkout left in ``test``."""
    if os.environ.get("CTIKIT_SKIP_POSTGRES") == "1":
        pytest.skip("CTIKIT_SKIP_POSTGRES=1")
    name = f"ctikit_t_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable ({exc}); ./run test sets it up")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
