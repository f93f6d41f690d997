"""sforce.console.cti through real component iframes in the real console (docs/protocol.md).

Each test opens a fresh agent's console. The console loads ``harness`` (API 66) and
``harness2`` (API 31) from the component server (another origin); the harness page
(components/harness.html) exposes ``window.H`` to call the API and record what comes back.
Calls arrive through the REST API (the simulator) or through ``fireOnCallBegin``.
Helpers: components/harness_lib.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from ctikit.core.versions import api_table

NOT_SUPPORTED = "not supported by ctikit"

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
WAIT_MS, Console, Harness, api = lib.WAIT_MS, lib.Console, lib.Harness, lib.api
open_console, stays, wait_until, console = lib.open_console, lib.stays, lib.wait_until, lib.console


# --------------------------------------------------------------------------- the twelve methods


def test_getCallObjectIds(console: Console) -> None:
    h = console.h1
    empty = h.result(h.call("cti.getCallObjectIds"))
    assert empty["keys"] == ["ids", "success"]
    assert empty["fields"]["success"] == {"type": "boolean", "value": True}
    ids = empty["fields"]["ids"]
    # An empty array whose string form is null: == 'null', JSON.parse -> null, length 0.
    assert ids == {
        "type": "array",
        "items": [],
        "string": "null",
        "eqNullString": True,
        "length": 0,
        "parsed": None,
    }

    first = console.simulate()
    second = console.simulate(ani="+14155550111")
    console.h2.ok("cti.fireOnCallBegin", "fob-3", "inbound", "Third call")
    got = h.result(h.call("cti.getCallObjectIds"))["fields"]["ids"]
    expected = [first, second, "fob-3"]
    assert got["items"] == expected  # arrival order
    assert got["string"] == json.dumps(expected, separators=(",", ":"))
    assert got["parsed"] == expected
    assert got["length"] == 3 and got["eqNullString"] is False
    # The v31 frame sees the same state.
    assert (
        console.h2.result(console.h2.call("cti.getCallObjectIds"))["fields"]["ids"]["items"]
        == expected
    )


def test_getCallAttachedData(console: Console) -> None:
    h = console.h1
    call_id = console.simulate(ani="+14155550123", dnis="8005550100", data={"account": "ACME-42"})
    api(
        console.server,
        "POST",
        f"/api/agents/{console.agent}/calls/{call_id}/data",
        {"ivr": {"menu": "billing", "digits": "12"}},
    )
    expected = {
        "ANI": "+14155550123",
        "DNIS": "8005550100",
        "account": "ACME-42",
        "ivr": {"menu": "billing", "digits": "12"},
    }

    plain = h.result(h.call("cti.getCallAttachedData", call_id))  # the pre-29.0 form
    assert plain["keys"] == ["data", "success"]
    assert plain["fields"]["success"]["value"] is True
    assert plain["fields"]["data"]["type"] == "string"
    assert json.loads(plain["fields"]["data"]["value"]) == expected

    typed = h.result(h.call("cti.getCallAttachedData", call_id, {"getCallType": True}, cb=1))
    assert typed["keys"] == ["data", "success", "type"]
    assert typed["fields"]["type"] == {"type": "string", "value": "INBOUND"}
    assert json.loads(typed["fields"]["data"]["value"]) == expected

    # The documentation's syntax line: (callObjectId, getCallType, callback).
    doc_order = h.plain(h.call("cti.getCallAttachedData", call_id, True))
    assert doc_order["type"] == "INBOUND"

    # v31 honours the option too.
    h2 = console.h2
    assert (
        h2.plain(h2.call("cti.getCallAttachedData", call_id, {"getCallType": True}, cb=1))["type"]
        == "INBOUND"
    )

    # A call that is not active: success false, data null.
    gone = h.result(h.call("cti.getCallAttachedData", "no-such-call", {"getCallType": True}, cb=1))
    assert gone["fields"]["success"]["value"] is False
    assert gone["fields"]["data"] == {"type": "null", "value": None}
    assert gone["fields"]["error"]["type"] == "string" and gone["fields"]["error"]["value"]
    assert "type" not in gone["keys"]


def test_hold_from_the_answer_callback(console: Console) -> None:
    """The reply to a command means it happened: /ANSWER's callback runs once the call is
    connected, so the /HOLD a component sends from it succeeds."""
    call_id = console.simulate()
    got = console.h1.eval(lib.ANSWER_THEN_HOLD)
    assert got == {"answer": {"success": True}, "hold": {"success": True}}, got
    assert [(c["id"], c["lineState"]) for c in console.calls()] == [(call_id, "held")]


def test_onCallBegin(console: Console) -> None:
    h = console.h1
    key = h.listen("cti.onCallBegin")
    rest_call = console.simulate()
    assert h.events(key, 1) == [{"id": rest_call}]
    console.h2.ok("cti.fireOnCallBegin", "fob-1", "outbound", "Outbound to Acme")
    assert h.events(key, 2) == [{"id": rest_call}, {"id": "fob-1"}]
    # Result objects have exactly the id (a string).
    assert h.eval(f"() => H.view(H.events[{json.dumps(key)}][1])")["keys"] == ["id"]


def test_onCallEnd(console: Console) -> None:
    h = console.h1
    key = h.listen("cti.onCallEnd")
    rest_call = console.simulate()
    console.hangup(rest_call)
    [ended] = h.events(key, 1)
    assert sorted(ended) == ["disposition", "duration", "id"]
    assert ended["id"] == rest_call
    assert isinstance(ended["duration"], str) and ended["duration"].isdigit()
    assert isinstance(ended["disposition"], str)

    console.h2.ok("cti.fireOnCallBegin", "fob-2", "inbound", "label")
    console.h2.ok("cti.fireOnCallEnd", "fob-2", 42, "Resolved")
    assert h.events(key, 2)[1] == {"id": "fob-2", "duration": "42", "disposition": "Resolved"}


def test_sendCTIMessage(console: Console) -> None:
    h = console.h1
    heard = console.h2.listen("cti.onSendCTIMessage")
    # A message outside the command grammar reaches the handlers only, with success.
    h.ok("cti.sendCTIMessage", "note: customer is VIP")
    assert console.h2.events(heard, 1) == [{"message": "note: customer is VIP"}]
    # A well-formed command that cannot be carried out: success false with the reason.
    refused = h.plain(h.call("cti.sendCTIMessage", "/ANSWER"))
    assert refused["success"] is False and "ANSWER" in refused["error"]
    # A command that can: answer a ringing simulated call.
    call_id = console.simulate()
    h.ok("cti.sendCTIMessage", f"/ANSWER?CALL_ID={call_id}")
    # The connector carries it out: the line is connected soon after.
    wait_until(
        lambda: [(c["id"], c["lineState"]) for c in console.calls()] == [(call_id, "connected")],
        console.page,
    )


def test_fireOnCallBegin(console: Console) -> None:
    h = console.h1
    here, there = h.listen("cti.onCallBegin"), console.h2.listen("cti.onCallBegin")
    h.ok("cti.fireOnCallBegin", "fob-10", "Outbound", "Acme Corp (+1 415 555 0100)")
    # Every onCallBegin handler of the console hears it, the firing frame included.
    assert h.events(here, 1) == [{"id": "fob-10"}]
    assert console.h2.events(there, 1) == [{"id": "fob-10"}]
    [call] = console.calls()
    assert (call["id"], call["type"], call["label"]) == (
        "fob-10",
        "OUTBOUND",
        "Acme Corp (+1 415 555 0100)",
    )
    # The interaction log lists it by label.
    console.page.wait_for_function(
        "label => [...document.querySelectorAll('[data-testid=log-call-select] option')]"
        ".some(o => o.textContent.includes(label))",
        arg="Acme Corp",
        timeout=WAIT_MS,
    )


def test_fireOnCallEnd(console: Console) -> None:
    h = console.h2  # the v31 frame
    ends = console.h1.listen("cti.onCallEnd")
    h.ok("cti.fireOnCallBegin", "fob-20", "internal", "Internal")
    h.ok("cti.fireOnCallEnd", "fob-20", 65, "Follow-up needed")
    assert console.h1.events(ends, 1) == [
        {"id": "fob-20", "duration": "65", "disposition": "Follow-up needed"}
    ]
    state = console.state()
    assert state["calls"] == []
    [recent] = state["recent"]
    assert recent["id"] == "fob-20" and recent["duration"] == 65
    # Only a call begun earlier can end.
    again = h.plain(h.call("cti.fireOnCallEnd", "fob-20", 1, "x"))
    assert again["success"] is False and "fob-20" in again["error"]


def test_onCallLogSaved(console: Console) -> None:
    h = console.h1
    key = h.listen("cti.onCallLogSaved")
    call_id = console.simulate()
    console.hangup(call_id)
    saved = api(
        console.server,
        "POST",
        f"/api/agents/{console.agent}/call-logs",
        {"callId": call_id, "subject": "Billing", "disposition": "Resolved"},
        status=201,
        auth=console.agent,  # the agent saves its own call log
    )
    log_id = saved["log"]["id"]
    assert h.events(key, 1) == [{"id": str(log_id)}]
    console.h2.ok("cti.fireOnCallLogSaved", "custom-log-1")
    assert h.events(key, 2)[1] == {"id": "custom-log-1"}


def test_fireOnCallLogSaved(console: Console) -> None:
    here, there = console.h1.listen("cti.onCallLogSaved"), console.h2.listen("cti.onCallLogSaved")
    console.h1.ok("cti.fireOnCallLogSaved", "00T000000000042")
    assert console.h1.events(here, 1) == [{"id": "00T000000000042"}]
    assert console.h2.events(there, 1) == [{"id": "00T000000000042"}]


def test_onSendCTIMessage(console: Console) -> None:
    here, there = (
        console.h1.listen("cti.onSendCTIMessage"),
        console.h2.listen("cti.onSendCTIMessage"),
    )
    console.h2.ok("cti.sendCTIMessage", "hello from the v31 frame")
    expected = [{"message": "hello from the v31 frame"}]
    assert console.h1.events(here, 1) == expected
    assert console.h2.events(there, 1) == expected
    view = console.h1.eval(f"() => H.view(H.events[{json.dumps(here)}][0])")
    assert view["keys"] == ["message"] and view["fields"]["message"]["type"] == "string"


def test_setCallAttachedData(console: Console) -> None:
    h = console.h1
    h.ok("cti.fireOnCallBegin", "fob-30", "inbound", "Caller")
    data = {"ANI": "4155551212", "DNIS": "8005551212", "case": {"number": 1001}}
    h.ok("cti.setCallAttachedData", "fob-30", json.dumps(data), "internal")
    [call] = console.calls()
    assert call["data"] == data and call["type"] == "INTERNAL"
    got = console.h2.plain(
        console.h2.call("cti.getCallAttachedData", "fob-30", {"getCallType": True}, cb=1)
    )
    assert json.loads(got["data"]) == data and got["type"] == "INTERNAL"
    # Data set before the call begins is applied when it begins.
    h.ok("cti.setCallAttachedData", "fob-31", json.dumps({"early": True}), "OUTBOUND")
    h.ok("cti.fireOnCallBegin", "fob-31", "outbound", "Later")
    assert json.loads(h.plain(h.call("cti.getCallAttachedData", "fob-31"))["data"]) == {
        "early": True
    }


def test_setCallObjectIds(console: Console) -> None:
    h = console.h1
    h.ok("cti.fireOnCallBegin", "old-1", "inbound", "old")
    h.ok("cti.setCallObjectIds", ["s-1", "s-2", "old-1"])
    ids = h.result(h.call("cti.getCallObjectIds"))["fields"]["ids"]
    assert ids["items"] == ["s-1", "s-2", "old-1"]
    assert console.call_ids() == ["s-1", "s-2", "old-1"]
    # A named call begins in place with fireOnCallBegin.
    begins = console.h2.listen("cti.onCallBegin")
    h.ok("cti.fireOnCallBegin", "s-2", "outbound", "now")
    assert console.h2.events(begins, 1) == [{"id": "s-2"}]
    assert console.call_ids() == ["s-1", "s-2", "old-1"]
    h.ok("cti.setCallObjectIds", [])
    assert h.result(h.call("cti.getCallObjectIds"))["fields"]["ids"]["string"] == "null"


# --------------------------------------------------------------------------- behaviour together


def test_events_fan_out_across_frames(console: Console) -> None:
    """A handler in one frame hears what another frame fires, in event order."""
    begins, ends = console.h1.listen("cti.onCallBegin"), console.h1.listen("cti.onCallEnd")
    h2 = console.h2
    for n in (1, 2, 3):
        h2.call("cti.fireOnCallBegin", f"fan-{n}", "inbound", f"call {n}")
    h2.call("cti.fireOnCallEnd", "fan-2", 5, "done")
    assert console.h1.events(begins, 3) == [{"id": "fan-1"}, {"id": "fan-2"}, {"id": "fan-3"}]
    assert console.h1.events(ends, 1) == [{"id": "fan-2", "duration": "5", "disposition": "done"}]


def test_onCallEnd_bound_to_one_call_fires_once(console: Console) -> None:
    h = console.h1
    bound = h.listen("cti.onCallEnd", "bound-a")
    unbound = h.listen("cti.onCallEnd")
    for cid in ("bound-a", "bound-b"):
        h.ok("cti.fireOnCallBegin", cid, "inbound", cid)
    h.ok("cti.fireOnCallEnd", "bound-b", 1, "")
    assert [e["id"] for e in h.events(unbound, 1)] == ["bound-b"]
    assert h.event_count(bound) == 0
    h.ok("cti.fireOnCallEnd", "bound-a", 2, "")
    assert h.events(bound, 1) == [{"id": "bound-a", "duration": "2", "disposition": ""}]
    # The same call ID again: the binding was removed after it fired.
    h.ok("cti.fireOnCallBegin", "bound-a", "inbound", "again")
    h.ok("cti.fireOnCallEnd", "bound-a", 3, "")
    assert [e["id"] for e in h.events(unbound, 3)] == ["bound-b", "bound-a", "bound-a"]
    assert h.event_count(bound) == 1


def test_same_handler_registered_twice_fires_twice(console: Console) -> None:
    h = console.h1
    key = h.listen("cti.onCallBegin", times=2)
    console.simulate()
    assert len(h.events(key, 2)) == 2
    assert stays(lambda: h.event_count(key) == 2, console.page)


def test_handlers_per_event_are_capped_at_100(console: Console) -> None:
    h = console.h1
    key = h.listen("cti.onCallBegin", times=101)  # the 101st is refused, and logged
    console.simulate()
    assert len(h.events(key, 100)) == 100
    assert stays(lambda: h.event_count(key) == 100, console.page)
    assert console.page.page_errors == []


def test_throwing_handler_does_not_stop_the_others(console: Console) -> None:
    h = console.h1
    h.eval("() => H.listenThrowing('cti.onCallBegin')")
    after = h.listen("cti.onCallBegin")
    console.simulate()
    assert len(h.events(after, 1)) == 1
    # A callback that throws is contained too.
    h.eval("() => sforce.console.cti.getCallObjectIds(() => { throw new Error('on purpose'); })")
    h.ok("cti.sendCTIMessage", "still working")
    assert console.page.page_errors == []


def test_callbacks_fire_exactly_once(console: Console) -> None:
    h = console.h1
    keys = [h.call("cti.getCallObjectIds") for _ in range(5)]
    keys.append(h.call("cti.fireOnCallBegin", "once-1", "inbound", "x"))
    keys.append(h.call("cti.getCallAttachedData", "nope"))
    for key in keys:
        h.result(key)
    assert stays(lambda: all(h.count(k) == 1 for k in keys), console.page)


def test_component_loaded_after_the_call_began(page: Any, ctikit_server: Any, agent: str) -> None:
    out = api(
        ctikit_server,
        "POST",
        f"/api/agents/{agent}/simulate-call",
        {"ani": "+14155550100", "data": {"account": "early"}},
    )
    console = open_console(page, ctikit_server, agent)
    assert console.h1.eval("() => H.handshake.ids.slice()") == [out["callId"]]
    data = console.h2.plain(console.h2.call("cti.getCallAttachedData", out["callId"]))
    assert json.loads(data["data"])["account"] == "early"


# --------------------------------------------------------------------------- bad arguments

# (method, JavaScript arguments before the callback, where the callback goes)
BAD_CALLS = [
    ("cti.getCallAttachedData", "[]", 0),  # missing callObjectId
    ("cti.getCallAttachedData", "[{}]", 1),
    ("cti.getCallAttachedData", "['']", 1),
    ("cti.getCallAttachedData", "['x', 'getCallType']", 1),  # options not an object
    ("cti.sendCTIMessage", "[]", 0),
    ("cti.sendCTIMessage", "[{cmd: '/ANSWER'}]", 1),
    ("cti.sendCTIMessage", "['x'.repeat(5000)]", 1),  # over the 4096-character limit (server)
    ("cti.fireOnCallBegin", "['bad-1', 'sideways', 'label']", 3),  # unknown call type
    ("cti.fireOnCallBegin", "['bad-1', 42, 'label']", 3),
    ("cti.fireOnCallBegin", "[null, 'inbound', 'label']", 3),
    ("cti.fireOnCallBegin", "['bad-1', 'inbound', {text: 'label'}]", 3),
    ("cti.fireOnCallBegin", "['x'.repeat(300), 'inbound', 'label']", 3),  # server: too long
    ("cti.fireOnCallEnd", "['bad-1', 10, 'done']", 3),  # no such call (server)
    ("cti.fireOnCallEnd", "['bad-1', 'ten', 'done']", 3),
    ("cti.fireOnCallEnd", "['bad-1', -5, 'done']", 3),
    ("cti.fireOnCallEnd", "['bad-1']", 1),
    ("cti.fireOnCallLogSaved", "[]", 0),
    ("cti.fireOnCallLogSaved", "[{id: 1}]", 1),
    ("cti.setCallAttachedData", "['bad-1', {ANI: '1'}, 'inbound']", 3),  # not a string
    ("cti.setCallAttachedData", "['bad-1', '{ANI: 1}', 'inbound']", 3),  # not JSON
    ("cti.setCallAttachedData", "['bad-1', '{}', 'sideways']", 3),
    ("cti.setCallAttachedData", "['bad-1', '{}']", 2),  # missing call type
    (
        "cti.setCallAttachedData",
        "['bad-1', JSON.stringify({big: 'x'.repeat(70000)}), 'inbound']",
        3,
    ),  # oversized (server)
    ("cti.setCallObjectIds", "['a,b']", 1),  # not an array
    ("cti.setCallObjectIds", "[[1, {}]]", 1),
    ("cti.setCallObjectIds", "[['a', 'a']]", 1),
    ("fireEvent", "[]", 0),
    ("fireEvent", "[{}, 'message']", 2),
    ("fireEvent", "['Sample', {not: 'a string'}]", 2),
]


@pytest.mark.parametrize("method", sorted({m for m, _, _ in BAD_CALLS}))
def test_bad_arguments(console: Console, method: str) -> None:
    """Each bad call: {success: false, error}, no throw, no state change (same seq: no event)."""
    h = console.h1
    h.ok("cti.fireOnCallBegin", "keep-1", "inbound", "keep")
    before = console.state()
    for name, args_js, cb in BAD_CALLS:
        if name != method:
            continue
        result = h.result(h.call_js(method, args_js, cb=cb))
        assert result["fields"]["success"] == {"type": "boolean", "value": False}, args_js
        error = result["fields"]["error"]
        assert error["type"] == "string" and len(error["value"]) > 5, args_js
        assert console.state() == before, args_js
    assert console.page.page_errors == []


def test_bad_handlers_and_callbacks_do_not_throw(console: Console) -> None:
    h = console.h1
    threw = h.eval("""() => {
        const c = sforce.console, cti = c.cti, errors = [];
        const attempts = [
            () => cti.onCallBegin(), () => cti.onCallBegin('not a function'),
            () => cti.onCallEnd(null, 'x'), () => cti.onCallEnd(() => {}, {}),
            () => cti.onCallLogSaved(42), () => cti.onSendCTIMessage({}),
            () => cti.getCallObjectIds('not a function'), () => cti.getCallObjectIds(),
            () => cti.getCallAttachedData('x'), () => cti.fireOnCallBegin(),
            () => cti.setCallObjectIds(), () => cti.fireOnCallEnd(),
            () => c.addEventListener(), () => c.addEventListener('x', 'y'),
            () => c.removeEventListener('never', () => {}), () => c.fireEvent(),
        ];
        attempts.forEach((f, i) => { try { f(); } catch (e) { errors.push(i + ': ' + e); } });
        return errors;
    }""")
    assert threw == []
    # A fireOnCallBegin without a callback still works (callbacks are optional).
    h.eval("() => sforce.console.cti.fireOnCallBegin('no-cb', 'inbound', 'x')")
    wait_until(lambda: "no-cb" in console.call_ids(), console.page)
    assert console.page.page_errors == []


# --------------------------------------------------------------------------- outside a console


def _outside_calls() -> list[tuple[str, str, int]]:
    return [
        ("cti.getCallObjectIds", "[]", 0),
        ("cti.getCallAttachedData", "['c1']", 1),
        ("cti.getCallAttachedData", "['c1', {getCallType: true}]", 1),
        ("cti.sendCTIMessage", "['/ANSWER']", 1),
        ("cti.fireOnCallBegin", "['c1', 'inbound', 'x']", 3),
        ("cti.fireOnCallEnd", "['c1', 1, 'x']", 3),
        ("cti.fireOnCallLogSaved", "['l1']", 1),
        ("cti.setCallAttachedData", "['c1', '{}', 'inbound']", 3),
        ("cti.setCallObjectIds", "[['c1']]", 1),
        ("fireEvent", "['Sample', 'm']", 2),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "?v=66",
        "?v=66&ctiConsoleOrigin=http%3A%2F%2F127.0.0.1%3A1&nonce=0123456789abcdef0123456789abcdef",
    ],
)
def test_outside_a_console(page: Any, ctikit_server: Any, query: str) -> None:
    """Opened directly (not in a frame): isInConsole() false, every method says so."""
    page.goto(f"{ctikit_server.component_url}/components/harness.html{query}")
    h = Harness(page.main_frame)
    h.wait_loaded()
    assert h.eval("() => sforce.console.isInConsole()") is False
    for method, args_js, cb in _outside_calls():
        result = h.plain(h.call_js(method, args_js, cb=cb))
        assert result["success"] is False and result["error"] == "not in console", method
    ids = h.result(h.call("cti.getCallObjectIds"))["fields"]["ids"]
    assert ids["string"] == "null" and ids["length"] == 0
    # Callbacks come asynchronously, never during the call.
    sync = h.eval("""() => { let called = false;
        sforce.console.cti.getCallObjectIds(() => { called = true; }); return called; }""")
    assert sync is False
    # Handlers are accepted and never fire; nothing throws.
    h.listen("cti.onCallBegin")
    in_component = h.plain(h.call("isInCustomConsoleComponent"))
    assert in_component == {"success": True, "inCustomConsoleComponent": False}
    assert page.page_errors == []


def test_in_console_flags(console: Console) -> None:
    for h in (console.h1, console.h2):
        assert h.eval("() => sforce.console.isInConsole()") is True
        assert h.plain(h.call("isInCustomConsoleComponent")) == {
            "success": True,
            "inCustomConsoleComponent": True,
        }


# ------------------------------------------------------------------ the rest of sforce.console


def _not_supported(fields: dict[str, Any]) -> dict[str, Any]:
    empty = {"ids": [], "list": [], "reason": NOT_SUPPORTED, None: None}
    return {"success": False, "error": NOT_SUPPORTED} | {k: empty[v] for k, v in fields.items()}


@pytest.mark.parametrize("version", [66, 31])
def test_unsupported_members_answer_not_supported(console: Console, version: int) -> None:
    """Every member the table marks unsupported, in every namespace, called as real code does."""
    h = console.h1 if version == 66 else console.h2
    table: Any = api_table(version)
    members = [
        (ns, name, kind, fields)
        for ns, spec in table["namespaces"].items()
        for name, (kind, fields) in spec["unsupported"].items()
    ]
    # Each member with its callback last, after 0 to 3 other arguments; all at once.
    results = h.eval(
        """async members => {
        const calls = [];
        for (const [ns, name, kind] of members) {
            const owner = ns === 'console' ? sforce.console : sforce.console[ns];
            for (const args of [[], ['arg1'], ['arg1', 'arg2', true]]) {
                calls.push(new Promise(resolve => {
                    const got = [];
                    const returned = owner[name](...args, r => got.push(r));
                    setTimeout(() => resolve([name, kind, got, returned === undefined]), 50);
                }));
            }
        }
        return Promise.all(calls);
    }""",
        [m[:3] for m in members],
    )
    assert len(results) == 3 * len(members)
    expected = {name: (kind, _not_supported(fields)) for _, name, kind, fields in members}
    for name, kind, got, returned_undefined in results:
        assert returned_undefined, name
        if kind == "call":
            assert got == [expected[name][1]], name
        else:  # event registrations never fire; members without a callback never call one
            assert got == [], name
    # Calls without any argument are fine too.
    errors = h.eval(
        """members => { const errs = [];
        members.forEach(([ns, n]) => {
            const owner = ns === 'console' ? sforce.console : sforce.console[ns];
            try { owner[n](); } catch (e) { errs.push(n + ': ' + e); }
        });
        return errs; }""",
        [m[:2] for m in members],
    )
    assert errors == []
    assert console.page.page_errors == []


def test_custom_events_between_frames(console: Console) -> None:
    h1, h2 = console.h1, console.h2
    key = h1.listen("addEventListener", before=("SampleEvent",))
    other = h2.eval("""() => { window.got = []; sforce.console.addEventListener('Other',
        r => window.got.push(r)); return true; }""")
    assert other is True
    fired = h2.plain(h2.call("fireEvent", "SampleEvent", "hello from the second frame"))
    assert fired == {"success": True}
    assert h1.events(key, 1) == [{"message": "hello from the second frame"}]
    # Listeners of other types do not hear it.
    assert h2.eval("() => window.got.length") == 0
    # The firing frame's own listeners hear what it fires.
    h1.ok("fireEvent", "SampleEvent", "to myself")
    assert h1.events(key, 2)[1] == {"message": "to myself"}
    h1.ok("fireEvent", "Other", "to the second frame")
    h2.frame.wait_for_function("() => window.got.length === 1", timeout=WAIT_MS)
    assert h2.eval("() => window.got") == [{"message": "to the second frame"}]
    # removeEventListener: no more deliveries.
    h1.eval(
        f"() => sforce.console.removeEventListener('SampleEvent', H.handlers[{json.dumps(key)}])"
    )
    h2.ok("fireEvent", "SampleEvent", "not heard")
    h1.ok("fireEvent", "Other", "barrier")
    h2.frame.wait_for_function("() => window.got.length === 2", timeout=WAIT_MS)
    assert stays(lambda: h1.event_count(key) == 2, console.page, 0.3)


def test_a_campaign_from_the_back_office_reaches_every_frame(console: Console) -> None:
    """POST /api/events (a dialer's campaign start) -> addEventListener in both components,
    once each, in a real console."""
    k1 = console.h1.listen("addEventListener", before=("campaign",))
    k2 = console.h2.listen("addEventListener", before=("campaign",))
    body = {"agents": [console.agent, "someone-else"], "type": "campaign", "message": "Q4 go"}
    # "someone-else" has no console and no calls: not reached (docs/protocol.md).
    assert api(console.server, "POST", "/api/events", body) == {"success": True, "agents": 1}
    assert console.h1.events(k1, 1) == [{"message": "Q4 go"}]
    assert console.h2.events(k2, 1) == [{"message": "Q4 go"}]
    console.h1.ok("fireEvent", "campaign", "barrier")  # after it, nothing more than this
    assert console.h2.events(k2, 2)[1] == {"message": "barrier"}
    assert stays(lambda: console.h1.event_count(k1) == 2, console.page, 0.3)
    assert console.page.page_errors == []


def test_console_event_enum(console: Console) -> None:
    enum = console.h1.eval("() => sforce.console.ConsoleEvent")
    assert {"OPEN_TAB", "CLOSE_TAB", "CONSOLE_LOGOUT"} <= set(enum)
    assert console.h1.eval("() => Object.isFrozen(sforce.console.ConsoleEvent)") is True
    # CONSOLE_LOGOUT arrived in 31.0, the PRESENCE events in 32.0.
    assert "PRESENCE" not in console.h2.eval("() => sforce.console.ConsoleEvent")
    assert "CONSOLE_LOGOUT" in console.h2.eval("() => sforce.console.ConsoleEvent")
