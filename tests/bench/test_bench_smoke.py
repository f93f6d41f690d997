"""Smoke test of the benchmark harness: every scenario runs end to end on tiny parameters
and loses no event. Correctness of the harness only: no timing is asserted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.__main__ import run_cli  # noqa: E402
from bench.report import Report  # noqa: E402

from bench import wsframes  # noqa: E402

COMMON = ["--server-cpu", "", "--client-cpu", "", "--no-save", "--quiet"]


def _run(tmp_path: Path, *argv: str, targets: str = "ctikit") -> Report:
    """Run a scenario; ctikit only, except where a test exercises the baselines too (each
    server process costs a second or more to start)."""
    (report,) = asyncio.run(
        run_cli([*argv, *COMMON, "--targets", targets, "--logs", str(tmp_path)])
    )
    return report


def test_frame_parser_byte_by_byte() -> None:
    frames = [wsframes.server_text_frame(b"x" * n) for n in (0, 5, 125, 126, 300, 70000)]
    stream = b"".join(frames)
    whole = wsframes.FrameParser().feed(stream)
    parser = wsframes.FrameParser()
    pieces = [f for i in range(len(stream)) for f in parser.feed(stream[i : i + 1])]
    assert whole == pieces == [(wsframes.OP_TEXT, b"x" * n) for n in (0, 5, 125, 126, 300, 70000)]


def test_idle(tmp_path: Path) -> None:
    rep = _run(tmp_path, "idle", "--counts", "20", "--settle", "0")
    assert [r["consoles"] for r in rep.rows] == [20]


def test_day(tmp_path: Path) -> None:
    rep = _run(
        tmp_path,
        "day",
        "--agents",
        "20",
        "--per-agent",
        "2",
        "--rate",
        "15",
        "--duration",
        "1",
        "--ring",
        "0.2",
        "--talk",
        "0.2",
        "--wrap",
        "0.1",
        targets="ctikit,aiohttp",
    )
    for row, raw in zip(rep.rows, rep.raw, strict=True):
        assert raw["day"]["counts"].get("calls", 0) >= 5, raw["day"]
        assert raw["day"]["counts"]["call_logs"] == raw["day"]["counts"]["calls"], raw["day"]
        assert row["lost"] == 0 and row["dup"] == 0, row
        assert raw["stats"]["events"] >= 50, raw["stats"]


def test_burst(tmp_path: Path) -> None:
    rep = _run(
        tmp_path,
        "burst",
        "--counts",
        "20",
        "--messages",
        "100",
        targets="ctikit,aiohttp,websockets",
    )
    assert len(rep.rows) == 3
    for row in rep.rows:
        assert row["lost"] == 0 and row["dup"] == 0, row


def test_reconnect(tmp_path: Path) -> None:
    rep = _run(tmp_path, "reconnect", "--counts", "20", "--missed", "3")
    for row in rep.rows:
        assert row["lost"] == 0 and row["dup"] == 0 and row["resumed"] == "replay 20", row
        assert row["all live (s)"] < float("inf"), row


def test_requests(tmp_path: Path) -> None:
    rep = _run(tmp_path, "requests", "--consoles", "20", "--rate", "100", "--duration", "0.5")
    for row in rep.rows:
        assert row["answered"] == 50 and row["failed"] == 0, row


@pytest.mark.browser
def test_browser(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no chromium")
    rep = _run(tmp_path, "browser", "--calls", "5")
    assert all(row["calls"] == 5 for row in rep.rows), rep.rows


def test_scrape(tmp_path: Path) -> None:
    rep = _run(tmp_path, "scrape", "--counts", "20", "--scrapes", "3", targets="ctikit,aiohttp")
    assert [(r["server"], r["consoles"]) for r in rep.rows] == [("ctikit", 20), ("aiohttp", 20)]
    assert all(r["bytes"] > 0 for r in rep.rows)
