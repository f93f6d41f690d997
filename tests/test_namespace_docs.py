"""docs/console-namespace.md lists exactly the members of core/versions.py, with their versions."""

from __future__ import annotations

import re
from pathlib import Path

from ctikit.core.versions import ENUMS, IMPLEMENTED, NAMESPACES

DOC = Path(__file__).resolve().parents[1] / "docs" / "console-namespace.md"
HEADINGS = {
    "### `sforce.console`": "console",
    "### `sforce.console.cti`": "cti",
    "### `sforce.console.chat` (Chat)": "chat",
    "### `sforce.console.presence` (Omni-Channel)": "presence",
}
ROW = re.compile(r"^\| `(\w+)` \| (\d+)\.0(?: to (\d+)\.0)?(?: \(assumed\))? \| (.+) \|$")


def _documented() -> dict[str, dict[str, tuple[int, int | None, str]]]:
    found: dict[str, dict[str, tuple[int, int | None, str]]] = {}
    namespace = None
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            namespace = HEADINGS.get(line.strip())
            continue
        m = ROW.match(line)
        if namespace and m:
            name, since, until, answer = m.groups()
            assert name not in found.setdefault(namespace, {}), f"{name} listed twice"
            found[namespace][name] = (int(since), int(until) if until else None, answer)
    return found


def test_every_member_is_documented_with_its_versions() -> None:
    documented = _documented()
    assert set(documented) == set(NAMESPACES)
    for namespace, members in NAMESPACES.items():
        assert list(documented[namespace]) == list(members), namespace
        for name, member in members.items():
            since, until, answer = documented[namespace][name]
            assert (since, until) == (member.since, member.until), name
            implemented = answer.startswith("**implemented**")
            assert implemented == (name in IMPLEMENTED[namespace]), name
            assert ("(assumed)" in _row_of(name)) == bool(member.note), name


def _row_of(name: str) -> str:
    return next(line for line in DOC.read_text().splitlines() if line.startswith(f"| `{name}` |"))


def test_enums_are_documented_with_their_versions() -> None:
    lines = DOC.read_text().splitlines()
    for name, (since, values) in ENUMS.items():
        row = next(line for line in lines if line.startswith(f"| `sforce.console.{name}`"))
        assert f"| {since}.0 |" in row, name
        for key in values:
            assert key in row, (name, key)
