"""The SIP connector: baresip phones (one process per agent line) behind a kamailio proxy.

:class:`SipConnector` is the connector; :class:`SipModel` the sans-I/O mapping of baresip
events to telephony events; :mod:`.labconfig` and :class:`SipLab` generate and run a lab of
kamailio and baresip processes on loopback. See docs/connectors.md.
"""

from .baresip import BaresipEvent, ProtocolError, Response, parse_message
from .connector import CallerEndpoint, LineEndpoint, SipConnector
from .ctrl import CtrlConnection, CtrlError
from .lab import LabError, SipLab, find_binaries
from .labconfig import AgentSpec, LabOptions, LabPlan, PhoneSpec, plan_lab, write_lab
from .mapping import SipCall, SipModel
from .netstring import NetstringDecoder, NetstringError

__all__ = [
    "AgentSpec",
    "BaresipEvent",
    "CallerEndpoint",
    "CtrlConnection",
    "CtrlError",
    "LabError",
    "LabOptions",
    "LabPlan",
    "LineEndpoint",
    "NetstringDecoder",
    "NetstringError",
    "PhoneSpec",
    "ProtocolError",
    "Response",
    "SipCall",
    "SipConnector",
    "SipLab",
    "SipModel",
    "find_binaries",
    "parse_message",
    "plan_lab",
    "write_lab",
]
