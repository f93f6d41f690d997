"""``/metrics``: protected by the ``metrics:read`` scope, in the Prometheus text format (parsed
here with prometheus_client's own parser), with numbers that follow what happened."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ctikit.server.keys import SERVICE
from ctikit.storage import AccountStore

from .conftest import MODES, auth


async def _token(server: Any) -> dict[str, str]:
    accounts = AccountStore(server.app[SERVICE].store)
    _, secret = await accounts.create_token("prometheus", frozenset({"metrics:read"}))
    return {"Authorization": f"Bearer {secret}"}


async def scrape(server: Any, headers: dict[str, str]) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample, by (name, sorted labels)."""
    r = await server.get("/metrics", headers=headers)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/plain; version=")
    out: dict[tuple[str, tuple[Any, ...]], float] = {}
    for family in text_string_to_metric_families(await r.text()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_metrics_scope(server: Any) -> None:
    r = await server.get("/metrics")
    assert r.status == 401 and (await r.json())["code"] == "unauthorized"
    for who in ("agent1", "sup-blue", "crm", "dialer"):
        r = await server.get("/metrics", headers=auth(server, who))
        body = await r.json()
        assert r.status == 403 and body["success"] is False, (who, body)
    assert (await server.get("/metrics", headers=await _token(server))).status == 200


@pytest.mark.parametrize("mode", MODES, indirect=True)
async def test_metrics_follow_what_happens(server: Any, connect: Any, mode: str) -> None:
    headers = await _token(server)
    before = await scrape(server, headers)
    a = await connect("agent1")
    await connect("agent1")
    await connect("agent2")
    await a.request("fireOnCallBegin", callId="m1", callType="inbound")
    assert (await a.request("fireOnCallEnd", callId="nope", duration=1))["success"] is False
    await a.request("fireOnCallEnd", callId="m1", duration=3, disposition="Done")
    assert (await a.request("saveCallLog", callId="m1", subject="s"))["success"]
    r = await server.post("/api/login", json={"username": "agent1", "password": "wrong-one!"})
    assert r.status == 401
    after = await scrape(server, headers)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "ctikit_console_sockets") == 3
    assert value(after, "ctikit_send_queue_frames") >= 0
    assert grew("ctikit_events_total", event="callBegin") == 1
    assert grew("ctikit_events_total", event="callEnd") == 1
    assert grew("ctikit_events_total", event="callLogSaved") == 1
    assert grew("ctikit_command_seconds_count", op="fireOnCallBegin", outcome="ok") == 1
    assert grew("ctikit_command_seconds_count", op="fireOnCallEnd", outcome="ok") == 1
    assert grew("ctikit_command_seconds_count", op="fireOnCallEnd", outcome="unknown_call") == 1
    assert grew("ctikit_call_log_commit_seconds_count") >= 1
    assert grew("ctikit_login_failures_total", reason="bad_credentials") == 1
    if mode == "single":
        assert value(after, "ctikit_connector_up", connector="sim") == 1
        assert "ctikit_connector_lines" in {name for name, _ in after}
    else:
        assert grew("ctikit_cluster_commit_seconds_count") >= 3
        assert "ctikit_cluster_commit_conflicts_total" in {name for name, _ in after}
        holder = [k for k in after if k[0] == "ctikit_cluster_lease_holder"]
        assert len(holder) == 1
        assert grew("ctikit_cluster_fanout_lag_seconds_count") >= 3
