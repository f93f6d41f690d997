"""An acknowledged save survives kill -9 of the process (SQLite WAL + synchronous=FULL)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import ctikit.storage
from ctikit.storage import CallLogStore

CHILD = """
import asyncio, os, signal, sys
from ctikit.storage import CallLogStore, NewCallLog

async def main() -> None:
    store = await CallLogStore.open(sys.argv[1])
    for i in range(20):
        log = await store.save(
            NewCallLog(agent_id="agent-k", call_id=f"call-{i}", call_type="INBOUND",
                       comments="must survive", attached_data={"i": i})
        )
        print(log.id, flush=True)
    # No close(), no commit-on-exit, no atexit: the process just dies.
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_saved_logs_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    # The child must import the same ctikit, installed or not.
    src = os.path.dirname(os.path.dirname(os.path.dirname(ctikit.storage.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    ids = stdout.decode().split()
    assert len(ids) == 20, stderr.decode()

    store = await CallLogStore.open(db)
    try:
        for i, log_id in enumerate(ids):
            log = await store.get(log_id)
            assert log is not None, f"acknowledged log {i} lost"
            assert log.call_id == f"call-{i}"
            assert log.attached_data == {"i": i}
        assert await store.count() == 20
    finally:
        await store.close()
