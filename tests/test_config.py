"""The configuration schema: every refusal is one line naming the file and the key; the
documentation lists every key with the schema's own words for its value and default."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctikit import config as cfg
from ctikit.config import Config, ConfigError, apply_flags, config_from_dict, load_config
from ctikit.core.model import Limits

ROOT = Path(__file__).resolve().parents[1]
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
PORT = "f.toml: [server].port: expected an integer 0-65535, got"
FLAGS = {"port": "--port", "database": "--database", "cluster_nodes": "--node"}


def error_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw, "f.toml")
    return str(caught.value)


def test_an_empty_file_is_the_defaults() -> None:
    assert config_from_dict({}, "f.toml") == Config()


def test_a_full_file_becomes_the_config(tmp_path: Path) -> None:
    raw = {
        "server": {
            "port": 9000,
            "examples_dir": str(tmp_path),
            "token_ttl": 600,  # an integer where a number is wanted
            "cluster_nodes": ["https://a.example.com/", "https://b.example.com"],
        },
        "agents": [{"id": "alice", "extension": "1001", "name": "Alice"}],
        "components": [{"name": "Card", "url": "/examples/card.html", "height": 400}],
        "users": [{"username": "alice", "password_hash": HASH, "team": "blue"}],
        "limits": {"max_active_calls": 5},
    }
    config = config_from_dict(raw, "f.toml")
    assert config.port == 9000 and config.token_ttl == 600.0
    assert config.cluster_nodes == ("https://a.example.com", "https://b.example.com")
    assert config.agents == (cfg.AgentConfig(id="alice", extension="1001", name="Alice"),)
    assert config.components[0].height == 400
    assert config.users[0].role == "agent" and config.users[0].team == "blue"
    assert config.limits == Limits(max_active_calls=5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"server": {"port": "nineteen"}},
         'f.toml: [server].port: expected an integer 0-65535, got "nineteen"'),
        ({"server": {"port": 70000}}, f"{PORT} 70000"),
        ({"server": {"port": True}}, f"{PORT} true"),
        ({"server": {"port": 80.5}}, f"{PORT} 80.5"),
        ({"server": {"log_level": "verbose"}},
         'f.toml: [server].log_level: expected one of "debug", "error", "info", "warning", '
         'got "verbose"'),
        ({"server": {"max_requests_per_second": 0}},
         "f.toml: [server].max_requests_per_second: expected a number > 0 and <= 1000000, got 0"),
        ({"server": {"token_ttl": float("inf")}},
         "f.toml: [server].token_ttl: expected a number 60-2592000, got inf"),
        ({"server": {"database": "mysql://db/x"}},
         "f.toml: [server].database: expected a SQLite file path, sqlite:///FILE or "
         'postgresql+asyncpg://USER:PASS@HOST/DB, got "mysql://db/x"'),
        ({"server": {"cluster_nodes": ["https://a", "ftp://b"]}},
         'f.toml: [server].cluster_nodes#2: expected an http(s):// URL, got "ftp://b"'),
        ({"server": {"allowed_origins": "https://a"}},
         "f.toml: [server].allowed_origins: expected an array, each an origin such as "
         'https://crm.example.com (no path), got "https://a"'),
        ({"server": 3}, "f.toml: [server]: expected a table, got 3"),
        ({"limits": {"max_active_calls": -3}},
         "f.toml: [limits].max_active_calls: expected an integer 1-1000, got -3"),
        ({"agents": {"id": "a"}}, "f.toml: [agents]: write [[agents]], one such table per entry"),
        ({"agents": [{"id": "a b"}]},
         'f.toml: [[agents]]#1.id: expected 1 to 64 letters, digits or . _ @ + -, got "a b"'),
        ({"agents": [{"id": "a", "extension": 1001}]},
         'f.toml: [[agents]]#1.extension: expected 1 to 32 letters or digits, quoted ("1001"), '
         'got 1001 (write it in quotes: "1001")'),
        ({"agents": [{"extension": "1"}]},
         "f.toml: [[agents]]#1.id: missing; expected 1 to 64 letters, digits or . _ @ + -"),
        ({"components": [{"name": "x", "url": "javascript:alert(1)"}]},
         "f.toml: [[components]]#1.url: expected an absolute http(s):// URL or a path on this "
         'server (/examples/...), got "javascript:alert(1)"'),
        ({"components": [{"name": "x", "url": "//evil.example.com/x"}]},
         "f.toml: [[components]]#1.url: expected an absolute http(s):// URL or a path on this "
         'server (/examples/...), got "//evil.example.com/x"'),
        ({"users": [{"username": "sam", "password_hash": "secret"}]},
         "f.toml: [[users]]#1.password_hash: expected an argon2 hash printed by "
         '`ctikit user hash-password`, got "secret"'),
        ({"users": [{"username": "sam", "password_hash": HASH, "role": "admin"}]},
         'f.toml: [[users]]#1.role: expected one of "agent", "supervisor", got "admin"'),
        ({"users": [{"username": "s", "password_hash": HASH}] * 2},
         'f.toml: [[users]]#2.username: "s" is also the username of [[users]]#1; '
         "each username once"),
        ({"server": {"connector": "sip"}, "agents": [{"id": "a"}]},
         'f.toml: [server].connector: "sip" needs [[agents]] with an extension each (their '
         "phones get those numbers)"),
        ({"server": {"scenario": "calls.toml", "connector": "sip"},
          "agents": [{"id": "a", "extension": "1001"}]},
         'f.toml: [server].scenario: a scenario needs connector = "sim" (the simulator), '
         'not "sip"'),
        ({"server": {"connector": "webrtc", "webrtc_domain": "sip.example.com"},
          "agents": [{"id": "a", "extension": "1001", "sip_password": "pw"}]},
         'f.toml: [server].webrtc_ws_url: "webrtc" needs it (where the consoles register)'),
        ({"server": {"connector": "webrtc", "webrtc_ws_url": "wss://sip.example.com",
                     "webrtc_domain": "sip.example.com"},
          "agents": [{"id": "a", "extension": "1001"}]},
         'f.toml: [[agents]]#1.sip_password: "webrtc" needs it for an agent with an extension '
         "(its digest password)"),
        ({"server": {"webrtc_ws_url": "http://sip.example.com"}},
         'f.toml: [server].webrtc_ws_url: expected a ws:// or wss:// URL, '
         'got "http://sip.example.com"'),
        ({"port": 8080}, "f.toml: port: outside any section; put it under [server]"),
        ({"color": "blue"},
         "f.toml: color: unknown key outside any section; the sections are [server], "
         "[limits], [[components]], [[agents]], [[users]], [workspace], [[screen_pops]], "
         "[open_cti]"),
        ({"agent": [{"id": "a"}]},
         "f.toml: [[agent]]: unknown section; did you mean [[agents]]? the sections are "
         "[server], [limits], [[components]], [[agents]], [[users]], [workspace], "
         "[[screen_pops]], [open_cti]"),
    ],
)  # fmt: skip
def test_a_refusal_names_the_key_the_problem_and_what_is_expected(
    raw: dict[str, Any], expected: str
) -> None:
    assert error_of(raw) == expected


def test_unknown_keys_name_the_known_ones() -> None:
    line = error_of({"server": {"prot": 1}})
    assert line.startswith("f.toml: [server].prot: unknown key; did you mean port? (known: host, ")
    assert all(key in line for key in cfg.SERVER_KEYS)
    line = error_of({"agents": [{"id": "a", "extn": "1"}]})
    assert line == (
        "f.toml: [[agents]]#1.extn: unknown key; did you mean extension? (known: id, extension, "
        "name, sip_password)"
    )


def test_odd_key_names_are_quoted_on_one_line() -> None:
    assert error_of({"a\nb": 1}).startswith('f.toml: "a\\nb": unknown key outside any section')
    assert error_of({"server": {"": 1}}).startswith('f.toml: [server]."": unknown key (known: ')
    assert error_of({"se rver": {}}).startswith('f.toml: ["se rver"]: unknown section; did you')


def test_examples_dir_must_be_a_directory(tmp_path: Path) -> None:
    line = error_of({"server": {"examples_dir": str(tmp_path / "nope")}})
    assert line.startswith(f'f.toml: [server].examples_dir: no directory "{tmp_path / "nope"}"')


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ctikit.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"ctikit\.toml: not a text file \(TOML is UTF-8\)$"):
        load_config(path)
    path.write_text("[server]\nport = \n")
    with pytest.raises(ConfigError, match=r"ctikit\.toml: not valid TOML: .*line 2"):
        load_config(path)


def test_flags_are_checked_and_named_like_the_file() -> None:
    base = Config()
    assert apply_flags(base, {"port": 9000, "database": None}, FLAGS, where="f.toml").port == 9000
    for flags, expected in [
        ({"port": 99999}, "--port: expected an integer 0-65535, got 99999"),
        ({"cluster_nodes": ["ftp://x"]}, '--node: expected an http(s):// URL, got "ftp://x"'),
        ({"database": "mysql://x"}, "--database: expected a SQLite file path"),
    ]:
        with pytest.raises(ConfigError) as caught:
            apply_flags(base, flags, FLAGS, where="f.toml")
        assert str(caught.value).startswith(expected)
    with pytest.raises(ConfigError, match=r"^--component 'x': expected NAME=URL"):
        apply_flags(base, {}, FLAGS, where="f.toml", components=["x"])
    with pytest.raises(ConfigError, match=r"^--component 'x=ftp://y': url: expected an absolute"):
        apply_flags(base, {}, FLAGS, where="f.toml", components=["x=ftp://y"])


def test_rules_after_flags_name_the_flag_or_the_file() -> None:
    file = config_from_dict(
        {"server": {"connector": "sip"}, "agents": [{"id": "a", "extension": "1"}]}, "f.toml"
    )
    with pytest.raises(ConfigError, match=r'^--scenario: a scenario needs connector = "sim"'):
        apply_flags(file, {"scenario": "s.toml"}, {"scenario": "--scenario"}, where="f.toml")
    with pytest.raises(ConfigError, match=r"^--component 'c=/examples/c.html': .*examples_dir"):
        apply_flags(file, {}, FLAGS, where="f.toml", components=["c=/examples/c.html"])


def test_every_limit_has_a_range_that_holds_its_default() -> None:
    for f in dataclasses.fields(Limits):
        assert f.name in cfg.LIMIT_RANGES, f"give [limits].{f.name} a range in config.py"
        low, high = cfg.LIMIT_RANGES[f.name]
        assert low <= f.default <= high  # type: ignore[operator]


def test_the_defaults_pass_the_schema() -> None:
    """Config's defaults, written back as a file, are accepted and give the same config."""
    server = {
        k: v
        for k, v in msgspec.to_builtins(dataclasses.asdict(Config())).items()
        if k in cfg.SERVER_KEYS and v is not None
    }
    assert config_from_dict({"server": server}, "f.toml") == Config()


