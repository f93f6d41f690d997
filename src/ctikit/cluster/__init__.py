"""Cluster mode: several ctikit nodes sharing call state and events through Redis.

``ctikit serve --cluster redis://HOST:PORT/DB`` builds its service with
:func:`cluster_service`: a :class:`~ctikit.server.service.CtiService` given a
:class:`~.backend.RedisBackend` (the state in Redis) and a :class:`~.remote.ForwardingTelephony`
(the connector on the node holding the lease, :mod:`.lease`; commands sent there through
Redis). See docs/deploy.md for the deployment and what each failure does.
"""

from __future__ import annotations

import secrets
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
from ..server.logins import REDIS_AT_ONCE
from ..server.service import CtiService
from ..server.telephony import COMMAND_TIMEOUT
from ..storage import CallLogStore
from .backend import RedisBackend
from .lease import LeadLoop, Lease
from .remote import ForwardingTelephony, reply_wait

__all__ = [
    "ForwardingTelephony",
    "LeadLoop",
    "Lease",
    "RedisBackend",
    "cluster_service",
    "connect_redis",
]


def connect_redis(
    url: str, *, max_connections: int = 512, command_timeout: float = COMMAND_TIMEOUT
) -> aioredis.Redis:
    """A client for the cluster's Redis.

    The pool blocks (up to 5 s) rather than failing when all ``max_connections`` are busy:
    a wave of consoles connecting at once must wait its turn, not get "unreachable". Socket
    timeouts outlast the longest blocking call (a BLPOP for the reply to a command, which
    waits up to ``command_timeout`` for the telephony). A pooled connection that Redis
    closed (it restarted) fails once: the retry uses a new one.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=6),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        socket_connect_timeout=2,
        socket_timeout=reply_wait(command_timeout) + 5,
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
) -> CtiService:
    """A :data:`~ctikit.server.app.ServiceFactory` for ``config.cluster``. The connector
    built by the app is only a prototype (its name and capabilities): the node that takes
    the lease builds its own with ``make`` (default: from the config)."""
    if not config.cluster:
        raise ValueError("cluster_service needs config.cluster (a redis:// URL)")
    node_id = config.node_id or secrets.token_hex(6)
    redis = connect_redis(config.cluster, command_timeout=config.command_timeout)
    backend = RedisBackend(
        redis,
        hub,
        limits=config.limits,
        node_id=node_id,
        prefix=config.cluster_prefix,
        policy=config.agent_state.policy(),
        # A flood of logins would take the pool's idle connections, and a console's read
        # would wait for a new one's handshake (several turns of a busy loop: issue 13, F1).
        login_redis=connect_redis(config.cluster, max_connections=REDIS_AT_ONCE),
    )
    # The lease has connections of its own: renewing it never waits behind a busy pool.
    lease_redis = connect_redis(config.cluster, max_connections=4)
    key = f"{config.cluster_prefix}lease:connector"
    lease = Lease(lease_redis, key, node_id, config.cluster_lease_seconds)
    telephony = ForwardingTelephony(
        redis,
        backend,
        lease,
        make or (lambda: make_connector(config)),
        connector,
        command_timeout=config.command_timeout,
    )
    return CtiService(backend, telephony, store, hub, hold_on_answer=config.hold_on_answer)
