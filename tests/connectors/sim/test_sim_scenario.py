"""Scenario files: the demo parses, TOML and JSON agree, and errors name step and field."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ctikit.connectors.sim import (
    DEMO_SCENARIO,
    AttachStep,
    CallStep,
    HangupStep,
    ScenarioError,
    failure_code,
    load_scenario,
    loads_scenario,
    parse_scenario,
    random_caller,
)

TOML = """
name = "two calls"

[[steps]]
at = 0
action = "call"
agent = "agent1"
ani = "+442079460123"
dnis = "+18005550199"
talk_time = 45
data = { account = "ACME-1042", reason = "billing", language = "en", verified = true }

[[steps]]
at = 2.5
action = "attach"
call = 1
data = { queue = "UK Billing" }

[[steps]]
at = 10
action = "hangup"
call = 1
"""


def test_toml_and_json_give_the_same_scenario(tmp_path: Path) -> None:
    from_toml = loads_scenario(TOML, "toml")
    as_json = json.dumps(tomllib.loads(TOML))
    assert loads_scenario(as_json, "json") == from_toml
    assert parse_scenario(tomllib.loads(TOML)["steps"], default_name="two calls") == from_toml
    assert from_toml.name == "two calls" and from_toml.call_count == 1
    assert from_toml.steps == (
        CallStep(
            at=0.0,
            agent="agent1",
            ani="+442079460123",
            dnis="+18005550199",
            talk_time=45.0,
            data={"account": "ACME-1042", "reason": "billing", "language": "en", "verified": True},
        ),
        AttachStep(at=2.5, call=1, data={"queue": "UK Billing"}),
        HangupStep(at=10.0, call=1),
    )
    (tmp_path / "s.toml").write_text(TOML)
    (tmp_path / "s.json").write_text(as_json)
    assert load_scenario(tmp_path / "s.toml") == load_scenario(str(tmp_path / "s.json"))


def test_the_demo_scenario_is_a_realistic_morning() -> None:
    demo = load_scenario(DEMO_SCENARIO)
    calls = [s for s in demo.steps if isinstance(s, CallStep)]
    assert demo.call_count == len(calls) >= 5
    assert {s.agent for s in calls} == {"agent1", "agent2", "agent3"}
    assert any(s.ani and s.ani.startswith("+44") for s in calls)
    assert any(s.ani and s.ani.startswith("+1") for s in calls)
    for step in calls:
        assert step.ani is not None and failure_code(step.ani) is None
    assert any(isinstance(s, HangupStep) for s in demo.steps)
    assert any(isinstance(s, AttachStep) for s in demo.steps)


def steps(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"steps": [{"at": 0, "action": "call", "agent": "agent1"}, *extra]}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"steps": []}, "'steps' must be a non-empty list"),
        ({}, "'steps' must be a non-empty list"),
        ({"steps": [], "loop": True}, "unknown top-level field 'loop'"),
        ({"name": 3, "steps": []}, "field 'name' must be a string"),
        ({"steps": ["call"]}, "step 1: must be a table"),
        (steps({"at": 1, "action": "dance"}), "step 2: field 'action' must be one of"),
        (steps({"action": "hangup", "call": 1}), r"step 2 \(hangup\): missing field 'at'"),
        (steps({"at": -1, "action": "hangup", "call": 1}), "field 'at' must be finite and >= 0"),
        (
            steps({"at": "soon", "action": "hangup", "call": 1}),
            "field 'at' must be a number of seconds",
        ),
        (steps({"at": True, "action": "hangup", "call": 1}), "field 'at' must be a number"),
        (steps({"at": 1, "action": "hangup"}), r"step 2 \(hangup\): missing field 'call'"),
        (
            steps({"at": 1, "action": "hangup", "call": 2}),
            r"step 2 \(hangup\): field 'call': call 2 is not placed by an earlier step",
        ),
        (steps({"at": 1, "action": "hangup", "call": 0}), "field 'call' must be a call number"),
        (
            steps({"at": 1, "action": "hangup", "call": 1, "agent": "agent1"}),
            r"step 2 \(hangup\): unknown field 'agent'",
        ),
        (
            steps({"at": 1, "action": "attach", "call": 1, "data": {}}),
            r"step 2 \(attach\): field 'data' must not be empty",
        ),
        (
            steps({"at": 1, "action": "attach", "call": 1, "data": [1]}),
            r"step 2 \(attach\): field 'data' must be a table",
        ),
        (
            steps({"at": 1, "action": "call", "agent": "bad agent!"}),
            r"step 2 \(call\): field 'agent': agent ID must be",
        ),
        (
            steps({"at": 1, "action": "call", "agent": "agent1", "ani": 14155550123}),
            r"step 2 \(call\): field 'ani' must be a non-empty string",
        ),
        (
            steps({"at": 1, "action": "call", "agent": "agent1", "talk_time": -5}),
            r"step 2 \(call\): field 'talk_time' must be finite",
        ),
        (
            steps({"at": 1, "action": "call", "agent": "agent1", "dial": "x"}),
            r"step 2 \(call\): unknown field 'dial'",
        ),
        (
            {
                "steps": [
                    {"at": 5, "action": "call", "agent": "a"},
                    {"at": 1, "action": "call", "agent": "a"},
                ]
            },
            r"step 2: field 'at': steps must be in time order",
        ),
    ],
)
def test_errors_name_the_step_and_field(obj: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(obj, source="demo.json")
    with pytest.raises(ScenarioError, match=r"^demo\.json: "):
        parse_scenario(obj, source="demo.json")


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[steps]\nat = 0")
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML"):
        load_scenario(bad)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScenarioError, match=r"bad\.json: not valid JSON"):
        load_scenario(tmp_path / "bad.json")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    dated = tmp_path / "dated.toml"
    dated.write_text('[[steps]]\nat = 0\naction = "call"\nagent = "a"\ndata = { d = 2024-01-01 }')
    with pytest.raises(ScenarioError, match=r"step 1 \(call\): field 'data' must hold only JSON"):
        load_scenario(dated)


def test_random_caller_is_realistic_and_reproducible() -> None:
    a = [random_caller(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    for caller in (random_caller(random.Random(seed)) for seed in range(200)):
        assert caller.ani.startswith("+1415555") and len(caller.ani) == 12
        assert failure_code(caller.ani) is None
        assert caller.dnis == "+18005550199"
        assert set(caller.data) == {"account", "reason", "language", "verified"}
