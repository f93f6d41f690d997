"""Prometheus metrics (``GET /metrics``, a token with the ``metrics:read`` scope).

Two kinds, both made with ``prometheus_client`` (docs/monitoring.md lists every metric):

- measured where things happen, process-wide (one server per process): command latency and
  outcome, call-log commit latency, login failures, events by type, slow-consumer closes, and
  in a cluster the Redis commit latency, commit conflicts and fan-out lag;
- read at scrape time from the application (:class:`AppCollector`): console sockets, send
  queues, the connector, HTTP connections, the lease holder, the webhook outbox. Nothing is
  kept up to date on the hot path for these: a scrape walks the sockets once.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from ..core.access import Operation, check_global
from .connections import HTTP_STATS
from .guard import principal
from .keys import HUB, SERVICE
from .measures import PROCESS
from .webhooks_api import WEBHOOKS


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels) if labels else None)
    family.add_metric(list(labels.values()) if labels else [], value)
    return family


class AppCollector(Collector):
    """What one application holds now, read at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        app = self.app
        hub, svc = app[HUB], app[SERVICE]
        sockets = queued = deepest = 0
        for box in hub.all_outboxes():
            sockets += 1
            depth = box.queued
            queued += depth
            deepest = max(deepest, depth)
        yield _gauge("ctikit_console_sockets", "Console WebSocket connections open", sockets)
        yield _gauge(
            "ctikit_send_queue_frames", "Frames queued to console sockets, all together", queued
        )
        yield _gauge(
            "ctikit_send_queue_max_frames", "Frames queued to the most behind console", deepest
        )
        local = svc.telephony
        running = getattr(getattr(local, "lead", None), "local", local)
        up = bool(running is not None and getattr(running, "running", False))
        yield _gauge(
            "ctikit_connector_up",
            "1 when this node drives a running connector (in a cluster: the lease holder)",
            1.0 if up else 0.0,
            {"connector": local.name},
        )
        registry = getattr(svc.backend, "registry", None)
        if registry is not None:  # single node: the state is here to count
            lines = sum(
                1 for a in registry.agents() for c in registry.calls(a) if c.line_state is not None
            )
            yield _gauge("ctikit_connector_lines", "Calls on the connector's lines", lines)
        stats = app[HTTP_STATS].to_dict()
        yield _gauge("ctikit_http_connections", "HTTP connections open", stats["open"])
        yield _gauge(
            "ctikit_http_refused",
            "HTTP connections refused over a cap since start (a counter, as a gauge)",
            stats["refused"],
        )
        cluster = svc.health().get("cluster")
        if isinstance(cluster, dict):
            node = str(cluster.get("node", ""))
            yield _gauge(
                "ctikit_cluster_lease_holder",
                "Cluster mode: 1 on the node that holds the connector lease",
                1.0 if cluster.get("drivesConnector") else 0.0,
                {"node": node},
            )
            yield _gauge(
                "ctikit_cluster_subscribed",
                "Cluster mode: 1 while the fan-out subscription to Redis is up",
                1.0 if cluster.get("subscribed") else 0.0,
                {"node": node},
            )
        hooks = app.get(WEBHOOKS)
        if hooks is not None:
            yield _gauge(
                "ctikit_webhook_outbox_pending",
                "Webhook deliveries waiting (as the sender last counted them)",
                hooks.counts["pending"],
            )
            yield _gauge(
                "ctikit_webhook_dead_letters",
                "Webhook deliveries given up (GET /api/webhooks/dead-letters)",
                hooks.counts["dead"],
            )
            for name, doc, value in (
                ("ctikit_webhook_deliveries", "Webhooks delivered (2xx) here", hooks.delivered),
                ("ctikit_webhook_failed_attempts", "Failed webhook attempts here", hooks.failures),
            ):
                family = CounterMetricFamily(name, doc)
                family.add_metric([], value)
                yield family


_APP_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


def setup(app: web.Application) -> None:
    """Give ``app`` its scrape-time collector and the ``/metrics`` route."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(app))
    app[_APP_REGISTRY] = registry
    app.router.add_get("/metrics", scrape)


async def scrape(request: web.Request) -> web.Response:
    """The Prometheus text format. Needs a token with ``metrics:read``."""
    check_global(await principal(request), Operation.READ_METRICS)
    body = generate_latest(PROCESS) + generate_latest(request.app[_APP_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
