"""ctikit: a self-hosted CTI toolkit with a Salesforce-compatible ``sforce.console.cti`` API.

The public front door. The sans-I/O core lives in :mod:`ctikit.core`, storage in
:mod:`ctikit.storage`, the server in :mod:`ctikit.server`, connectors in
:mod:`ctikit.connectors`.
"""

from .config import Config
from .core import (
    CallRegistry,
    CallType,
    CtiCommand,
    CtiError,
    CtiRequestError,
    Event,
    TelephonyError,
    parse_cti_message,
)
from .storage import CallLogStore

__version__ = "0.1.0"

__all__ = [
    "CallLogStore",
    "CallRegistry",
    "CallType",
    "Config",
    "CtiCommand",
    "CtiError",
    "CtiRequestError",
    "Event",
    "TelephonyError",
    "__version__",
    "parse_cti_message",
]
