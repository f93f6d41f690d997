"""The one error connectors raise, apart from the interface (:mod:`.base`) so that their
sans-I/O codecs and mappings can raise it without importing anything that does I/O."""

from __future__ import annotations


class ActionFailedError(Exception):
    """The connector could not carry out an action; the message is shown to the agent."""
