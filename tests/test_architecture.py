"""The shape of the package: the core is sans-I/O and imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import ctikit

SRC = Path(__file__).resolve().parents[1] / "src" / "ctikit"
IO_MODULES = {
    "asyncio",
    "socket",
    "aiohttp",
    "sqlalchemy",
    "time",
    "datetime",
    "threading",
    "subprocess",
    "select",
    "ssl",
    "http",
    "urllib.request",
    "os",
}
# layer -> layers it may import from
ALLOWED = {
    "core": {"core"},
    "connectors": {"core", "connectors"},
    "storage": {"storage"},
    "lab": {"core", "connectors", "lab"},
    "server": {"core", "connectors", "storage", "server", "config", "lab", "logs"},
    "cluster": {"core", "connectors", "storage", "server", "config", "cluster"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
    return out


def _layer_of_relative(path: Path, module: str, level: int) -> str:
    parts = list(path.relative_to(SRC).parts[:-1])
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    target = [*base, *module.split(".")] if module else base
    return target[0] if target else ""


def test_core_is_sans_io() -> None:
    for path in (SRC / "core").rglob("*.py"):
        for module, level in _imports(path):
            if level == 0:
                assert module.split(".")[0] not in IO_MODULES and module not in IO_MODULES, (
                    f"{path.name} imports {module}: the core must stay free of I/O and clocks"
                )


# Connector codecs and mappings: pure functions and state machines, tested byte by byte and
# with hypothesis; the asyncio pumps around them do all the I/O.
SANS_IO = [
    "connectors/*/mapping.py",
    "connectors/*/netstring.py",
    "connectors/*/baresip.py",
    "connectors/sim/model.py",
    "connectors/sim/lines.py",
    "connectors/linestate.py",
    "core/transitions.py",
]


def _is_io(module: str) -> bool:
    return module.split(".")[0] in IO_MODULES or module in IO_MODULES


def _ctikit_modules(path: Path) -> list[Path]:
    """The ctikit module files ``path`` imports (a package's own ``__init__`` is not
    followed into its other modules: importing ``..base`` needs only ``base.py``)."""
    out: list[Path] = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ctikit."):
            base, names = SRC.parent, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            base = SRC.parent
            names = []
            out += [
                SRC.parent / (a.name.replace(".", "/") + ".py")
                for a in node.names
                if a.name.startswith("ctikit.")
            ]
            continue
        else:
            continue
        target = base.joinpath(*(node.module or "").split(".")) if node.module else base
        if target.with_suffix(".py").is_file():
            out.append(target.with_suffix(".py"))
        else:
            subs = [target / f"{n}.py" for n in names if (target / f"{n}.py").is_file()]
            out += subs or [target / "__init__.py"]
    return [p for p in out if p.is_file()]


def test_connector_codecs_and_mappings_are_sans_io() -> None:
    paths = sorted({p for pattern in SANS_IO for p in SRC.glob(pattern)})
    names = {str(p.relative_to(SRC)) for p in paths}
    assert {"connectors/sip/mapping.py", "connectors/sim/model.py"} <= names, names
    for path in paths:
        # Everything it imports from ctikit must be sans-I/O too, all the way down.
        seen, todo = {path}, [path]
        while todo:
            current = todo.pop()
            for module, level in _imports(current):
                assert level or not _is_io(module), (
                    f"{path.relative_to(SRC)} imports {module}"
                    + (f" through {current.relative_to(SRC)}" if current != path else "")
                    + ": codecs and mappings must stay free of I/O and clocks"
                )
            for dep in _ctikit_modules(current):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)


def test_imports_point_one_way() -> None:
    for layer, allowed in ALLOWED.items():
        for path in (SRC / layer).rglob("*.py"):
            for module, level in _imports(path):
                if level:
                    target = _layer_of_relative(path, module, level)
                elif module.startswith("ctikit."):
                    target = module.split(".")[1]
                else:
                    continue
                assert target in allowed, f"{path.relative_to(SRC)} imports {target}"


def test_connectors_start_no_processes() -> None:
    # A connector drives phones and servers someone else runs: the lab (kamailio, baresip...)
    # is one way to run them, never a part of a connector.
    for path in (SRC / "connectors").rglob("*.py"):
        for module, level in _imports(path):
            target = _layer_of_relative(path, module, level) if level else module
            assert target not in ("subprocess", "lab") and not target.startswith(
                ("ctikit.lab", "subprocess.")
            ), f"{path.relative_to(SRC)} imports {module or target}: connectors start nothing"


def test_public_surface() -> None:
    assert sorted(ctikit.__all__) == sorted(
        [
            "CallLogStore",
            "CallRegistry",
            "CallType",
            "Config",
            "CtiCommand",
            "CtiError",
            "CtiRequestError",
            "Event",
            "TelephonyError",
            "__version__",
            "parse_cti_message",
        ]
    )
    for name in ctikit.__all__:
        assert hasattr(ctikit, name)
