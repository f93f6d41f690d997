"""Cluster mode: several ctikit nodes sharing call state and events through Redis.

``ctikit serve --cluster redis://HOST:PORT/DB`` builds its service with
:func:`cluster_service`. See docs/deploy.md for the deployment and what each failure does.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import Config
from ..connectors.base import Connector
from ..server.app import make_connector
from ..server.hub import Hub
from ..storage import CallLogStore
from .service import REQUEST_TIMEOUT, ClusterConnector, ClusterService

__all__ = ["ClusterConnector", "ClusterService", "cluster_service", "connect_redis"]


def connect_redis(url: str, *, max_connections: int = 512) -> aioredis.Redis:
    """A client for the cluster's Redis.

    The pool blocks (up to 5 s) rather than failing when all ``max_connections`` are busy:
    a wave of consoles connecting at once must wait its turn, not get "unreachable". Socket
    timeouts outlast the longest blocking call (a BLPOP for a connector reply). A pooled
    connection that Redis closed (it restarted) fails once: the retry uses a new one.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=6),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        socket_connect_timeout=2,
        socket_timeout=REQUEST_TIMEOUT + 5,
        socket_keepalive=True,
        health_check_interval=10,
    )
    return aioredis.Redis(connection_pool=pool)


def cluster_service(
    config: Config,
    connector: Connector,
    store: CallLogStore,
    hub: Hub,
    *,
    make: Callable[[], Connector] | None = None,
) -> ClusterService:
    """A :data:`~ctikit.server.app.ServiceFactory` for ``config.cluster``. The connector
    built by the app is only a prototype: the node that takes the lease builds its own."""
    if not config.cluster:
        raise ValueError("cluster_service needs config.cluster (a redis:// URL)")
    return ClusterService(
        connect_redis(config.cluster),
        make or (lambda: make_connector(config)),
        store,
        hub,
        limits=config.limits,
        prefix=config.cluster_prefix,
        lease_seconds=config.cluster_lease_seconds,
        node_id=config.node_id,
        # The lease has connections of its own: renewing it never waits behind a busy pool.
        lease_redis=connect_redis(config.cluster, max_connections=4),
    )
