"""A telephony lab on loopback: kamailio, baresip phones (and sipp load), run by ctikit.

It is one way to have a SIP server with phones on it, for ``ctikit demo --sip``, the tests and
the benchmarks. The connectors never import it: they are given the endpoints of phones that
someone else runs (:func:`line_endpoints` reads them off a lab's plan).

- :mod:`.plan`: who has which extension and lines, which loopback ports (:func:`plan_lab`);
- :mod:`.kamailio`, :mod:`.phones`: the files (``kamailio.cfg``, baresip directories, WAV);
- :mod:`.procs`, :mod:`.sip`: supervised processes, :class:`SipLab`;
- :mod:`.connect`: the SIP connector on a lab (:class:`LabConnector` starts both);
- :mod:`.load`: sipp calls and the connector-only benchmark (``python -m ctikit.lab.load``).
"""

from .connect import LabConnector, caller_endpoint, connector_for, line_endpoints
from .plan import AgentSpec, LabOptions, LabPlan, PhoneSpec, free_ports, plan_lab
from .procs import ManagedProcess
from .sip import LabError, SipLab, find_binaries, sip_ping, write_lab

__all__ = [
    "AgentSpec",
    "LabConnector",
    "LabError",
    "LabOptions",
    "LabPlan",
    "ManagedProcess",
    "PhoneSpec",
    "SipLab",
    "caller_endpoint",
    "connector_for",
    "find_binaries",
    "free_ports",
    "line_endpoints",
    "plan_lab",
    "sip_ping",
    "write_lab",
]
