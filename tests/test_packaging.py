"""The wheel is what an operator installs: build it with ``python -m build`` (the build
front end and backend from requirements/build.txt), install it into a clean venv from the
lock, and run ``ctikit demo`` from there, away from the checkout.

Slow (two pip installs, a build): about a minute here, mostly pip reading its cache.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import ctikit
from ctikit.storage.migrate import HEAD_REVISION
from ctikit.testing import CtikitProcess

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str | Path], *, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"


def _clean_env() -> dict[str, str]:
    """The environment without what would make the venv import this checkout's code."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def test_the_wheel_installs_and_runs_the_demo(tmp_path: Path) -> None:
    env = _clean_env()
    # A copy of what the build reads, so the build's by-products stay out of the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env)
    py = venv / "bin" / "python"
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # As ./run does: the runtime lock (which holds the build lock too), hashes checked.
    _run([*pip, "--require-hashes", "-r", ROOT / "requirements/runtime.txt"], cwd=tmp_path, env=env)
    # sdist, then the wheel from the sdist: what the sdist leaves out, the wheel lacks too.
    dist = tmp_path / "dist"
    _run([py, "-m", "build", "--no-isolation", "--outdir", dist, source], cwd=tmp_path, env=env)
    wheels = list(dist.glob("ctikit-*.whl"))
    assert [w.name for w in wheels] == [f"ctikit-{ctikit.__version__}-py3-none-any.whl"]
    assert list(dist.glob(f"ctikit-{ctikit.__version__}.tar.gz"))
    _run([*pip, "--no-deps", wheels[0]], cwd=tmp_path, env=env)

    where = tmp_path / "elsewhere"
    where.mkdir()
    done = subprocess.run(
        [py, "-c", "import ctikit; print(ctikit.__file__, ctikit.__version__)"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    installed, version = done.stdout.split()
    assert Path(installed).is_relative_to(venv), installed
    assert version == ctikit.__version__

    server = CtikitProcess(
        ["demo", "--port", "0"],
        log_path=tmp_path / "demo.log",
        cwd=where,
        env=env,
        command=[str(venv / "bin" / "ctikit")],
    )
    try:
        status, kind, body = _get(f"{server.url}/console?agent=agent1")
        assert status == 200 and kind.startswith("text/html") and b"<html" in body.lower()
        status, kind, body = _get(f"{server.url}/support/console/62.0/integration.js")
        assert status == 200 and "javascript" in kind and b"sforce" in body
        status, kind, body = _get(f"{server.url}/static/console/boot.js")
        assert status == 200 and len(body) > 100
        status, kind, body = _get(f"{server.url}/static/vendor/sip.js/lib/index.js")
        assert status == 200 and kind.startswith("text/javascript") and b"export" in body
        status, _, body = _get(f"{server.url}/api/health")
        assert status == 200 and b'"ok"' in body
    finally:
        assert server.stop() == 0
    # The migrations came with the wheel: the demo's database is at the head revision.
    with sqlite3.connect(where / "ctikit.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]


@pytest.mark.parametrize("where", ["pyproject.toml", "src/ctikit/cli.py"])
def test_the_version_is_written_in_one_place(where: str) -> None:
    text = (ROOT / where).read_text()
    assert ctikit.__version__ not in re.findall(r"\d+\.\d+\.\d+", text)
