"""docs/operations.md: the systemd unit it gives is one systemd accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _unit() -> str:
    blocks = re.findall(r"```ini\n(.*?)```", DOC.read_text(), re.DOTALL)
    units = [b for b in blocks if "[Service]" in b and "ctikit serve" in b]
    assert len(units) == 1, "docs/operations.md should hold one ctikit.service unit"
    return units[0]


def test_the_unit_runs_the_installed_ctikit() -> None:
    unit = _unit()
    assert "ExecStart=/opt/ctikit/venv/bin/ctikit serve --config /etc/ctikit/ctikit.toml" in unit
    assert "User=ctikit" in unit and "WantedBy=multi-user.target" in unit


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    ctikit = Path(sys.executable).with_name("ctikit")  # an executable that exists here
    if not ctikit.is_file():
        pytest.skip(f"no {ctikit} to stand for /opt/ctikit/venv/bin/ctikit")
    path = tmp_path / "ctikit.service"
    path.write_text(_unit().replace("/opt/ctikit/venv/bin/ctikit", str(ctikit)))
    done = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in done.stderr.splitlines() if "ctikit.service" in line]
    assert done.returncode == 0 and not problems, done.stderr
    # The check can fail: a misspelt key is reported.
    path.write_text(
        _unit()
        .replace("RestartSec=", "RestartSecs=")
        .replace("/opt/ctikit/venv/bin/ctikit", str(ctikit))
    )
    done = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert "RestartSecs" in done.stderr