# --- the documentation


def _toml(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _documented(section: str) -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    part = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \| (.*?) \|", part, re.MULTILINE)
    return {key: (value, default) for key, value, default in rows}


@pytest.mark.parametrize(("section", "struct"), cfg.SECTIONS.items())
def test_configuration_md_lists_every_key_as_the_schema_has_it(
    section: str, struct: type[msgspec.Struct]
) -> None:
    documented = _documented(section)
    fields = mi.type_info(struct).fields  # type: ignore[attr-defined]
    assert sorted(documented) == sorted(f.name for f in fields), section
    for f in fields:
        value, default = documented[f.name]
        wanted = "required" if f.required else _toml(f.default)
        assert value == cfg.describe(f.type), f"{section} {f.name}: write {cfg.describe(f.type)}"
        assert default.strip("`").startswith(wanted), f"{section} {f.name}: default {wanted}"


def _toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *ROOT.glob("examples/**/*.md")]:
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", path.read_text(), re.DOTALL)):
            blocks.append((f"{path.relative_to(ROOT)}#{i + 1}", block))
    return blocks


@pytest.mark.parametrize(("where", "text"), _toml_blocks(), ids=[w for w, _ in _toml_blocks()])
def test_every_config_example_in_the_docs_is_accepted(
    where: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # examples_dir = "examples" is relative to where ctikit runs
    raw = tomllib.loads(text.replace('"$argon2id$v=19$m=65536,t=3,p=4$..."', f'"{HASH}"'))
    if "server" not in raw and "components" in raw:
        raw["server"] = {"examples_dir": str(ROOT / "examples")}  # a fragment: the rest of the file
    config_from_dict(raw, where)


# --- no input gives anything but a Config or one ConfigError line

_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.sampled_from(["https://a.example.com", "/examples/x.html", "1001", "agent1", HASH]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), _values, max_size=4)


