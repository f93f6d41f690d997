"""A telephony lab on loopback: kamailio, baresip phones (and sipp load), run by ctikit.

It is one way to have a SIP server with phones on it, for ``ctikit demo --sip``, the tests and
the benchmarks; with browser agents (:class:`WebAgent`), kamailio also takes SIP over
WebSocket with digest authentication and rtpengine bridges WebRTC media to the phones.
The connectors never import it: they are given the endpoints of phones that someone else
runs (:func:`line_endpoints` reads them off a lab's plan).

- :mod:`.plan`: who has which extension and lines, which loopback ports (:func:`plan_lab`);
- :mod:`.kamailio`, :mod:`.phones`: the files (``kamailio.cfg``, baresip directories, WAV);
- :mod:`.rtpengine`: rtpengine's command line and control protocol (WebRTC labs);
- :mod:`.procs`, :mod:`.sip`: supervised processes, :class:`SipLab`;
- :mod:`.connect`: the SIP connector on a lab (:class:`LabConnector` starts both);
- :mod:`.load`: sipp calls and the connector-only benchmark (``python -m ctikit.lab.load``).
"""

from .connect import LabConnector, caller_endpoint, connector_for, line_endpoints
from .plan import (
    AgentSpec,
    CallerAudio,
    LabOptions,
    LabPlan,
    PhoneSpec,
    WebAgent,
    WebRtcPlan,
    free_ports,
    plan_lab,
)
from .procs import ManagedProcess
from .sip import LabError, SipLab, find_binaries, find_webrtc_parts, sip_ping, write_lab

__all__ = [
    "AgentSpec",
    "CallerAudio",
    "LabConnector",
    "LabError",
    "LabOptions",
    "LabPlan",
    "ManagedProcess",
    "PhoneSpec",
    "SipLab",
    "WebAgent",
    "WebRtcPlan",
    "caller_endpoint",
    "connector_for",
    "find_binaries",
    "find_webrtc_parts",
    "free_ports",
    "line_endpoints",
    "plan_lab",
    "sip_ping",
    "write_lab",
]
