"""Copy the browser libraries ctikit serves from an npm install into src/ctikit/web/vendor/.

    python tools/vendor_js.py copy NODE_MODULES   # after `npm ci` of requirements/npm
    python tools/vendor_js.py check               # the vendored files match the lock

Only the files a page can reach are copied: the ES modules imported (transitively, by
relative ``.js`` paths) from each package's entry point, plus its licence. The manifest
(requirements/npm/vendored.json) records each package's version and npm integrity (from
package-lock.json) and every copied file's sha256, so that an edit, a missing file or a lock
changed without re-vendoring is caught (tests/test_vendor.py runs ``check``). ``./run vendor``
does the npm part; docs/vendoring.md says how to update a library.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPM = ROOT / "requirements" / "npm"
MANIFEST = NPM / "vendored.json"
VENDOR = ROOT / "src" / "ctikit" / "web" / "vendor"

#: Test-only libraries (axe-core): kept with the browser tests, not served by ctikit.
TEST_VENDOR = ROOT / "tests" / "browser" / "vendor"

#: package -> (entry, licence file), paths inside the npm package. An entry is an ES module
#: whose relative imports are copied too, except for SCRIPTS: single classic scripts that
#: set a global.
PACKAGES = {
    "sip.js": ("lib/index.js", "LICENSE.md"),
    "axe-core": ("axe.min.js", "LICENSE"),  # window.axe, injected by the browser tests
}
SCRIPTS = frozenset({"axe-core"})
TEST_ONLY = frozenset({"axe-core"})


def root_of(name: str) -> Path:
    """Where ``name``'s files go: served under /static/vendor/, or kept for the tests."""
    return TEST_VENDOR if name in TEST_ONLY else VENDOR


def reached(name: str, root: Path, entry: str) -> list[str]:
    """The files a page loads for ``name``: the entry script, or an ES module's closure."""
    if name in SCRIPTS:
        if not (root / entry).is_file():
            raise VendorError(f"{entry} is not in the package")
        return [entry]
    return closure(root, entry)


# import/export ... from "x", import "x", import("x")
_IMPORT = re.compile(
    r"""(?:^|[;\s})])(?:import|export)\s[^'";]*?\bfrom\s*["']([^"']+)["']"""
    r"""|(?:^|[;\s])import\s*["']([^"']+)["']"""
    r"""|\bimport\(\s*["']([^"']+)["']\s*\)""",
    re.MULTILINE,
)


class VendorError(Exception):
    pass


def imports(source: str) -> list[str]:
    """Module specifiers a JavaScript module imports or re-exports."""
    return [a or b or c for a, b, c in _IMPORT.findall(source)]


def closure(root: Path, entry: str) -> list[str]:
    """Paths (relative to ``root``) of ``entry`` and every module it reaches by relative
    imports. A bare specifier (another package) is an error: it would not load unbundled."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        path = root / rel
        if not path.is_file():
            raise VendorError(f"{rel} is imported but not in the package")
        seen.add(rel)
        for spec in imports(path.read_text(encoding="utf-8")):
            if not spec.startswith(("./", "../")):
                raise VendorError(f"{rel} imports {spec!r}: only relative imports load unbundled")
            target = (path.parent / spec).resolve().relative_to(root.resolve())
            todo.append(target.as_posix())
    return sorted(seen)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked() -> dict[str, dict[str, str]]:
    """name -> {version, integrity} from package-lock.json."""
    lock = json.loads((NPM / "package-lock.json").read_text())
    out = {}
    for name in PACKAGES:
        entry = lock["packages"].get(f"node_modules/{name}")
        if entry is None:
            raise VendorError(f"{name} is not in requirements/npm/package-lock.json")
        out[name] = {"version": entry["version"], "integrity": entry["integrity"]}
    return out


def copy(node_modules: Path) -> dict[str, object]:
    """Replace src/ctikit/web/vendor/ with the needed files; write the manifest."""
    lock = locked()
    manifest: dict[str, object] = {}
    for name, (entry, licence) in PACKAGES.items():
        src = node_modules / name
        meta = json.loads((src / "package.json").read_text())
        if meta["version"] != lock[name]["version"]:
            raise VendorError(f"{name} {meta['version']} installed, the lock says {lock[name]}")
        files = [*reached(name, src, entry), licence]
        dest = root_of(name) / name
        if dest.exists():
            shutil.rmtree(dest)
        for rel in files:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dest / rel)
        manifest[name] = {
            **lock[name],
            "entry": entry,
            "license": licence,
            "files": {rel: sha256(dest / rel) for rel in files},
        }
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def check() -> list[str]:
    """Every way the vendored files differ from the manifest and the lock (empty: none)."""
    problems: list[str] = []
    manifest = json.loads(MANIFEST.read_text())
    lock = locked()
    if sorted(manifest) != sorted(PACKAGES):
        problems.append(f"manifest lists {sorted(manifest)}, expected {sorted(PACKAGES)}")
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    present |= {
        p.relative_to(TEST_VENDOR).as_posix() for p in TEST_VENDOR.rglob("*") if p.is_file()
    }
    expected: set[str] = set()
    for name, info in manifest.items():
        root = root_of(name)
        for key in ("version", "integrity"):
            if info[key] != lock.get(name, {}).get(key):
                problems.append(f"{name}: manifest {key} {info[key]} != lock's: run ./run vendor")
        files: dict[str, str] = info["files"]
        expected |= {f"{name}/{rel}" for rel in files}
        for rel, digest in files.items():
            path = root / name / rel
            if path.is_file() and sha256(path) != digest:
                problems.append(f"{name}/{rel} was changed (sha256 differs from the manifest)")
        try:
            loads = reached(name, root / name, info["entry"])
        except VendorError as exc:
            problems.append(f"{name}: {exc}")
        else:
            missing = set(loads) - set(files)
            problems += [f"{name}/{rel} is imported but not vendored" for rel in sorted(missing)]
    problems += [f"{rel} is missing" for rel in sorted(expected - present)]
    problems += [f"{rel} is not in the manifest" for rel in sorted(present - expected)]
    return problems


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["copy"] and len(argv) == 2:
            done = copy(Path(argv[1]))
            for name, info in done.items():
                assert isinstance(info, dict)
                print(f"vendored {name} {info['version']}: {len(info['files'])} files")
            return 0
        if argv == ["check"]:
            problems = check()
            print("\n".join(problems) or "vendored files match the lock")
            return 1 if problems else 0
    except VendorError as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
