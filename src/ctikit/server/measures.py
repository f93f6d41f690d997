"""What this process measures as it goes, for ``/metrics`` (:mod:`.metrics`).

Module-level ``prometheus_client`` metrics in a registry of ctikit's own: one server runs per
process. Kept free of other ctikit imports so that any layer may record into them.
"""

from __future__ import annotations

import re
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..core.events import Event

#: What this process measures as it goes (exposed with each app's scrape-time metrics).
PROCESS = CollectorRegistry(auto_describe=True)

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

COMMAND_SECONDS = Histogram(
    "ctikit_command_seconds",
    "Console requests (WebSocket ops) by op and outcome (ok or the error code): time to reply",
    ["op", "outcome"],
    buckets=_FAST,
    registry=PROCESS,
)
CALL_LOG_COMMIT_SECONDS = Histogram(
    "ctikit_call_log_commit_seconds",
    "Call-log transactions (group commits): time from BEGIN to COMMIT",
    buckets=_FAST,
    registry=PROCESS,
)
LOGIN_FAILURES = Counter(
    "ctikit_login_failures",
    "Refused password logins by reason (bad_credentials, locked, busy, disabled)",
    ["reason"],
    registry=PROCESS,
)
EVENTS = Counter(
    "ctikit_events",
    "Events committed on this node, by wire name (callBegin, callEnd...)",
    ["event"],
    registry=PROCESS,
)
SLOW_CONSUMER_CLOSES = Counter(
    "ctikit_slow_consumer_closes",
    "Console sockets closed (1013) because their send queue passed send_queue_frames",
    registry=PROCESS,
)
CLUSTER_COMMIT_SECONDS = Histogram(
    "ctikit_cluster_commit_seconds",
    "Cluster mode: one agent's state commit to Redis (the script's round trip)",
    buckets=_FAST,
    registry=PROCESS,
)
CLUSTER_CONFLICTS = Counter(
    "ctikit_cluster_commit_conflicts",
    "Cluster mode: commits refused because another node changed the agent first (retried)",
    registry=PROCESS,
)
FANOUT_LAG_SECONDS = Histogram(
    "ctikit_cluster_fanout_lag_seconds",
    "Cluster mode: from an event's time to its arrival here through Redis pub/sub",
    buckets=_FAST,
    registry=PROCESS,
)

_event_children: dict[str, Any] = {}


def count_events(events: list[Event]) -> None:
    """Count committed events by type (a dict lookup and an add per event)."""
    for event in events:
        name = event.wire_name
        child = _event_children.get(name)
        if child is None:
            child = _event_children[name] = EVENTS.labels(name)
        child.inc()


_AT = re.compile(rb'"at":(-?[0-9][0-9.eE+-]*)')


def observe_fanout(frame: bytes) -> None:
    """Fan-out lag of one event frame (``"at"`` near its head, see wire.encode_event)."""
    m = _AT.search(frame, 0, 160)
    if m is not None:
        try:
            FANOUT_LAG_SECONDS.observe(max(0.0, time.time() - float(m.group(1))))
        except ValueError:
            pass
