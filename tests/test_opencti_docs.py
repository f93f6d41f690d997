"""docs/open-cti.md lists every Open CTI method of core/opencti.py, with its first version
and a status."""

from __future__ import annotations

import re
from pathlib import Path

from ctikit.core import opencti

DOC = (Path(__file__).parents[1] / "docs" / "open-cti.md").read_text()


def _rows(section: str) -> dict[str, tuple[str, str]]:
    part = DOC.split(section, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for names, since, status in re.findall(r"^\| (.+?) \| (\d+\.0)\*? \| (\w+) \|", part, re.M):
        for name in re.findall(r"`([\w.]+)\(", names):
            rows[name] = (since, status)
    return rows


def test_every_lightning_method_is_listed_with_its_version() -> None:
    rows = _rows("### `sforce.opencti` (Lightning)")
    assert sorted(rows) == sorted(opencti.LIGHTNING)
    for name, since in opencti.LIGHTNING.items():
        assert rows[name][0] == f"{since}.0", name
        assert rows[name][1] in ("done", "not"), name


def test_every_classic_method_is_listed_with_its_version() -> None:
    rows = _rows("### `sforce.interaction` (Classic)")
    assert sorted(rows) == sorted(opencti.CLASSIC)
    for name, since in opencti.CLASSIC.items():
        assert rows[name][0] == f"{since}.0", name
