"""Durable call-log storage for ctikit (SQLite by default, PostgreSQL by URL).

Open a store with ``await CallLogStore.open("ctikit.db")`` (or a
``postgresql://`` URL); the schema is migrated to the latest version on open.
"""

from .accounts import ROLES, AccountStore, ServiceToken, User
from .agentstates import AgentStateChange, AgentStateLog
from .callstate import CallStateStore
from .errors import StorageError
from .export import CSV_COLUMNS, csv_header, csv_row, export_csv, export_json
from .records import CALL_TYPES, CallLog, NewCallLog, utc_now
from .store import MAX_LIST_LIMIT, CallLogStore

__all__ = [
    "CALL_TYPES",
    "CSV_COLUMNS",
    "MAX_LIST_LIMIT",
    "ROLES",
    "AccountStore",
    "AgentStateChange",
    "AgentStateLog",
    "CallLog",
    "CallLogStore",
    "CallStateStore",
    "NewCallLog",
    "ServiceToken",
    "StorageError",
    "User",
    "csv_header",
    "csv_row",
    "export_csv",
    "export_json",
    "utc_now",
]
