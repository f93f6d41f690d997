"""Hypothesis strategies for the console protocol (docs/protocol.md) and the CTI grammar.

- :func:`cti_messages`: commands of the grammar in ``ctikit.core.commands`` (valid ones, with
  bad parameters, mutated character by character), free text, length edges.
- :func:`requests`: a request object for every op, each field valid, of a wrong type, at a
  size or character edge, or missing; extra fields; valid and invalid ids.
- :func:`garbage_frames`: text that is not a request: not JSON, arrays, scalars, deep nesting,
  truncated requests, number literals Python cannot produce.
- :func:`frames`: all of the above as the text of one WebSocket frame.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from ctikit.core.commands import CALL_ID_RE, DIGITS_RE, NUMBER_RE, Action

OPS = (
    "getCallObjectIds",
    "getCallAttachedData",
    "setCallObjectIds",
    "setCallAttachedData",
    "fireOnCallBegin",
    "fireOnCallEnd",
    "fireOnCallLogSaved",
    "sendCTIMessage",
    "fireEvent",
    "saveCallLog",
    "simulateCall",
    "getState",
    "ping",
)
READ_ONLY_OPS = frozenset({"getCallObjectIds", "getCallAttachedData", "getState", "ping"})
#: A few call IDs shared by every generated request, so that ops meet the same calls.
CALL_POOL = ("c1", "c2", "c3", "Call.1", "500Dn00000AbCdE")
CALL_TYPES = ("inbound", "OUTBOUND", "Internal", " inbound ", "INTERNAL")
MAX_FRAME_BYTES = 256 * 1024

# ------------------------------------------------------------------ values

NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "\t",
    "\r\n",
    "\x1f",
    "\x7f",
    "\u0085",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "\U0001f600",
    "e\u0301",
    "ǅ",
    "İ",
    "ß",
    "null",
    "None",
    "NaN",
    "-NaN",
    "Infinity",
    "-0",
    "1e308",
    "1e400",
    "0x10",
    "true",
    "{}",
    "[]",
    '{"a":1}',
    '"',
    "\\",
    "%",
    "%FF",
    "%00",
    "%%",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "__proto__",
    "constructor",
    "/ANSWER",
    "/DIAL?NUMBER=1003",
)
EDGE_NUMBERS: tuple[Any, ...] = (
    0,
    -0.0,
    1,
    -1,
    0.5,
    1e-320,
    1e308,
    -1e308,
    2**31,
    2**53 - 1,
    2**53,
    -(2**53),
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    10**9,
    10**9 - 0.001,
    999_999_999.999,
)
SIZES = (1, 63, 64, 65, 254, 255, 256, 4095, 4096, 4097, 32768, 32769, 65535, 65536, 65537)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(NASTY_STRINGS),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=16,
)


def _nest(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "[" else {"k": value}
    return value


#: Nesting as deep as Python's json can still encode (the frames add their own levels).
nested = st.builds(_nest, st.integers(5, 200), st.sampled_from("[{"))
big_strings = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(("x", "é", "\U0001f600", "\x01", "%", " ", "\\", '"')),
    st.sampled_from(SIZES),
)
junk = st.one_of(
    json_scalars,
    json_values,
    big_strings,
    nested,
    st.lists(st.sampled_from(CALL_POOL), max_size=3),
    st.dictionaries(st.sampled_from(("callId", "id", "op", "data")), json_scalars, max_size=3),
)

phone_numbers = st.from_regex(NUMBER_RE, fullmatch=True)
dtmf_digits = st.from_regex(DIGITS_RE, fullmatch=True)
call_ids = st.sampled_from(CALL_POOL) | st.from_regex(CALL_ID_RE, fullmatch=True).filter(
    lambda s: len(s) <= 40
)
short_text = st.text(max_size=40)
#: The data of setCallAttachedData is JSON text, which the server parses with Python's json:
#: besides JSON, the tokens it takes though JSON has none (NaN, Infinity, numbers that
#: overflow to inf) and escapes of lone surrogates, which no UTF-8 text can hold.
json_strings = st.one_of(
    json_values.map(lambda v: json.dumps(v, allow_nan=False)),
    json_values.map(lambda v: json.dumps(v, allow_nan=False)),
    json_values.map(lambda v: json.dumps(v, allow_nan=False)),
    st.sampled_from(("NaN", "Infinity", "-Infinity", '{"a":NaN}', "[1e999]", '{"x":-1e400}')),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2).map(
        lambda t: json.dumps({"k": t})
    ),
    st.text(max_size=30),
)

# -------------------------------------------------------------- CTI grammar

PARAM_KEYS = ("NUMBER", "DIGITS", "LINE_NUMBER", "CALL_ID")


@st.composite
def _name(draw: st.DrawFn) -> str:
    name = draw(
        st.sampled_from([a.value for a in Action])
        | st.sampled_from(("FOO", "ANSWERX", "HANG_UP", "_", "DIAL2", "ÄNSWER"))
    )
    case = draw(st.sampled_from(("upper", "lower", "title", "mixed")))
    if case == "lower":
        return name.lower()
    if case == "title":
        return name.title()
    if case == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        return "".join(c.lower() if f else c for c, f in zip(name, flips, strict=True))
    return name


_line_numbers = st.one_of(
    st.integers(1, 5).map(str),
    st.integers(-5, 150).map(str),
    st.sampled_from(("", "01", "0", "99", "100", "1.0", "1e1", " 1", "\u0661", "²", "+1", "0x1")),
)
_percent = st.sampled_from(
    # Escapes that are not escapes, control characters, separators, and bytes that are not
    # UTF-8 (a lone continuation byte, a cut sequence, an overlong form, a surrogate).
    (
        *("%", "%2", "%G1", "%zz", "%00", "%0A", "%25", "%2B", "%26", "%3D"),
        *("%FF", "%80", "%C3%28", "%E2%82", "%C0%AF", "%ED%A0%80"),
    )
)


def _param_value(key: str) -> st.SearchStrategy[str]:
    valid: st.SearchStrategy[str] = {
        "NUMBER": phone_numbers
        | st.sampled_from(("1003", "1001", "1002", "agent3", "+14155550100")),
        "DIGITS": dtmf_digits,
        "LINE_NUMBER": _line_numbers,
        "CALL_ID": call_ids,
    }.get(key, short_text)
    quoted = valid.map(lambda v: quote(v, safe=""))
    return st.one_of(
        valid,
        valid,
        quoted,
        short_text,
        st.tuples(valid, _percent, valid).map("".join),
        st.sampled_from(NASTY_STRINGS),
    )


@st.composite
def _param(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(PARAM_KEYS) | st.sampled_from(("", "X", "number", " CALL_ID ")))
    shown = draw(st.sampled_from((key, key.lower(), key.title())))
    form = draw(st.sampled_from(("kv", "kv", "kv", "k", "k=", "=v", "kvv")))
    value = draw(_param_value(key.strip().upper()))
    return {
        "kv": f"{shown}={value}",
        "k": shown,
        "k=": f"{shown}=",
        "=v": f"={value}",
        "kvv": f"{shown}={value}={value}",
    }[form]


@st.composite
def cti_commands(draw: st.DrawFn) -> str:
    """A message in the command form: ``/NAME[?K=V&...]``, well-formed or not."""
    params = draw(st.lists(_param(), max_size=4))
    message = "/" + draw(_name())
    if params or draw(st.booleans()):
        sep = draw(st.sampled_from(("&", "&", "&&", ";")))
        message += "?" + sep.join(params)
    pad = draw(st.sampled_from(("", "", " ", "\n", "\t", "\x00")))
    return pad + message + draw(st.sampled_from(("", "", " ", "\r\n", "&")))


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """``base`` with a few characters inserted, deleted or replaced."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(("insert", "delete", "replace")))
        ch = draw(st.sampled_from("/?&=%+#*._-0123456789ABCDZ ") | st.characters())
        if kind == "insert":
            text = text[:pos] + ch + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + 1 :]
        else:
            text = text[:pos] + ch + text[pos + 1 :]
    return text


