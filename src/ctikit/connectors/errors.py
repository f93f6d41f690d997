"""Errors of the connector interface, apart from it: the sans-I/O models raise them too,
and must not import :mod:`.base` (which names asyncio types)."""

from __future__ import annotations


class ActionFailedError(Exception):
    """The connector could not carry out an action; the message is shown to the agent."""
