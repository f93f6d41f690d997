"""Screen-pop templates: parsed once by the server, refused in one line naming the key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.config import ConfigError, config_from_dict
from ctikit.core.screenpops import console_workspace, template_parts


def test_placeholders_become_parts() -> None:
    assert template_parts("https://crm.example.com/s?phone={ANI}&to={DNIS}&c={data.case id}") == [
        {"text": "https://crm.example.com/s?phone="},
        {"field": "ani"},
        {"text": "&to="},
        {"field": "dnis"},
        {"text": "&c="},
        {"data": "case id"},
    ]
    assert template_parts("{CALL_TYPE}{CALL_ID}") == [{"field": "type"}, {"field": "id"}]
    assert template_parts("no placeholders") == [{"text": "no placeholders"}]


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("/x?{ani}", "unknown placeholder {ani}; the placeholders are {ANI}, {DNIS}"),
        ("/x?{data.}", "unknown placeholder {data.}"),
        ("/x?{}", "unknown placeholder {}"),
        ("/x?{ANI", "a { or } outside a {placeholder}"),
        ("/x?ANI}", "a { or } outside a {placeholder}"),
        ("/x?{{ANI}}", "a { or } outside a {placeholder}"),
    ],
)
def test_bad_templates_say_what_is_wrong(template: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("{", r"\{").replace("}", r"\}")):
        template_parts(template)


@given(st.text(max_size=40))
def test_any_template_parses_or_says_why_in_one_line(template: str) -> None:
    try:
        parts = template_parts(template)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        # Joined back, the parts are the template.
        names = {"ani": "ANI", "dnis": "DNIS", "id": "CALL_ID", "type": "CALL_TYPE"}
        text = "".join(
            p["text"]
            if "text" in p
            else f"{{{names[p['field']]}}}"
            if "field" in p
            else f"{{data.{p['data']}}}"
            for p in parts
        )
        assert text == template


def _pops(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"screen_pops": list(rules)}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"call_type": "inbound", "url": "https://crm.example.com/x?a={ani}"},
            "f.toml: [[screen_pops]]#1.url: unknown placeholder {ani}; the placeholders are "
            "{ANI}, {DNIS}, {CALL_ID}, {CALL_TYPE}, {data.KEY}",
        ),
        (
            {"call_type": "inbound", "url": "/x", "title": "From {ANI"},
            "f.toml: [[screen_pops]]#1.title: a { or } outside a {placeholder}; write braces in "
            "a URL as %7B %7D",
        ),
        (
            {"call_type": "inbound", "url": "https://{data.host}/x"},
            "f.toml: [[screen_pops]]#1.url: expected an http(s):// URL or a /path, {placeholders} "
            'only after the host, got "https://{data.host}/x"',
        ),
        (
            {"call_type": "inbound", "url": "{data.url}"},
            "f.toml: [[screen_pops]]#1.url: expected an http(s):// URL or a /path, {placeholders} "
            'only after the host, got "{data.url}"',
        ),
        (
            {"call_type": "inbound", "url": "javascript:alert(1)"},
            "f.toml: [[screen_pops]]#1.url: expected an http(s):// URL or a /path",
        ),
        (
            {"call_type": "inbound", "url": "//evil.example/x"},
            "f.toml: [[screen_pops]]#1.url: expected an http(s):// URL or a /path",
        ),
        (
            {"call_type": "INBOUND", "url": "/x"},
            'f.toml: [[screen_pops]]#1.call_type: expected one of "any", "inbound", "internal", '
            '"outbound", got "INBOUND"',
        ),
        (
            {"call_type": "inbound", "url": "/x", "on": "hangup"},
            'f.toml: [[screen_pops]]#1.on: expected one of "answer", "ring", got "hangup"',
        ),
        (
            {"url": "/x"},
            'f.toml: [[screen_pops]]#1.call_type: missing; expected one of "any", "inbound", '
            '"internal", "outbound"',
        ),
        (
            {"call_type": "any", "url": "/x", "tab": "x"},
            "f.toml: [[screen_pops]]#1.tab: unknown key (known: call_type, url, title, on)",
        ),
    ],
)
def test_a_bad_rule_is_one_line_naming_its_key(rule: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(_pops(rule), "f.toml")
    assert str(info.value).startswith(expected), str(info.value)


def test_workspace_origins_must_be_origins() -> None:
    with pytest.raises(
        ConfigError, match=r"^f.toml: \[workspace\].allowed_origins#1: expected an origin"
    ):
        config_from_dict(
            {"workspace": {"allowed_origins": ["https://kb.example.com/path"]}}, "f.toml"
        )


def test_the_console_gets_parts_and_origins() -> None:
    cfg = config_from_dict(
        {
            "workspace": {"allowed_origins": ["https://kb.example.com"]},
            "screen_pops": [
                {
                    "call_type": "inbound",
                    "url": "https://crm.example.com:8443/c?n={ANI}",
                    "title": "{ANI}",
                },
                {"call_type": "any", "url": "/examples/x?n={DNIS}", "on": "ring"},
            ],
        },
        "f.toml",
    )
    assert console_workspace(cfg.workspace.allowed_origins, cfg.screen_pops) == {
        "allowedOrigins": ["https://crm.example.com:8443", "https://kb.example.com"],
        "screenPops": [
            {
                "callType": "INBOUND",
                "on": "answer",
                "url": [{"text": "https://crm.example.com:8443/c?n="}, {"field": "ani"}],
                "title": [{"field": "ani"}],
            },
            {
                "callType": None,
                "on": "ring",
                "url": [{"text": "/examples/x?n="}, {"field": "dnis"}],
                "title": None,
            },
        ],
    }


@dataclass
class _Rule:
    call_type: str = "outbound"
    url: str = "https://a.example.com/"
    title: str | None = None
    on: str = "answer"


def test_rules_are_taken_as_given() -> None:
    out = console_workspace([], [_Rule()])
    assert out["allowedOrigins"] == ["https://a.example.com"]
    assert out["screenPops"][0]["callType"] == "OUTBOUND"
