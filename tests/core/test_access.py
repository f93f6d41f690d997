"""The access policy, as the pure functions it is (the server tests try it over HTTP)."""

from __future__ import annotations

import pytest

from ctikit.core.access import (
    SCOPES,
    AccessDeniedError,
    Operation,
    Principal,
    Role,
    check,
    check_global,
)

AGENT = Principal(name="alice", role=Role.AGENT, agent="agent1", team="blue")
SUPERVISOR = Principal(name="sue", role=Role.SUPERVISOR, agent="sup1", team="blue")
LONE_SUPERVISOR = Principal(name="lou", role=Role.SUPERVISOR)
IVR = Principal(name="ivr", role=Role.SERVICE, scopes=frozenset({"calls:attach"}))
CRM = Principal(name="crm", role=Role.SERVICE, scopes=frozenset({"logs:read"}))
DIALER = Principal(name="dialer", role=Role.SERVICE, scopes=frozenset({"calls:control"}))
ALL_OPS = list(Operation)


@pytest.mark.parametrize("op", ALL_OPS)
def test_an_agent_does_everything_to_its_own_calls_and_nothing_to_others(op: Operation) -> None:
    check(AGENT, op, "agent1", "blue")
    with pytest.raises(AccessDeniedError, match=r"'alice' may not .* of agent 'agent2'"):
        check(AGENT, op, "agent2", "blue")


@pytest.mark.parametrize("op", ALL_OPS)
def test_a_supervisor_reads_its_team_and_changes_nothing_of_it(op: Operation) -> None:
    check(SUPERVISOR, op, "sup1", "blue")  # its own calls, if it takes calls
    if op in (Operation.READ_CALLS, Operation.READ_LOGS):
        check(SUPERVISOR, op, "agent1", "blue")
        with pytest.raises(AccessDeniedError, match="not in 'sue'"):
            check(SUPERVISOR, op, "agent2", "red")
        with pytest.raises(AccessDeniedError, match="not in 'lou'"):
            check(LONE_SUPERVISOR, op, "agent2", None)  # no team: nobody's team
    else:
        with pytest.raises(AccessDeniedError, match="'sue' may not"):
            check(SUPERVISOR, op, "agent1", "blue")


@pytest.mark.parametrize(
    ("service", "allowed"),
    [
        (IVR, {Operation.READ_CALLS, Operation.ATTACH_DATA, Operation.PLACE_CALL}),
        (CRM, {Operation.READ_LOGS}),
        (DIALER, {Operation.CHANGE_CALLS}),
    ],
)
def test_a_service_acts_on_any_agent_within_its_scopes(
    service: Principal, allowed: set[Operation]
) -> None:
    for op in ALL_OPS:
        if op in allowed:
            check(service, op, "agent7", None)
        else:
            with pytest.raises(AccessDeniedError, match=f"lacks the scope for {op.value}"):
                check(service, op, "agent7", None)


def test_operations_on_every_agent_are_for_scoped_services_only() -> None:
    check_global(CRM, Operation.READ_LOGS)
    with pytest.raises(AccessDeniedError, match="lacks the scope logs:read"):
        check_global(IVR, Operation.READ_LOGS)
    for who in (AGENT, SUPERVISOR):
        with pytest.raises(AccessDeniedError, match="may not read the call logs of every"):
            check_global(who, Operation.READ_LOGS)
    assert AccessDeniedError("x").code == "forbidden"


@pytest.mark.parametrize(
    ("op", "scope", "verb"),
    [
        (Operation.READ_METRICS, "metrics:read", "read the metrics"),
        (Operation.READ_AUDIT, "audit:read", "read the audit log"),
        (Operation.MANAGE_WEBHOOKS, "webhooks:manage", "manage the webhooks"),
    ],
)
def test_operator_scopes_are_for_services_that_hold_them(
    op: Operation, scope: str, verb: str
) -> None:
    assert scope in SCOPES
    check_global(Principal(name="ops", role=Role.SERVICE, scopes=frozenset({scope})), op)
    with pytest.raises(AccessDeniedError, match=scope):
        check_global(CRM, op)
    for who in (Principal(name="a", role=Role.AGENT, agent="a"),
                Principal(name="s", role=Role.SUPERVISOR, team="blue")):  # fmt: skip
        with pytest.raises(AccessDeniedError, match=verb):
            check_global(who, op)
