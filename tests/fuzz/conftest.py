"""Fuzz tests: a live server per test module (tests/fuzz/harness.py), counts at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from .harness import CASES, EXAMPLES, KNOWN, LiveServer
from .known_bugs import OPEN_BUGS, TOLERATE


def fuzz_settings(weight: float = 1.0, **overrides: Any) -> settings:
    """Hypothesis settings of a fuzz test: ``CTIKIT_FUZZ_EXAMPLES * weight`` examples."""
    return settings(
        max_examples=max(1, round(EXAMPLES * weight)),
        deadline=None,  # a real server on a loaded machine: latency is not a bug here
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
        **overrides,
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("fuzz")).start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    tr = terminalreporter
    tr.section("ctikit fuzzing")
    tr.write_line(f"CTIKIT_FUZZ_EXAMPLES={EXAMPLES}")
    for kind, count in sorted(CASES.items()):
        tr.write_line(f"  {kind:<24} {count:>8} generated cases sent")
    tr.write_line(f"  {'total':<24} {sum(CASES.values()):>8}")
    if KNOWN:
        titles = {b.key: b.title for b in OPEN_BUGS}
        for key, count in sorted(KNOWN.items()):
            title = titles.get(key.split()[0], "")
            tr.write_line(f"  known open bug {key}: {count} times. {title}")
    elif TOLERATE:
        tr.write_line("  no known open bug was hit")
