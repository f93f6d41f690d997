"""The fuzzing harness: the real app on a real loopback port, on an event loop of its own.

Hypothesis and schemathesis (which drives ``requests``) run synchronously in the test thread;
the server, the simulator and the WebSocket consoles run on one event loop in a background
thread. Every ERROR record of the ``ctikit``, ``aiohttp`` and ``asyncio`` loggers, and every
exception that reaches the loop's exception handler, is recorded: the invariants allow none.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from ctikit.config import AgentConfig, Config
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.server.app import build_app
from ctikit.server.auth import hash_password
from ctikit.server.connections import listen
from ctikit.server.keys import AUTH, SERVICE
from ctikit.storage import AccountStore

T = TypeVar("T")

#: Examples per fuzz test (per API operation and identity for schemathesis). The normal suite
#: uses the small default; ``./run fuzz`` raises it (docs/fuzzing.md).
EXAMPLES = int(os.environ.get("CTIKIT_FUZZ_EXAMPLES", "20"))
#: Generated cases actually sent to the server, by kind; printed at the end of the run.
CASES: collections.Counter[str] = collections.Counter()
#: Failures that matched a known, still open server bug (tests/fuzz/known_bugs.py).
KNOWN: collections.Counter[str] = collections.Counter()

PASSWORD = "correct horse battery"
_HASH: str | None = None
#: username -> (role, agent, team)
USERS = {
    "agent1": ("agent", "agent1", "blue"),
    "agent2": ("agent", "agent2", "red"),
    "sup-blue": ("supervisor", None, "blue"),
}
ALL_SCOPES = frozenset({"calls:attach", "calls:control", "logs:read"})
WATCHED_LOGGERS = ("ctikit", "aiohttp", "asyncio")


def examples(weight: float = 1.0) -> int:
    """``EXAMPLES`` scaled by ``weight`` (at least 1)."""
    return max(1, round(EXAMPLES * weight))


class ErrorLog(logging.Handler):
    """Collects ERROR (and worse) records, formatted with their traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
        self._records: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._guard:
            self._records.append(text)

    def add(self, text: str) -> None:
        with self._guard:
            self._records.append(text)

    def take(self) -> list[str]:
        """The records collected since the last call."""
        with self._guard:
            out, self._records = self._records, []
        return out


_CLOSED = object()


class ConsoleClosedError(AssertionError):
    """The server closed a console socket while a response was awaited."""


