"""A real ctikit server process, for integration tests (ctikit's own, and yours).

    server = CtikitProcess(["demo", "--port", "0"], log_path=tmp_path / "ctikit.log")
    try:
        ...  # talk to server.url: REST, /ws, /console in a browser
    finally:
        server.stop()

The process is ``python -m ctikit ARGS`` with the running interpreter; ``url`` is what it
printed on its first ``listening on`` line. Its stderr (the log) goes to ``log_path``.
:func:`run_ctikit` runs one command to its end (``user add``, ``token create``...).
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

_LISTENING = re.compile(r"listening on (https?://\S+)")


#: Where tests create and drop PostgreSQL databases of their own (``CTIKIT_TEST_POSTGRES_DSN``).
POSTGRES_ADMIN_DSN = os.environ.get(
    "CTIKIT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_command(
    exe: str, port: int, root: Path, *, appendfsync: str = "always"
) -> list[str]:
    """A private ``redis-server`` on 127.0.0.1:``port`` keeping its files in ``root``, with
    the persistence cluster mode needs: the append-only file (fsynced as ``appendfsync``
    says), no RDB snapshots (docs/deploy.md)."""
    return [
        exe,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(root),
        "--appendonly",
        "yes",
        "--appendfsync",
        appendfsync,
        "--save",
        "",
        "--protected-mode",
        "yes",
        "--logfile",
        str(root / "redis.log"),
    ]


def run_ctikit(
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 60.0,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ctikit ARGS`` to its end (in ``cwd``, with ``env``), its output
    captured. With ``check``, a non-zero exit raises RuntimeError carrying its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "ctikit", *args],
        input=stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"ctikit {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


class CtikitProcess:
    """A ``python -m ctikit ARGS...`` process (or ``command ARGS...``, e.g. an installed
    ``ctikit`` script); ``url`` once it said it listens.

    Raises RuntimeError (with the end of the log) if it does not within ``within`` seconds.
    """

    def __init__(
        self,
        args: list[str],
        log_path: str | os.PathLike[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        within: float = 30.0,
        command: list[str] | None = None,
    ) -> None:
        self.log_path = Path(log_path)
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "ctikit"]), *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=cwd,
            env=env,
        )
        url = self._wait_for_url(within)
        if url is None:
            self.stop(kill=True)
            raise RuntimeError(f"ctikit did not start; log:\n{self.log_path.read_text()[-4000:]}")
        self.url: str = url

    def _wait_for_url(self, within: float) -> str | None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + within
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    return None
                line = self.proc.stdout.readline()
                if not line:
                    return None  # it exited
                m = _LISTENING.search(line)
                if m:
                    return m.group(1).rstrip("/")
        return None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.proc.poll()

    def send_signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, *, kill: bool = False, within: float = 15.0) -> int:
        """SIGTERM (or SIGKILL), wait (SIGKILL after ``within`` s), close the pipes; returns
        the exit code."""
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
        try:
            code = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        return code

    def __enter__(self) -> CtikitProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
