"""Memory budgets: what the state may take, measured in the memory it takes.

An item limit says nothing about memory: a 64 KiB attached-data payload such as
``[{},{},...]`` is ~21,000 Python dicts, about 1.5 MB. So the state is charged by
:func:`data_cost`, an estimate of what a parsed JSON value takes in CPython (object
headers, container slots and text, as ``sys.getsizeof`` counts them), and each agent's
state and all agents' together are kept within budgets (:class:`~ctikit.core.model.Limits`
``agent_memory_bytes``, ``event_log_bytes`` and ``server_memory_bytes``).

Pure: the agent state (:mod:`.agentstate`) keeps the accounts; this module prices values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Prices of CPython objects (64-bit, 3.11+), close to ``sys.getsizeof`` (the dict price
#: includes its share of the key table).
_STR = 49  # plus one byte per character (ASCII)
_WIDE_STR = 80  # other text: up to four bytes per character, counted as four
_INT = 28
_FLOAT = 24
_LIST = 56
_SLOT = 8
_DICT = 64
_DICT_ITEM = 40
#: What an event costs besides the data it carries (the event, its call view, its floats).
EVENT_COST = 400
#: What an agent's state costs with nothing in it.
AGENT_COST = 2048


@dataclass(slots=True)
class ServerBudget:
    """All agents' state together: ``used`` bytes of ``limit`` (kept by the agent states)."""

    limit: int
    used: int = 0
    #: Frees ``needed`` bytes of agents' soft state (their logs, ended calls, pending
    #: data) if it can (the registry sets it; see CallRegistry._reclaim).
    reclaim: Callable[[int], None] | None = None

    def room(self) -> int:
        return self.limit - self.used


def data_cost(value: Any) -> int:
    """The memory a parsed JSON value takes, estimated (bytes). ``None``, ``True`` and
    ``False`` are shared singletons: only their slot counts."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            total += _DICT + _DICT_ITEM * len(v)
            for k, x in v.items():
                total += _STR + len(k) if k.isascii() else _WIDE_STR + 4 * len(k)
                stack.append(x)
        elif t is list:
            total += _LIST + _SLOT * len(v)
            stack.extend(v)
        elif t is str:
            total += _STR + len(v) if v.isascii() else _WIDE_STR + 4 * len(v)
        elif t is int:
            total += _INT
        elif t is float:
            total += _FLOAT
    return total
