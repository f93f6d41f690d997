"""msgspec types and TOML values in an operator's words, for the config's errors and docs."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec.inspect as mi

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
Path_ = list[str | int]  # a key's place: section, then field names and array indices


def bare_key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (never a line break)."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def plain(t: mi.Type) -> mi.Type:
    """The type without metadata, and without ``| None`` (TOML has no null)."""
    while True:
        if isinstance(t, mi.Metadata):
            t = t.type
        elif isinstance(t, mi.UnionType):
            real = [m for m in t.types if not isinstance(m, mi.NoneType)]
            if len(real) != 1:
                return t
            t = real[0]
        else:
            return t


def fields_of(t: mi.Type) -> tuple[mi.Field, ...]:
    """A table type's fields (none for other types)."""
    base = plain(t)
    return base.fields if isinstance(base, mi.StructType) else ()


def type_at(t: mi.Type, path: Path_) -> mi.Type:
    """The type at ``path`` inside ``t`` (Any where the schema has no such key)."""
    for part in path:
        base = plain(t)
        if isinstance(part, int) and isinstance(base, mi.ListType | mi.VarTupleType):
            t = base.item_type
        else:
            t = next((f.type for f in fields_of(base) if f.name == part), mi.AnyType())
    return t


def value_at(raw: Any, path: Path_) -> Any:
    """The value at ``path`` inside ``raw`` (None where there is none)."""
    for part in path:
        try:
            raw = raw[part]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def describe(t: mi.Type) -> str:
    """What a value of type ``t`` must be, in an operator's words."""
    if isinstance(t, mi.UnionType):  # ``X | None``: TOML has no null, so X
        real = [m for m in t.types if not isinstance(m, mi.NoneType)]
        t = real[0] if len(real) == 1 else t
    if isinstance(t, mi.Metadata):
        described = (t.extra_json_schema or {}).get("description")
        if described:
            return str(described)
    base = plain(t)
    if isinstance(base, mi.IntType):
        return _range("an integer", base)
    if isinstance(base, mi.FloatType):
        return _range("a number", base)
    if isinstance(base, mi.StrType):
        if base.min_length and base.max_length:
            return f"a string of {base.min_length} to {base.max_length} characters"
        if base.max_length is not None:
            return f"a string of at most {base.max_length} characters"
        return "a non-empty string" if base.min_length else "a string"
    if isinstance(base, mi.BoolType):
        return "true or false"
    if isinstance(base, mi.LiteralType):
        return "one of " + ", ".join(json.dumps(v) for v in base.values)
    if isinstance(base, mi.ListType | mi.VarTupleType):
        item = plain(base.item_type)
        if isinstance(item, mi.StructType):
            return "an array of tables"
        return f"an array, each {describe(base.item_type)}"
    if isinstance(base, mi.StructType | mi.DataclassType):
        return "a table"
    return "something else"


def _range(kind: str, t: mi.IntType | mi.FloatType) -> str:
    def num(x: float) -> str:
        return f"{x:g}" if isinstance(x, float) else str(x)

    low = f">= {num(t.ge)}" if t.ge is not None else f"> {num(t.gt)}" if t.gt is not None else ""
    high = f"<= {num(t.le)}" if t.le is not None else f"< {num(t.lt)}" if t.lt is not None else ""
    if t.ge is not None and t.le is not None:
        return f"{kind} {num(t.ge)}-{num(t.le)}"
    return " ".join(x for x in (kind, low, "and" if low and high else "", high) if x)


def shown(value: Any) -> str:
    """A value as it looks in TOML (strings quoted), briefly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:76] + '..."'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "nothing"
    return f"a date/time ({value})"
