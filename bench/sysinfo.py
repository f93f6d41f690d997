"""Facts about processes and the machine, read from /proc (Linux only)."""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of ``pid`` in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(cpus: str | None) -> None:
    """Pin this process to ``cpus`` ("0", "1", "0,1"); None or "" leaves it unpinned."""
    if cpus:
        # Not intersected with the inherited mask: children of a pinned parent (the bench
        # pins itself to the client core) must still be able to move to the server core.
        wanted = {int(c) for c in cpus.split(",")} & set(range(os.cpu_count() or 1))
        if wanted:
            os.sched_setaffinity(0, wanted)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def code_version(root: str | None = None) -> str:
    """The commit under test, plus a hash of uncommitted changes to src/ if there are any
    (others edit ctikit while the bench runs: a number belongs to the code it measured)."""
    cwd = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "src"], cwd=cwd, capture_output=True, timeout=10
        ).stdout
        new = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "src"],
            cwd=cwd,
            capture_output=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not diff and not new:
        return head
    return f"{head}+dirty-{hashlib.sha1(diff + new).hexdigest()[:8]}"


def machine_facts() -> dict[str, Any]:
    """What RESULTS.md records next to each number."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "aiohttp": _version("aiohttp"),
        "websockets": _version("websockets"),
        "msgspec": _version("msgspec"),
        "ctikit": _version("ctikit"),
        "loadavg": loadavg(),
        "code": code_version(),
    }
