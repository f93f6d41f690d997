"""The ``webrtc`` connector: the agent's console is the phone (docs/webrtc.md)."""

from .connector import PhoneLink, SipAccount, WebrtcConnector
from .model import ReportError, WebCall, WebrtcModel

__all__ = ["PhoneLink", "ReportError", "SipAccount", "WebCall", "WebrtcConnector", "WebrtcModel"]
