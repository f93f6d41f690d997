"""The Open CTI scripts: every file name real pages load, every version, gated as the
tables say; the shared link put in once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from ctikit.core import opencti
from ctikit.server.static import render_interaction_js, render_opencti_js

LIGHTNING_NAMES = ("lightning/opencti_min.js", "lightning/opencti.js", "opencti_min.js")


def _table(text: str) -> Any:
    m = re.search(r"\}\)\((\{.*\})\);\s*$", text, re.S)
    assert m is not None
    return json.loads(m.group(1))


async def test_opencti_js_for_every_version_and_name(server: Any) -> None:
    for version in range(opencti.LIGHTNING_MIN, opencti.MAX_VERSION + 1):
        for name in LIGHTNING_NAMES:
            r = await server.get(f"/support/api/{version}.0/{name}")
            assert r.status == 200, (version, name)
            assert r.headers["Content-Type"].startswith("application/javascript")
            text = await r.text()
            assert "__CTIKIT_" not in text
            assert _table(text) == opencti.lightning_table(version)


async def test_interaction_js_for_every_version(server: Any) -> None:
    for version in range(opencti.CLASSIC_MIN, opencti.MAX_VERSION + 1):
        r = await server.get(f"/support/api/{version}.0/interaction.js")
        assert r.status == 200, version
        text = await r.text()
        assert "__CTIKIT_" not in text
        assert _table(text) == opencti.classic_table(version)


@pytest.mark.parametrize(
    "path",
    [
        "/support/api/37.0/lightning/opencti_min.js",  # before Lightning's Open CTI
        "/support/api/67.0/lightning/opencti_min.js",
        "/support/api/abc/lightning/opencti_min.js",
        "/support/api/52.5/lightning/opencti.js",
        "/support/api/19.0/interaction.js",
        "/support/api/1000.0/interaction.js",
    ],
)
async def test_versions_not_served_are_404_with_a_reason(server: Any, path: str) -> None:
    r = await server.get(path)
    assert r.status == 404
    assert (await r.text()).startswith("// ")


def test_methods_come_with_their_version() -> None:
    assert "searchAndGetScreenPopUrl" not in opencti.classic_table(27)["methods"]  # type: ignore[operator]
    assert "searchAndGetScreenPopUrl" in opencti.classic_table(28)["methods"]  # type: ignore[operator]
    assert "FLOW" not in opencti.lightning_table(44)["screenPopTypes"]  # type: ignore[operator]
    assert "FLOW" in opencti.lightning_table(45)["screenPopTypes"]  # type: ignore[operator]
    assert set(opencti.lightning_table(38)["methods"]) == set(opencti.LIGHTNING)  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.parametrize("render", [render_opencti_js, render_interaction_js])
def test_the_scripts_are_valid_javascript(render: Any, tmp_path: Any) -> None:
    path = tmp_path / "s.js"
    path.write_bytes(render(52))
    done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
