"""Strict JSON: the text-reading checks of ``parse_json_text`` agree with the walk of
``check_json_value`` (the reference), and stay cheap on hostile shapes (issue 13)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ctikit.core.errors import CtiRequestError
from ctikit.core.jsonvalue import MAX_DEPTH, check_json_value, parse_json_text
from ctikit.core.model import check_agent_list

_text = st.text(alphabet=st.sampled_from('ab"\\[]{}:,é😀\ud800\udc00 '), max_size=8)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_scalars = st.none() | st.booleans() | st.integers() | _finite | _text
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=60,
)


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value, "]]"] if i % 2 else {'k"[': value, "z": "{{"}
    return value


def _verdict(f: Any, *args: Any) -> str | None:
    try:
        f(*args)
    except CtiRequestError as exc:
        return exc.message
    return None


def _reference(text: str) -> str | None:
    """What the walk says of text json.loads accepts (ensure_ascii=False keeps surrogates
    raw in the text; True escapes them)."""
    return _verdict(check_json_value, json.loads(text), "x")


@given(_values, st.booleans())
def test_the_text_checks_agree_with_the_walk(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _verdict(parse_json_text, text, "x") == _reference(text)


@given(st.integers(0, MAX_DEPTH + 3), _scalars)
@example(MAX_DEPTH + 1, "\ud800")  # too deep and a lone surrogate below the limit
def test_depth_is_counted_as_the_walk_counts_it(depth: int, leaf: Any) -> None:
    text = json.dumps(_nested(depth, leaf))
    assert _verdict(parse_json_text, text, "x") == _reference(text)
    assert _verdict(parse_json_text, text.encode(), "x") == _reference(text)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[1e999]", "holds inf"),
        ('{"a": -1e999}', "holds -inf"),
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"\\ud800": 1}', "lone surrogate"),
        (b'{"a": "\xed\xa0\x80"}', "lone surrogate"),  # a surrogate encoded in "UTF-8"
        (b"\x80{}", "not valid JSON"),  # not UTF-8 at all
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested too deeply"),
        ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "nested too deeply"),
    ],
)
def test_what_is_not_json_is_refused(text: str | bytes, error: str) -> None:
    with pytest.raises(CtiRequestError, match=error):
        parse_json_text(text, "x")


def test_brackets_and_escapes_inside_strings_are_text() -> None:
    deep_looking = json.dumps({"a": "[" * 100, "b": '\\"{{{{', "c": "\\ud800"})
    assert parse_json_text(deep_looking, "x")["c"] == "\\ud800"
    assert parse_json_text('"\\ud83d\\ude00"', "x") == "😀"  # a pair is one character


def test_hostile_shapes_cost_no_work_per_item() -> None:
    # The walk did Python work for each of the ~21,800 dicts (~15 ms of the event loop);
    # the checks read the text in a few C calls. Counted, not timed: Python-level calls
    # and calls into C while the text is checked, whatever the machine's speed.
    tiny_dicts = "[" + ",".join(["{}"] * 21_800) + "]"
    campaign = json.dumps({"agents": [f"ghost{i}" for i in range(50_000)]})
    with_a_pair = tiny_dicts[:-1] + ',"\\ud83d\\ude00"]'  # an escape is no way around it
    for text in (tiny_dicts, campaign, with_a_pair):
        calls = 0

        def count(frame: Any, event: str, arg: Any) -> None:
            nonlocal calls
            calls += event in ("call", "c_call")

        sys.setprofile(count)
        try:
            parse_json_text(text, "x")
        finally:
            sys.setprofile(None)
        assert calls < 1000, (text[:20], calls)  # the walk: ~109,000 on tiny_dicts


def test_agent_lists_refuse_what_a_fast_path_could_miss() -> None:
    for bad in (["a", "b\nc"], ["a", "x" * 65], ["a", ""], ["a", "é"], ["a", "\uff41"], ["a", 1]):
        with pytest.raises(CtiRequestError, match=r"agents\[1\]"):
            check_agent_list(bad, 10)
    assert check_agent_list(["a", "x" * 64, "a"], 10) == ["a", "x" * 64]
