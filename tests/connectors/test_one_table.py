"""Connectors keep their own view of each call's line state, but move it only by the core's
transitions table (ctikit.connectors.linestate): no connector writes a state of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ctikit.connectors.linestate import Change, LineStateError, advance, must_advance, on_line
from ctikit.connectors.sim import SimModel
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallHeld,
    CallOffered,
    CallReleased,
)
from ctikit.core.transitions import Edge, TableState

CONNECTORS = Path(__file__).resolve().parents[2] / "src" / "ctikit" / "connectors"
STATES = {"LineState", "Edge"}
# Where a call's ``.state`` may be written other than by linestate.advance, and why.
MAY_WRITE_STATE = {
    ("sim/model.py", "adopt"): "restores the state the registry has: no move, nothing to report",
    ("sip/connector.py", "__init__"): "_Line.state is the line's PhoneLine, not a line state",
}


def _names_a_state(node: ast.AST) -> ast.Attribute | None:
    """The state literal ``node`` evaluates to (itself, a tuple's item, a branch of an
    ``x if c else y``), if any: comparing with one (``is LineState.RINGING``) reads only."""
    if isinstance(node, ast.Tuple | ast.List):
        return next(filter(None, map(_names_a_state, node.elts)), None)
    if isinstance(node, ast.IfExp):
        return _names_a_state(node.body) or _names_a_state(node.orelse)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in STATES
        and not (node.value.id == "Edge" and node.attr == "NEW")  # the start, before an offer
    ):
        return node
    return None


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(fn):
                owner[sub] = fn.name  # innermost wins: ast.walk visits outer functions first
    return owner


def test_no_connector_writes_a_line_state_of_its_own() -> None:
    paths = sorted(CONNECTORS.rglob("*.py"))
    assert any(p.name == "mapping.py" for p in paths)
    for path in paths:
        rel = str(path.relative_to(CONNECTORS))
        tree = ast.parse(path.read_text())
        owner = _functions(tree)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value:
                literal = _names_a_state(node.value)
                assert literal is None, (
                    f"{where} assigns {ast.unparse(literal)}: let linestate.advance move it"
                )
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Attribute) and sub.attr == "state":
                            fn = owner.get(node, "<module>")
                            assert rel == "linestate.py" or (rel, fn) in MAY_WRITE_STATE, (
                                f"{where} ({fn}) writes .state: only linestate.advance may"
                            )
            if isinstance(node, ast.keyword) and node.arg == "state":
                literal = _names_a_state(node.value)
                assert literal is None, f"{where} passes state={ast.unparse(literal)}"


class _Call:
    def __init__(self, state: TableState) -> None:
        self.state = state


def _offer(outgoing: bool = False) -> CallOffered:
    return CallOffered(agent="a", call_id="c", call_type=CallType.INBOUND, outgoing=outgoing)


def test_advance_moves_by_the_table() -> None:
    call = _Call(Edge.NEW)
    assert advance(call, _offer()) is Change.MOVED and call.state is LineState.RINGING
    assert advance(call, CallHeld(agent="a", call_id="c")) is Change.REFUSED
    assert call.state is LineState.RINGING  # a refused move moves nothing
    assert advance(call, CallAnswered(agent="a", call_id="c")) is Change.MOVED
    assert advance(call, CallAnswered(agent="a", call_id="c")) is Change.REPEATED
    released = CallReleased(agent="a", call_id="c", reason="r")
    assert advance(call, released) is Change.ENDED and call.state is Edge.ENDED
    assert advance(call, released) is Change.REFUSED  # released exactly once
    assert on_line(call.state) is None and on_line(LineState.HELD) is LineState.HELD
    dialled = _Call(Edge.NEW)
    assert advance(dialled, _offer(outgoing=True)) is Change.MOVED
    assert dialled.state is LineState.DIALING
    with pytest.raises(ValueError, match="moves no call"):
        advance(call, ActionFailed(agent="a", reason="r"))
    with pytest.raises(LineStateError, match="CallHeld on call 'c' in state ended"):
        must_advance(call, CallHeld(agent="a", call_id="c"))
    assert [c.reported for c in Change] == [True, True, False, False]


def test_the_simulator_reports_nothing_the_table_refuses() -> None:
    # A simulator bug that would report the impossible raises instead of reporting it.
    model = SimModel()
    step = model.place_inbound_call("agent1", "1", "2", None, now=0.0)
    assert step.call_id is not None
    line = model._by_id[step.call_id]
    with pytest.raises(LineStateError, match="refuses it"):
        model._report(line, CallHeld(agent="agent1", call_id=step.call_id), step)
    assert line.state is LineState.RINGING
