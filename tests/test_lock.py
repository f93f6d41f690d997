"""The dependency lock (requirements/*.txt) agrees with pyproject.toml and with what runs.

``./run`` installs from the lock, so a fresh machine gets what was tested; these checks make
a stale lock fail here, on purpose, instead of on a newcomer's machine.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[str, str]:
    """Package -> pinned version, for the packages that apply on this platform."""
    out: dict[str, str] = {}
    env = default_environment()
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        m = PIN_RE.match(line)
        if m is None:
            continue
        name, version, marker = m.groups()
        if marker and not Requirement(f"x; {marker}").marker.evaluate(env):  # type: ignore[union-attr]
            continue
        out[canonicalize_name(name)] = version
    return out


def project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {
        "runtime": data["project"]["dependencies"],
        "test": data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"],
        "build": data["build-system"]["requires"],
    }


@pytest.mark.parametrize(("lock", "group"), [("runtime.txt", "runtime"), ("test.txt", "test")])
def test_every_dependency_is_pinned_within_its_range(lock: str, group: str) -> None:
    pinned = pins(lock)
    for spec in project()[group] + project()["build"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is in pyproject.toml but not in {lock}: ./run lock"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {req.name}=={pinned[name]}, outside pyproject.toml's {req.specifier}: "
            "./run lock"
        )


def test_locks_agree_with_each_other() -> None:
    runtime, test, build = pins("runtime.txt"), pins("test.txt"), pins("build.txt")
    for name, version in runtime.items():
        assert test.get(name) == version, f"{name}: runtime.txt and test.txt differ: ./run lock"
    for name, version in build.items():
        assert test.get(name) == version, f"{name}: build.txt and test.txt differ: ./run lock"


@pytest.mark.skipif(os.environ.get("CTIKIT_LATEST") == "1", reason="./run test --latest")
def test_the_suite_runs_on_the_locked_versions() -> None:
    wrong = []
    for name, version in pins("test.txt").items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} missing (lock: {version})")
            continue
        if have != version:
            wrong.append(f"{name} {have} (lock: {version})")
    assert not wrong, "installed packages differ from requirements/test.txt: " + ", ".join(wrong)
