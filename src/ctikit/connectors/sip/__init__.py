"""The SIP connector: baresip phones (one process per agent line) behind a SIP proxy.

:class:`SipConnector` is the connector, built from where each line's ``ctrl_tcp`` listens
(:class:`LineEndpoint`); :class:`SipModel` the sans-I/O mapping of baresip events to telephony
events. It starts no process: ``ctikit.lab`` runs a lab of kamailio and baresip on loopback.
See docs/connectors.md.
"""

from .baresip import BaresipEvent, ProtocolError, Response, parse_message
from .connector import CallerEndpoint, LineEndpoint, SipConnector
from .ctrl import CtrlConnection, CtrlError
from .mapping import SipCall, SipModel
from .netstring import NetstringDecoder, NetstringError

__all__ = [
    "BaresipEvent",
    "CallerEndpoint",
    "CtrlConnection",
    "CtrlError",
    "LineEndpoint",
    "NetstringDecoder",
    "NetstringError",
    "ProtocolError",
    "Response",
    "SipCall",
    "SipConnector",
    "SipModel",
    "parse_message",
]