def cti_messages() -> st.SearchStrategy[str]:
    return st.one_of(
        cti_commands(),
        cti_commands(),
        mutated(cti_commands()),
        short_text,
        st.sampled_from(NASTY_STRINGS),
        st.builds(
            lambda c, n: "/" + c * n, st.sampled_from(("A", "x", "?")), st.sampled_from(SIZES)
        ),
        st.builds(lambda n: "/DIAL?NUMBER=1&" + "x" * n, st.sampled_from((4080, 4081, 4082, 5000))),
    )


# ------------------------------------------------------------------ requests

#: Field -> strategy of valid values, for each op of the protocol table.
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "getCallObjectIds": {},
    "getCallAttachedData": {"callId": call_ids, "getCallType": st.booleans()},
    "setCallObjectIds": {"ids": st.lists(call_ids, max_size=5)},
    "setCallAttachedData": {
        "callId": call_ids,
        "data": json_strings,
        "callType": st.sampled_from(CALL_TYPES),
    },
    "fireOnCallBegin": {
        "callId": call_ids,
        "callType": st.sampled_from(CALL_TYPES),
        "label": short_text,
    },
    "fireOnCallEnd": {
        "callId": call_ids,
        "duration": st.integers(0, 10**6) | st.floats(0, 1e6),
        "disposition": short_text,
    },
    "fireOnCallLogSaved": {"logId": call_ids},
    "sendCTIMessage": {"message": cti_messages()},
    "fireEvent": {"eventType": short_text.filter(bool), "message": short_text},
    "saveCallLog": {
        "callId": call_ids,
        "subject": short_text,
        "comments": st.text(max_size=200),
        "disposition": short_text,
    },
    "simulateCall": {
        "ani": phone_numbers,
        "dnis": phone_numbers,
        "data": st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    },
    "getState": {},
    "ping": {},
}

