"""Issue #7, small: the cluster benchmark (``python -m bench cluster``) end to end on tiny
parameters: single node, then 1 and 2 real ``ctikit serve --cluster`` nodes on the test
suite's Redis. Correctness of the harness only, no timing: every console gets every event
of its agent once, in order, and the report has its fields."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.__main__ import run_cli  # noqa: E402
from bench.scenarios.cluster import COLUMNS, layout  # noqa: E402


def test_layout_spreads_agents_and_second_sockets() -> None:
    lay = layout(100, 0.25, 3)
    assert len(lay.sockets) == 100 and len(lay.agents) == 80 and len(lay.doubled) == 20
    per_node = [sum(1 for _, n in lay.sockets if n == i) for i in range(3)]
    assert max(per_node) - min(per_node) <= 2, per_node
    for agent in lay.doubled:  # an agent's two sockets are on two different nodes
        nodes = [n for a, n in lay.sockets if a == agent]
        assert len(nodes) == 2 and nodes[0] != nodes[1]


def test_cluster_bench_smoke(tmp_path: Path, redis_server: Any) -> None:
    (rep,) = asyncio.run(
        run_cli(
            [
                "cluster",
                "--consoles",
                "20",
                "--nodes",
                "1,2",
                "--rate",
                "40",
                "--duration",
                "0.6",
                "--max-duration",
                "0.6",
                "--inflight",
                "8",
                "--warmup",
                "0.3",
                "--redis-url",
                redis_server.url,
                "--server-cpu",
                "",
                "--client-cpu",
                "",
                "--no-save",
                "--quiet",
                "--logs",
                str(tmp_path),
            ]
        )
    )
    assert rep.columns == COLUMNS
    modes = [(r["mode"], r["load"]) for r in rep.rows]
    assert [m for m, _ in modes] == [
        "single node",
        "single node",
        "cluster, 1 node",
        "cluster, 1 node",
        "cluster, 2 nodes",
        "cluster, 2 nodes",
    ], modes
    for row, raw in zip(rep.rows, rep.raw, strict=True):
        assert set(COLUMNS) <= set(row), row
        res = raw["result"]
        assert res["ok"] > 0 and res["events"] >= res["ok"], res
        assert row["lost"] == 0 and row["dup"] == 0, (row, res)
        assert row["failed req"] == 0, res["request_errors"]
        assert res["missing_at_end"] == 0 and res["bad_frames"] == 0, res
        assert row["consoles"] == 20
        if raw["nodes"]:
            # Redis's CPU and persistence are measured and reported for cluster rows.
            assert raw["redis_facts"]["appendonly"] == "yes", raw["redis_facts"]
            assert res["redis"]["commands"]["evalsha"]["calls"] >= res["ok"], res["redis"]
            assert row["persistence"].startswith("AOF"), row
            assert all(code == 0 for code in raw["node_exit_codes"]), raw["node_exit_codes"]
    # The benchmark cleans up after itself in a Redis it did not start.
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.keys("bench*") == []
    finally:
        client.close()
