"""Scripted scenarios: calls, caller hang-ups and IVR data at set times, from TOML or JSON.

A scenario is a list of steps in time order (``at`` is seconds from the start)::

    name = "Monday morning"

    [[steps]]
    at = 0
    action = "call"            # a caller rings an agent: call 1 of this scenario
    agent = "agent1"
    ani = "+442079460123"      # optional, like dnis, data, talk_time
    dnis = "+18005550199"
    data = { account = "ACME-1042", reason = "billing" }
    talk_time = 45             # the caller hangs up 45 s after answer

    [[steps]]
    at = 20
    action = "attach"          # more data for call 1 (CallDataAttached)
    call = 1
    data = { verified = true }

    [[steps]]
    at = 90
    action = "hangup"          # the caller of call 1 hangs up
    call = 1

JSON takes the same fields: ``{"name": ..., "steps": [...]}`` or just the list of steps.
Calls are numbered from 1 in the order of their ``call`` steps.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...core.errors import CtiRequestError
from ...core.model import check_agent_id


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the step and field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStep:
    at: float
    agent: str
    ani: str | None = None
    dnis: str | None = None
    data: dict[str, Any] | None = None
    talk_time: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HangupStep:
    at: float
    call: int  # 1-based number of the scenario's call


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachStep:
    at: float
    call: int
    data: dict[str, Any]


ScenarioStep = CallStep | HangupStep | AttachStep


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    steps: tuple[ScenarioStep, ...]

    @property
    def call_count(self) -> int:
        return sum(isinstance(s, CallStep) for s in self.steps)


_FIELDS: dict[str, tuple[set[str], set[str]]] = {  # action -> (required, optional) fields
    "call": ({"agent"}, {"ani", "dnis", "data", "talk_time"}),
    "hangup": ({"call"}, set()),
    "attach": ({"call", "data"}, set()),
}


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a ``.toml`` or ``.json`` scenario file."""
    p = Path(path)
    fmt: Literal["toml", "json"]
    if p.suffix.lower() == ".toml":
        fmt = "toml"
    elif p.suffix.lower() == ".json":
        fmt = "json"
    else:
        raise ScenarioError(f"{p.name}: scenario files end in .toml or .json")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return loads_scenario(text, fmt, source=p.name, default_name=p.stem)


def loads_scenario(
    text: str,
    fmt: Literal["toml", "json"],
    *,
    source: str = "scenario",
    default_name: str = "scenario",
) -> Scenario:
    """Parse scenario text in TOML or JSON."""
    try:
        obj: object = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{source}: not valid {fmt.upper()}: {exc}") from None
    return parse_scenario(obj, source=source, default_name=default_name)


def parse_scenario(
    obj: object, *, source: str = "scenario", default_name: str = "scenario"
) -> Scenario:
    """Check an already-decoded scenario (a mapping with ``steps``, or a list of steps)."""
    name = default_name
    if isinstance(obj, Mapping):
        unknown = sorted(set(obj) - {"name", "description", "steps"})
        if unknown:
            raise ScenarioError(
                f"{source}: unknown top-level field {unknown[0]!r} "
                "(expected name, description, steps)"
            )
        raw_name = obj.get("name", default_name)
        if not isinstance(raw_name, str):
            raise ScenarioError(f"{source}: field 'name' must be a string")
        name = raw_name
        raw_steps = obj.get("steps")
    else:
        raw_steps = obj
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{source}: 'steps' must be a non-empty list of steps")
    steps: list[ScenarioStep] = []
    calls = 0  # call steps so far: hangup/attach may name only those
    for index, raw in enumerate(raw_steps, start=1):
        step = _parse_step(raw, f"{source}: step {index}", calls)
        if steps and step.at < steps[-1].at:
            raise ScenarioError(
                f"{source}: step {index}: field 'at': steps must be in time "
                f"order ({step.at} s comes after {steps[-1].at} s)"
            )
        if isinstance(step, CallStep):
            calls += 1
        steps.append(step)
    return Scenario(name=name, steps=tuple(steps))


def _parse_step(raw: object, where: str, calls: int) -> ScenarioStep:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: must be a table/object of fields")
    action = raw.get("action")
    if action not in _FIELDS:
        raise ScenarioError(
            f"{where}: field 'action' must be one of call, hangup, attach (got {action!r})"
        )
    required, optional = _FIELDS[action]
    missing = sorted((required | {"at"}) - set(raw))
    if missing:
        raise ScenarioError(f"{where} ({action}): missing field {missing[0]!r}")
    unknown = sorted(set(raw) - required - optional - {"at", "action"})
    if unknown:
        raise ScenarioError(f"{where} ({action}): unknown field {unknown[0]!r}")
    at = _seconds(raw["at"], f"{where} ({action}): field 'at'")
    if action == "call":
        agent = raw["agent"]
        try:
            check_agent_id(agent)
        except CtiRequestError as exc:
            raise ScenarioError(f"{where} (call): field 'agent': {exc.message}") from None
        talk = raw.get("talk_time")
        return CallStep(
            at=at,
            agent=agent,
            ani=_text(raw.get("ani"), f"{where} (call): field 'ani'"),
            dnis=_text(raw.get("dnis"), f"{where} (call): field 'dnis'"),
            data=_data(raw["data"], f"{where} (call): field 'data'") if "data" in raw else None,
            talk_time=None
            if talk is None
            else _seconds(talk, f"{where} (call): field 'talk_time'"),
        )
    call = raw["call"]
    if isinstance(call, bool) or not isinstance(call, int) or call < 1:
        raise ScenarioError(f"{where} ({action}): field 'call' must be a call number from 1")
    if call > calls:
        raise ScenarioError(
            f"{where} ({action}): field 'call': call {call} is not placed by "
            f"an earlier step ({calls} calls so far)"
        )
    if action == "hangup":
        return HangupStep(at=at, call=call)
    data = _data(raw["data"], f"{where} (attach): field 'data'")
    if not data:
        raise ScenarioError(f"{where} (attach): field 'data' must not be empty")
    return AttachStep(at=at, call=call, data=data)


def _seconds(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where} must be a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise ScenarioError(f"{where} must be finite and >= 0 (got {value})")
    return float(value)


def _text(value: object, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ScenarioError(f"{where} must be a non-empty string")
    return value


def _data(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where} must be a table/object")
    try:
        # Attached data goes to consoles as JSON: reject what JSON cannot carry (TOML dates).
        return dict(json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where} must hold only JSON values: {exc}") from None


#: The example scenario shipped with ctikit (a morning of calls for agent1..agent3).
DEMO_SCENARIO = Path(__file__).parent / "scenarios" / "demo.toml"
