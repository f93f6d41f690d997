"""Latency samples and their summaries."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any


class Samples:
    """Latencies in milliseconds, kept compactly; at most ``cap`` (then every k-th is kept)."""

    __slots__ = ("_keep_every", "_seen", "cap", "max", "values")

    def __init__(self, cap: int = 2_000_000) -> None:
        self.cap = cap
        self.values = array("d")
        self.max = 0.0
        self._seen = 0
        self._keep_every = 1

    def add(self, ms: float) -> None:
        self._seen += 1
        if ms > self.max:
            self.max = ms
        if self._seen % self._keep_every == 0:
            self.values.append(ms)
            if len(self.values) >= self.cap:
                self.values = array("d", self.values[::2])
                self._keep_every *= 2

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.add(v)

    def __len__(self) -> int:
        return self._seen

    def summary(self) -> dict[str, Any]:
        return summarize(self.values, count=self._seen, maximum=self.max)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values (nearest rank)."""
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def summarize(
    values: Sequence[float], *, count: int | None = None, maximum: float | None = None
) -> dict[str, Any]:
    """``{n, p50, p90, p99, max}`` in milliseconds, rounded for reports."""
    ordered = sorted(values)
    top = maximum if maximum is not None else (ordered[-1] if ordered else math.nan)
    return {
        "n": count if count is not None else len(ordered),
        "p50": round(percentile(ordered, 0.50), 3),
        "p90": round(percentile(ordered, 0.90), 3),
        "p99": round(percentile(ordered, 0.99), 3),
        "max": round(top, 3),
    }


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine the raw samples several clients sent (``values`` lists) into one summary."""
    values: list[float] = []
    count = 0
    top = 0.0
    for p in parts:
        values.extend(p.get("values", ()))
        count += p.get("n", 0)
        top = max(top, p.get("max", 0.0) or 0.0)
    return summarize(values, count=count, maximum=top)