valid_ids = st.integers(-(2**53) + 1, 2**53 - 1) | st.text(min_size=1, max_size=64)
invalid_ids = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from((2**53, -(2**53), 2**64, "", "x" * 65)),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_MISSING = object()


@st.composite
def requests(draw: st.DrawFn, ops: tuple[str, ...] = OPS) -> dict[str, Any]:
    """A request object: mostly well-typed, every field at times wrong or missing."""
    op: Any = draw(
        st.sampled_from(ops)
        | st.sampled_from(ops).map(str.lower)
        | st.sampled_from(("", "__proto__", "constructor", "getstate", "PING ", "dropTables"))
        | junk
    )
    frame: dict[str, Any] = {}
    rid = draw(st.one_of(valid_ids, valid_ids, valid_ids, invalid_ids, st.just(_MISSING)))
    if rid is not _MISSING:
        frame["id"] = rid
    if not draw(st.integers(0, 30)) == 0:  # once in a while no op at all
        frame["op"] = op
    for name, valid in FIELDS.get(op, {}).items() if isinstance(op, str) else ():
        choice = draw(st.sampled_from(("valid", "valid", "valid", "junk", "missing")))
        if choice == "valid":
            frame[name] = draw(valid)
        elif choice == "junk":
            frame[name] = draw(junk)
    extra = draw(st.dictionaries(st.text(max_size=12), junk, max_size=2))
    for key, value in extra.items():
        frame.setdefault(key, value)
    return frame


def encode(frame: Any, ascii_only: bool = False) -> str:
    text = json.dumps(frame, ensure_ascii=ascii_only, allow_nan=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate travels only as an escape
        text = json.dumps(frame, ensure_ascii=True, allow_nan=False)
    return text


@st.composite
def request_frames(draw: st.DrawFn, ops: tuple[str, ...] = OPS) -> str:
    return encode(draw(requests(ops)), draw(st.booleans()))


def _deep_text(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


garbage_frames = st.one_of(
    st.text(max_size=200),
    st.sampled_from(NASTY_STRINGS),
    json_values.map(encode),
    st.lists(json_values, max_size=5).map(encode),
    # Nesting deeper than any real request, up to what the frame limit allows.
    st.builds(
        lambda d, o, wrap: wrap.replace("@", _deep_text(d, o)),
        st.integers(1, 3000),
        st.sampled_from(("[", '{"a":')),
        st.sampled_from(("@", '{"id":1,"op":"ping","x":@}', '{"id":2,"op":"@"}')),
    ),
    # Number literals Python never writes.
    st.sampled_from(
        ("1e400", "-1e400", "1e-400", "-0", "0.0e0", "1E+308", "00", "01", ".5", "5.")
    ).map(lambda n: f'{{"id":{n},"op":"ping"}}')
    | st.sampled_from(("NaN", "Infinity", "-Infinity", "1e999", "123456789" * 40)).map(
        lambda n: f'{{"id":1,"op":"fireOnCallEnd","callId":"c1","duration":{n}}}'
    ),
    # Requests cut short, doubled, with duplicate keys, with a BOM or trailing junk.
    st.builds(lambda t, n: t[: max(0, len(t) - n)], request_frames(), st.integers(1, 20)),
    request_frames().map(lambda t: t + t),
    request_frames().map(lambda t: "\ufeff" + t),
    request_frames().map(lambda t: t + " x"),
    st.just('{"id":1,"op":"ping","id":2}'),
    st.just('{"id":1,"op":"ping","op":"dropTables"}'),
    st.just('{"id":1,"op":"getState","op":"ping"}'),
)


def frames() -> st.SearchStrategy[str]:
    """One WebSocket text frame: mostly requests, some CTI messages, some garbage."""
    cti = st.builds(
        lambda rid, m: encode({"id": rid, "op": "sendCTIMessage", "message": m}),
        valid_ids,
        cti_messages(),
    )
    return st.one_of(request_frames(), request_frames(), cti, garbage_frames).filter(
        lambda t: len(t.encode()) < MAX_FRAME_BYTES - 64
    )
