"""Screen pops: the templates of the ``[[screen_pops]]`` settings (config.py has their schema).

A screen-pop rule opens a primary tab in the agent's console when a call of its type rings
or is answered. Its URL and title are templates with placeholders filled from the call:
``{ANI}``, ``{DNIS}``, ``{CALL_ID}``, ``{CALL_TYPE}`` and ``{data.KEY}`` (attached data).

The grammar lives here only: the server checks each template when it reads the config and
hands the console the template already split into parts (:func:`template_parts`), which the
console joins, URL-encoding each value in a URL (web/console/screen-pops.js).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit


class Rule(Protocol):
    """A screen-pop rule as the config holds it (config.ScreenPopConfig)."""

    @property
    def call_type(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def on(self) -> str: ...


#: Call fields a template may name, and the call object field each comes from.
FIELDS = {"ANI": "ani", "DNIS": "dnis", "CALL_ID": "id", "CALL_TYPE": "type"}
DATA_PREFIX = "data."
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_LISTED = ", ".join(f"{{{name}}}" for name in FIELDS) + ", {data.KEY}"


def template_parts(template: str) -> list[dict[str, str]]:
    """``"https://crm/x?n={ANI}"`` -> ``[{"text": "https://crm/x?n="}, {"field": "ani"}]``;
    ``{data.KEY}`` gives ``{"data": "KEY"}``. Raises ValueError naming what is wrong."""
    parts: list[dict[str, str]] = []
    at = 0
    for m in _PLACEHOLDER.finditer(template):
        _text(parts, template[at : m.start()])
        name = m.group(1)
        if name in FIELDS:
            parts.append({"field": FIELDS[name]})
        elif name.startswith(DATA_PREFIX) and len(name) > len(DATA_PREFIX):
            parts.append({"data": name[len(DATA_PREFIX) :]})
        else:
            raise ValueError(f"unknown placeholder {{{name}}}; the placeholders are {_LISTED}")
        at = m.end()
    _text(parts, template[at:])
    return parts


def _text(parts: list[dict[str, str]], text: str) -> None:
    if "{" in text or "}" in text:
        raise ValueError("a { or } outside a {placeholder}; write braces in a URL as %7B %7D")
    if text:
        parts.append({"text": text})


def check(pop: Rule) -> tuple[str, str] | None:
    """(key, problem) for a rule whose templates do not parse, else None."""
    for key, template in (("url", pop.url), ("title", pop.title)):
        if template is None:
            continue
        try:
            template_parts(template)
        except ValueError as exc:
            return key, str(exc)
    return None


def console_workspace(allowed_origins: Iterable[str], rules: Iterable[Rule]) -> dict[str, Any]:
    """What the console's workspace is told (GET /api/console/config ``workspace``): the
    origins its tabs may show (the screen pops' among them) and the rules, templates split."""
    rules = list(rules)
    origins = list(allowed_origins)
    for pop in rules:
        if not pop.url.startswith("/"):
            parts = urlsplit(pop.url)
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return {
        "allowedOrigins": sorted(set(origins)),
        "screenPops": [
            {
                "callType": pop.call_type.upper() if pop.call_type != "any" else None,
                "on": pop.on,
                "url": template_parts(pop.url),
                "title": template_parts(pop.title) if pop.title else None,
            }
            for pop in rules
        ],
    }
