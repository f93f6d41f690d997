"""The built-in telephony simulator: simulated phone lines for demos, development and tests.

:class:`SimulatorConnector` is the connector; :class:`SimModel` the sans-I/O state machine
inside it; :mod:`.scenario` plays scripted calls from TOML or JSON files.
"""

from .callers import DEFAULT_DNIS, Caller, random_caller
from .config import Directory, SimTimings
from .lines import FAILURES, LineView, SimStep, Timer, TimerKind, failure_code
from .model import SimModel
from .pump import SimulatorConnector
from .scenario import (
    DEMO_SCENARIO,
    AttachStep,
    CallStep,
    HangupStep,
    Scenario,
    ScenarioError,
    ScenarioStep,
    load_scenario,
    loads_scenario,
    parse_scenario,
)

__all__ = [
    "DEFAULT_DNIS",
    "DEMO_SCENARIO",
    "FAILURES",
    "AttachStep",
    "CallStep",
    "Caller",
    "Directory",
    "HangupStep",
    "LineView",
    "Scenario",
    "ScenarioError",
    "ScenarioStep",
    "SimModel",
    "SimStep",
    "SimTimings",
    "SimulatorConnector",
    "Timer",
    "TimerKind",
    "failure_code",
    "load_scenario",
    "loads_scenario",
    "parse_scenario",
    "random_caller",
]