class Console:
    """A console socket on the server loop: responses in order, events collected."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, agent: str) -> None:
        self.ws = ws
        self.agent = agent
        self.hello: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.responses: asyncio.Queue[Any] = asyncio.Queue()
        self.checked_events = 0  # events whose sequence number was checked already
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Console:
        first = await self.ws.receive_json(timeout=10)
        assert first.get("type") == "hello", first
        self.hello = first
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = json.loads(msg.data)
                if isinstance(frame, dict) and frame.get("type") == "event":
                    self.events.append(frame)
                else:
                    self.responses.put_nowait(frame)
        finally:
            self.responses.put_nowait(_CLOSED)

    @property
    def closed(self) -> bool:
        return self.ws.closed or (self._task is not None and self._task.done())

    async def exchange(self, frame: str | bytes, within: float = 10) -> Any:
        """Send one frame and return the next response frame (a decoded JSON value)."""
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)
        try:
            got = await asyncio.wait_for(self.responses.get(), within)
        except TimeoutError:
            raise AssertionError(f"no response within {within} s (server hung?)") from None
        if got is _CLOSED:
            raise ConsoleClosedError(f"socket closed by the server (code {self.ws.close_code})")
        return got

    async def request(self, op: str, rid: int | str = "ctl", **fields: Any) -> dict[str, Any]:
        resp = await self.exchange(json.dumps({"id": rid, "op": op, **fields}))
        assert isinstance(resp, dict) and resp.get("id") == rid, resp
        return resp

    async def wait_closed(self, within: float = 10) -> None:
        if self._task is not None:
            await asyncio.wait_for(asyncio.shield(self._task), within)

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            await self._task


class LiveServer:
    """``build_app`` behind an AppRunner on 127.0.0.1, with users and tokens."""

    def __init__(self, workdir: Path, **config: Any) -> None:
        self.workdir = workdir
        self.config = Config(
            database=f"sqlite:///{workdir / 'ctikit.db'}",
            agents=(
                AgentConfig(id="agent1", extension="1001"),
                AgentConfig(id="agent2", extension="1002"),
                AgentConfig(id="agent3", extension="1003"),
            ),
            # Rate limits are tested in tests/server; here they would only answer
            # "rate_limited" to a fuzzer that waits for every answer anyway.
            max_requests_per_second=1_000_000.0,
            max_request_burst=1_000_000,
            max_request_bytes_per_second=1 << 40,
            max_request_bytes_burst=1 << 40,
            **config,
        )
        self.errors = ErrorLog()
        self.tokens: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._loop_error)
        self._thread = threading.Thread(target=self._run, name="ctikit-fuzz-loop", daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._consoles: list[Console] = []
        self.app: web.Application | None = None
        self.port = 0
        self.hung: str | None = None

    # ------------------------------------------------------------ life cycle

    def start(self) -> LiveServer:
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self.errors)
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        if self.hung is not None:  # nothing more can be done on that loop
            for name in WATCHED_LOGGERS:
                logging.getLogger(name).removeHandler(self.errors)
            return
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
            self.loop.run_until_complete(self._cancel_leftovers())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            for name in WATCHED_LOGGERS:
                logging.getLogger(name).removeHandler(self.errors)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.errors.add(f"event loop: {context.get('message')} {exc!r}")

    async def _cancel_leftovers(self) -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def _start(self) -> None:
        global _HASH
        # Sim timings a twentieth of real ones: calls ring for 1.5 s, answers take 7.5 ms.
        connector = SimulatorConnector(
            timings=SimTimings().scaled(0.05),
            # agent2 has no extension: no dial or transfer can legitimately reach it, so any
            # change of its state during a run is a leak.
            directory=Directory({"1001": "agent1", "1003": "agent3"}),
        )
        self.app = app = await build_app(self.config, connector=connector)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Listening as `ctikit serve` does (its connection guard and error answers).
        await listen(self._runner, replace(self.config, host="127.0.0.1", port=0))
        self.port = self._runner.addresses[0][1]
        accounts = AccountStore(app[SERVICE].store)
        if _HASH is None:
            _HASH = await asyncio.to_thread(hash_password, PASSWORD)
        for name, (role, agent, team) in USERS.items():
            await accounts.add_user(name, role=role, password_hash=_HASH, agent_id=agent, team=team)
            token, _, _ = await app[AUTH].login(name, PASSWORD)
            self.tokens[name] = token
        _, self.tokens["service"] = await accounts.create_token("fuzz-all", ALL_SCOPES)
        self._session = aiohttp.ClientSession()

    async def _stop(self) -> None:
        for console in self._consoles:
            await console.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --------------------------------------------------------------- helpers

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``coro`` on the server loop and wait for its result.

        If the loop does not answer in time, the server is hung: the error shows where the
        loop thread is stuck, and every later call fails at once (no minutes of timeouts
        while hypothesis shrinks).
        """
        if self.hung is not None:
            coro.close()
            raise AssertionError(f"the server loop hung earlier:\n{self.hung}")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            frame = sys._current_frames().get(self._thread.ident or -1)
            where = "".join(traceback.format_stack(frame)) if frame else "(no stack)"
            self.hung = f"no answer within {timeout} s; the loop thread is at:\n{where}"
            raise AssertionError(self.hung) from None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def _add_agent(self, agent: str) -> None:
        assert self.app is not None and _HASH is not None
        accounts = AccountStore(self.app[SERVICE].store)
        await accounts.add_user(agent, role="agent", password_hash=_HASH, agent_id=agent, team=None)
        self.tokens[agent], _, _ = await self.app[AUTH].login(agent, PASSWORD)

    def add_agent(self, agent: str) -> str:
        """A new agent user (user name = agent ID), logged in; returns its agent ID."""
        self.call(self._add_agent(agent))
        return agent

    async def open_console(self, agent: str, who: str | None = None) -> Console:
        assert self._session is not None
        token = self.tokens[who or agent]
        ws = await self._session.ws_connect(f"{self.url}/ws?agent={agent}&token={token}")
        console = await Console(ws, agent).start()
        self._consoles.append(console)
        return console

    def console(self, agent: str, who: str | None = None) -> Console:
        return self.call(self.open_console(agent, who))
