"""The vendored browser libraries are exactly the locked npm packages' files (tools/vendor_js)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    name = "ctikit_vendor_js"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "vendor_js.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_vendored_files_match_the_lock() -> None:
    assert _tool().check() == []


def test_the_lock_pins_what_package_json_asks_for() -> None:
    npm = ROOT / "requirements" / "npm"
    wanted = json.loads((npm / "package.json").read_text())["dependencies"]
    lock = json.loads((npm / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert version[0].isdigit(), f"{name}: pin an exact version, not {version!r}"
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[f"node_modules/{name}"]["integrity"].startswith("sha512-")


def test_check_catches_an_edited_a_missing_and_an_extra_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool()
    vendor = tmp_path / "vendor"
    shutil.copytree(tool.VENDOR, vendor)
    monkeypatch.setattr(tool, "VENDOR", vendor)
    assert tool.check() == []
    (vendor / "sip.js" / "lib" / "version.js").write_text("export const LIBRARY_VERSION = 'x';\n")
    (vendor / "sip.js" / "lib" / "api" / "index.js").unlink()
    (vendor / "sip.js" / "extra.js").write_text("")
    problems = tool.check()
    assert any("version.js was changed" in p for p in problems), problems
    assert "sip.js/lib/api/index.js is missing" in problems
    assert "sip.js/extra.js is not in the manifest" in problems


def test_imports_are_found_in_every_form() -> None:
    src = (
        'import { a } from "./a.js";\nimport {\n  b,\n  c\n} from "../b.js";\n'
        'export * from "./c.js";\nexport { d } from \'./d.js\';\nimport "./e.js";\n'
        'const f = await import("./f.js");\nimport * as G from "./g.js";\n'
        '// "from" in a comment is no import: from "./nope.js" needs import/export first\n'
    )
    assert _tool().imports(src) == [
        "./a.js", "../b.js", "./c.js", "./d.js", "./e.js", "./f.js", "./g.js",
    ]  # fmt: skip
