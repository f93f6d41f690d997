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

# The one place the version is written: pyproject.toml reads it (setuptools parses this
# line without importing ctikit), `ctikit --version` prints it, CHANGELOG.md's newest entry
# names it (tests/test_cli.py checks).
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
