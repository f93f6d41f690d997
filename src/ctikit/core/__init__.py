"""The sans-I/O core of ctikit: call state, events, the CTI grammar and version rules.

Nothing here opens a socket, touches a database or reads the clock: time is a parameter.
"""

from .commands import Action, CtiCommand
from .commands import parse as parse_cti_message
from .errors import (
    CommandRejectedError,
    CtiError,
    CtiRequestError,
    LimitExceededError,
    TelephonyError,
    UnknownCallError,
)
from .events import (
    CallBegan,
    CallEnded,
    CallFailed,
    CallLogSaved,
    CallsReplaced,
    CallUpdated,
    CtiMessageSent,
    CustomEventFired,
    Event,
    LineStatusChanged,
)
from .model import CallType, CallView, Limits, LineState, check_agent_id
from .registry import AgentState, CallRegistry

__all__ = [
    "Action",
    "AgentState",
    "CallBegan",
    "CallEnded",
    "CallFailed",
    "CallLogSaved",
    "CallRegistry",
    "CallType",
    "CallUpdated",
    "CallView",
    "CallsReplaced",
    "CommandRejectedError",
    "CtiCommand",
    "CtiError",
    "CtiMessageSent",
    "CtiRequestError",
    "CustomEventFired",
    "Event",
    "LimitExceededError",
    "Limits",
    "LineState",
    "LineStatusChanged",
    "TelephonyError",
    "UnknownCallError",
    "check_agent_id",
    "parse_cti_message",
]
