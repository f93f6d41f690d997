"""ctikit.testing.CtikitProcess: starts a real server, reports a start that fails."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from ctikit.testing import CtikitProcess, run_ctikit


def test_a_demo_process_serves_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with CtikitProcess(
        ["demo", "--port", "0", "--database", f"sqlite:///{db}"], tmp_path / "log"
    ) as server:
        with urllib.request.urlopen(f"{server.url}/api/health", timeout=10) as r:
            assert json.load(r)["success"] is True
    assert server.poll() == 0  # SIGTERM: a graceful exit


def test_a_server_that_cannot_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        CtikitProcess(["serve", "--config", str(tmp_path / "missing.toml")], tmp_path / "log")


def test_run_ctikit_reports_a_failing_command_with_its_stderr() -> None:
    assert "ctikit" in run_ctikit("--help").stdout
    with pytest.raises(RuntimeError, match="exited 2"):
        run_ctikit("no-such-command")
    assert run_ctikit("no-such-command", check=False).returncode == 2