_sections = {
    "server": _table(list(cfg.SERVER_KEYS)),
    "limits": _table(list(cfg.LIMIT_RANGES)),
    "agents": st.lists(_table(["id", "extension", "name"]), max_size=3),
    "components": st.lists(_table(["name", "url", "height"]), max_size=3),
    "users": st.lists(_table(["username", "password_hash", "role", "agent", "team"]), max_size=3),
}
_documents = st.fixed_dictionaries(
    {},
    optional={**_sections, "sever": _values, "port": _values},  # type: ignore[dict-item]
) | st.dictionaries(st.text(max_size=8), _values, max_size=3)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_any_document_gives_a_config_or_one_line_naming_the_file(raw: dict[str, Any]) -> None:
    try:
        config = config_from_dict(raw, "f.toml")
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith("f.toml: ") and "\n" not in text, text
        assert "Expected `" not in text, text  # msgspec's words are always translated
        assert "expected a table, got a table" not in text, text
    else:
        assert isinstance(config, Config)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(cfg.SERVER_KEYS), _values)
def test_a_bad_server_value_names_its_key(key: str, value: Any) -> None:
    try:
        config_from_dict({"server": {key: value}}, "f.toml")
    except ConfigError as exc:
        assert str(exc).startswith(f"f.toml: [server].{key}"), str(exc)


def test_an_example_softphone_needs_examples_dir() -> None:
    raw = {"open_cti": {"softphone_url": "/examples/opencti-softphone/index.html"}}
    with pytest.raises(ConfigError, match=r"\[open_cti\]\.softphone_url: .*examples_dir"):
        config_from_dict(raw, "f.toml")
    raw["server"] = {"examples_dir": str(ROOT / "examples")}
    assert config_from_dict(raw, "f.toml").open_cti.softphone_url is not None
