"""Who may do what: the access policy, as pure functions.

Principals:
- an **agent** reads and changes only its own calls and call logs;
- a **supervisor** reads (never changes) the agents of its team, and its own calls if it
  also takes calls;
- a **service** (IVR, CRM) acts on any agent within its scopes: ``calls:attach`` (read calls,
  attach data, place test calls), ``calls:control`` (send CTI commands), ``logs:read``;
  operators' tokens: ``metrics:read`` (``/metrics``), ``audit:read`` (the audit log),
  ``webhooks:manage`` (webhook endpoints and their dead letters).

The server authenticates; this module only decides. Every refusal says why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .errors import CtiRequestError


class AccessDeniedError(CtiRequestError):
    code = "forbidden"


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    SERVICE = "service"


class Operation(enum.StrEnum):
    READ_CALLS = "read_calls"  # call state, attached data
    CHANGE_CALLS = "change_calls"  # fireOnCall*, set*, CTI messages, custom events
    ATTACH_DATA = "attach_data"  # merge data into a call (IVR)
    PLACE_CALL = "place_call"  # simulator test call
    SAVE_LOG = "save_log"
    READ_LOGS = "read_logs"
    READ_METRICS = "read_metrics"  # the Prometheus scrape
    READ_AUDIT = "read_audit"
    MANAGE_WEBHOOKS = "manage_webhooks"


SCOPES = frozenset(
    {"calls:attach", "calls:control", "logs:read", "metrics:read", "audit:read", "webhooks:manage"}
)

_SERVICE_SCOPE: dict[Operation, str] = {
    Operation.READ_CALLS: "calls:attach",
    Operation.ATTACH_DATA: "calls:attach",
    Operation.PLACE_CALL: "calls:attach",
    Operation.CHANGE_CALLS: "calls:control",
    Operation.READ_LOGS: "logs:read",
    Operation.READ_METRICS: "metrics:read",
    Operation.READ_AUDIT: "audit:read",
    Operation.MANAGE_WEBHOOKS: "webhooks:manage",
}
_READ_ONLY = frozenset({Operation.READ_CALLS, Operation.READ_LOGS})


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller. ``agent`` is the agent ID whose console this is (agents and
    supervisors who take calls); ``team`` groups agents under supervisors."""

    name: str
    role: Role
    agent: str | None = None
    team: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)


def check(principal: Principal, op: Operation, agent: str, agent_team: str | None) -> None:
    """Raise :class:`AccessDeniedError` unless ``principal`` may do ``op`` on ``agent``.

    ``agent_team`` is the team of the agent acted on (None if it has none).
    """
    if principal.role is Role.SERVICE:
        scope = _SERVICE_SCOPE.get(op)
        if scope is None or scope not in principal.scopes:
            raise AccessDeniedError(
                f"service {principal.name!r} lacks the scope for {op.value}"
                + (f" ({scope})" if scope else "")
            )
        return
    if principal.agent == agent:
        return
    if (
        principal.role is Role.SUPERVISOR
        and op in _READ_ONLY
        and principal.team is not None
        and principal.team == agent_team
    ):
        return
    if principal.role is Role.SUPERVISOR and op in _READ_ONLY:
        raise AccessDeniedError(f"agent {agent!r} is not in {principal.name!r}'s team")
    raise AccessDeniedError(f"{principal.name!r} may not {_verb(op)} of agent {agent!r}")


def check_global(principal: Principal, op: Operation) -> None:
    """Operations not tied to one agent (listing every call log): services with the scope
    only; agents and supervisors get their own / their team's through filters."""
    if principal.role is Role.SERVICE:
        scope = _SERVICE_SCOPE.get(op)
        if scope in principal.scopes:
            return
        raise AccessDeniedError(f"service {principal.name!r} lacks the scope {scope}")
    raise AccessDeniedError(f"{principal.name!r} may not {_verb(op)} of every agent")


def _verb(op: Operation) -> str:
    return {
        Operation.READ_CALLS: "read the calls",
        Operation.CHANGE_CALLS: "change the calls",
        Operation.ATTACH_DATA: "attach data to the calls",
        Operation.PLACE_CALL: "place calls",
        Operation.SAVE_LOG: "save call logs",
        Operation.READ_LOGS: "read the call logs",
        Operation.READ_METRICS: "read the metrics",
        Operation.READ_AUDIT: "read the audit log",
        Operation.MANAGE_WEBHOOKS: "manage the webhooks",
    }[op]
