"""Results: markdown tables for RESULTS.md and JSON files with every raw number."""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sysinfo

RESULTS_DIR = Path(__file__).with_name("results")


@dataclass
class Report:
    """One scenario's outcome: a table (rows of column -> value), notes, raw data."""

    scenario: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # "met"/"MISSED" lines
    raw: list[dict[str, Any]] = field(default_factory=list)
    command: str = field(default_factory=lambda: "python -m bench " + shlex.join(sys.argv[1:]))
    facts: dict[str, Any] = field(default_factory=sysinfo.machine_facts)

    def add(self, row: dict[str, Any], raw: dict[str, Any] | None = None) -> None:
        self.rows.append(row)
        if raw is not None:
            self.raw.append(raw)

    def markdown(self) -> str:
        out = [
            f"### {self.title}",
            "",
            f"`{self.command}` — {self.facts['date']}, ctikit {self.facts.get('code')}, "
            f"load average at start {self.facts['loadavg']}",
            "",
        ]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "---|" * len(self.columns))
        for row in self.rows:
            out.append("| " + " | ".join(_fmt(row.get(c, "")) for c in self.columns) + " |")
        out.append("")
        for line in self.targets:
            out.append(f"- target: {line}")
        for line in self.notes:
            out.append(f"- {line}")
        return "\n".join(out) + "\n"

    def save(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.scenario}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(
            json.dumps(
                {
                    "scenario": self.scenario,
                    "title": self.title,
                    "command": self.command,
                    "facts": self.facts,
                    "columns": self.columns,
                    "rows": self.rows,
                    "notes": self.notes,
                    "targets": self.targets,
                    "raw": self.raw,
                },
                indent=1,
                default=str,
            )
        )
        return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def ratio(a: float | None, b: float | None) -> float:
    """``a / b``, NaN when either is missing or b is 0."""
    if a is None or b is None or not b:
        return float("nan")
    return a / b


def check(ok: bool) -> str:
    return "met" if ok else "MISSED"
