"""The benchmark scenarios. Each module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``async run(args, opts) -> Report``."""

from __future__ import annotations

from types import ModuleType

from . import browser, burst, contact_day, idle, reconnect, requests, scrape

SCENARIOS: dict[str, ModuleType] = {
    m.NAME: m for m in (idle, contact_day, burst, reconnect, requests, browser, scrape)
}
