"""Supervised child processes (kamailio, baresip) on asyncio.

:class:`ManagedProcess` starts a program in its own session (so that its process group holds
only it and its children: kamailio forks workers, and a SIGKILLed kamailio leaves them running
and still bound to the SIP port unless the whole group is signalled), restarts it with back-off
when it dies unexpectedly, and stops it with SIGTERM, then SIGKILL after a grace period.
Output goes to a log file; nothing is read from pipes (baresip prints a status line ten times a
second per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)


class ManagedProcess:
    """One supervised program. ``on_exit(rc)`` is called when it dies while supervised."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        restart: bool = True,
        backoff: tuple[float, float] = (0.2, 5.0),
        term_timeout: float = 5.0,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.restart = restart
        self.backoff = backoff
        self.term_timeout = term_timeout
        self.on_exit = on_exit
        self.starts = 0  # how many times it was started (restarts = starts - 1)
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._changed = asyncio.Condition()  # notified at every start
        self._stopping = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    async def start(self) -> None:
        """Start it and its supervisor; returns once the program is running."""
        if self._task is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._stopping = False
        self._running.clear()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"supervise {self.name}"
        )
        waiter = asyncio.ensure_future(self._running.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            await self._task  # re-raises why it could not start

    async def wait_restarted(self, after: int) -> None:
        """Wait until it has been started more than ``after`` times and is running (wrap it
        in ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.starts > after and self.running)

    def signal(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to its process group now (fault injection); supervision goes on."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)

    async def stop(self) -> None:
        """Stop supervising; SIGTERM, then SIGKILL after ``term_timeout``. Idempotent."""
        self._stopping = True
        task, self._task = self._task, None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._killpg(proc, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), self.term_timeout)
            except TimeoutError:
                log.warning("%s (pid %d) ignored SIGTERM: SIGKILL", self.name, proc.pid)
                self._killpg(proc, signal.SIGKILL)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        if proc is not None and proc.returncode is None:
            await proc.wait()
        # Workers of a group leader that died first (kamailio) may still be around.
        if proc is not None:
            self._killpg(proc, signal.SIGKILL)

    async def _supervise(self) -> None:
        delay = self.backoff[0]
        loop = asyncio.get_running_loop()
        while not self._stopping:
            out = await asyncio.to_thread(self._open_log)
            with out:
                started = loop.time()
                proc = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            self._proc = proc
            self.starts += 1
            self._running.set()
            async with self._changed:
                self._changed.notify_all()
            log.info("%s started (pid %d)", self.name, proc.pid)
            try:
                rc = await proc.wait()
            except asyncio.CancelledError:
                self._killpg(proc, signal.SIGKILL)
                await proc.wait()
                raise
            self._running.clear()
            if self._stopping:
                return
            # Leftover workers would keep the old sockets: clear the group before a restart.
            self._killpg(proc, signal.SIGKILL)
            log.warning("%s (pid %d) exited with %d", self.name, proc.pid, rc)
            if self.on_exit is not None:
                try:
                    self.on_exit(rc)
                except Exception:
                    log.exception("on_exit of %s raised", self.name)
            if not self.restart:
                return
            # A program that ran a while gets a quick restart; one that keeps dying, back-off.
            ran = loop.time() - started
            delay = self.backoff[0] if ran > 10 else min(delay * 2, self.backoff[1])
            await asyncio.sleep(delay)

    def _open_log(self) -> BinaryIO:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log_path, "ab")

    @staticmethod
    def _killpg(proc: asyncio.subprocess.Process, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
