"""The attack suite: fixtures and the summary table (attack, verdict, RSS, bystander latency).

``./run attack`` runs it at full size and writes the table to the file named by
CTIKIT_ATTACK_RESULTS; ``./run test`` runs the small versions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from .harness import FULL, AttackServer, Bystander, Measurement, measured

_RESULTS: list[dict[str, Any]] = []
_MEASURED = pytest.StashKey[list[tuple[str, Measurement]]]()


Attack = Callable[[AttackServer, Bystander, str], AbstractAsyncContextManager[Measurement]]


@pytest.fixture
def attack(request: pytest.FixtureRequest) -> Attack:
    """``async with attack(server, bystander, "what the attack does") as m:`` measures the
    block (:func:`harness.measured`) and makes it a row of the summary table, whatever the
    test's outcome; ``m.notes`` go in the row."""
    rows = request.node.stash.setdefault(_MEASURED, [])

    def measure(
        server: AttackServer, bystander: Bystander, name: str
    ) -> AbstractAsyncContextManager[Measurement]:
        @contextlib.asynccontextmanager
        async def run() -> AsyncIterator[Measurement]:
            async with measured(server, bystander) as m:
                rows.append((name, m))
                yield m

        return run()

    return measure


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    report = yield
    if report.when == "call" or (report.when == "setup" and report.failed):
        for attack, m in item.stash.get(_MEASURED, []):
            _RESULTS.append({"test": item.name, "attack": attack, "m": m, "ok": report.passed})
    return report


def _row(r: dict[str, Any]) -> str:
    m: Measurement = r["m"]
    b = m.bystander or {"ws": {}, "rest": {}}
    ws, rest = b.get("ws", {}), b.get("rest", {})
    notes = ", ".join(f"{k} {v}" for k, v in m.notes.items())
    return (
        f"| {r['attack']} | {'pass' if r['ok'] else 'FAIL'} | "
        f"{m.rss_start:.0f} → {m.rss_peak:.0f} | "
        f"{ws.get('p50', '-')} / {ws.get('p99', '-')} | "
        f"{rest.get('p50', '-')} / {rest.get('p99', '-')} | {m.seconds:.1f} | "
        f"{m.server_cpu:.1f} | {notes} |"
    )


def summary() -> str:
    head = (
        "| attack | result | server RSS MB (start → peak) | bystander socket p50 / p99 ms "
        "| bystander REST p50 / p99 ms | s | server CPU s | notes |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(_row(r) for r in _RESULTS)])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    terminalreporter.section(f"attack suite ({'full' if FULL else 'quick'} size)")
    terminalreporter.write_line(summary())
    out = os.environ.get("CTIKIT_ATTACK_RESULTS")
    if out:
        Path(out).write_text(summary() + "\n")
        terminalreporter.write_line(f"(written to {out})")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attack")


def start(root: Path, **kwargs: Any) -> Iterator[AttackServer]:
    server = AttackServer(root, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def bystander_of(server: AttackServer) -> Iterator[Bystander]:
    b = Bystander(server)
    try:
        yield b
    finally:
        b.stop()
