"""The control channel between the orchestrator and its child processes.

Every child (a server under test, a load client) reads one JSON command per line on stdin and
answers one JSON object per line on stdout: ``{"cmd": "stats", ...}`` -> ``{"ok": true, ...}``.
Its first line is ``{"ready": true, ...}``. Commands run one at a time, in order. A child exits
when stdin closes or on ``quit``, so nothing outlives the orchestrator.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
LINE_LIMIT = 1 << 26


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve_control(handlers: dict[str, Handler], ready: dict[str, Any]) -> None:
    """Answer commands on stdin with ``handlers`` until ``quit`` or end of input."""
    _die_with_parent()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _emit({"ready": True, "pid": os.getpid(), **ready})
    while line := await reader.readline():
        msg = json.loads(line)
        cmd = msg.pop("cmd")
        if cmd == "quit":
            _emit({"ok": True})
            return
        handler = handlers.get(cmd)
        try:
            if handler is None:
                raise KeyError(f"unknown command {cmd!r}")
            result = await handler(msg)
            _emit({"ok": True, **result})
        except Exception as exc:
            _emit({"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": _tb()})


def _die_with_parent() -> None:
    """Get SIGTERM when the orchestrator dies, even if busy with a command (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        raise SystemExit("orchestrator already gone")


def _tb() -> str:
    return traceback.format_exc()[-2000:]


class ChildError(RuntimeError):
    """A child answered a command with an error, or died."""


class Child:
    """A child process driven over the control channel (orchestrator side)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, ready: dict[str, Any]):
        self.name = name
        self.proc = proc
        self.ready = ready
        self.pid: int = ready["pid"]
        self._lock = asyncio.Lock()

    @classmethod
    async def start(
        cls, name: str, module: str, args: list[str], log_path: Path, *, within: float = 60
    ) -> Child:
        """Run ``python -m module args`` and wait for its ready line."""
        log = log_path.open("ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=LINE_LIMIT,
                start_new_session=True,  # a Ctrl-C reaches the orchestrator, which stops us
                cwd=REPO_ROOT,  # so that ``-m bench.X`` resolves wherever we were started
            )
        finally:
            log.close()
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), within)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ChildError(f"{name} did not start within {within}s (log: {log_path})") from None
        if not line:
            await proc.wait()
            raise ChildError(f"{name} exited at start (log: {log_path}):\n{_tail(log_path)}")
        return cls(name, proc, json.loads(line))

    async def call(self, cmd: str, *, within: float = 300, **args: Any) -> dict[str, Any]:
        """Send one command and return its answer; raise :class:`ChildError` on failure."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
            await self.proc.stdin.drain()
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), within)
            except TimeoutError:
                raise ChildError(f"{self.name}: {cmd} took over {within}s") from None
        if not line:
            raise ChildError(f"{self.name} died during {cmd}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise ChildError(f"{self.name}: {cmd}: {answer.get('error')}\n{answer.get('trace')}")
        return answer

    async def stop(self, within: float = 15) -> None:
        """Ask the child to quit; terminate it, then kill it, if it does not."""
        if self.proc.returncode is not None:
            return
        try:
            await asyncio.wait_for(self.call("quit"), within)
            await asyncio.wait_for(self.proc.wait(), within)
        except (TimeoutError, ChildError, ConnectionError):
            pass
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""
