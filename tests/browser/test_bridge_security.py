"""Who may talk to whom over postMessage (docs/protocol.md §2), and robustness.

The console (bridge.js) must answer only its registered component iframes, at their origin,
with the nonce it issued; integration.js must accept only its parent window at
ctiConsoleOrigin. Neither may crash on malformed messages. Helpers: components/harness_lib.py;
components/rogue.html is a frame the console never registered, components/fake-console.html a
scripted console for testing integration.js alone.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
WAIT_MS, Console, Harness, find_frame = lib.WAIT_MS, lib.Console, lib.Harness, lib.find_frame
stays, wait_until, console = lib.stays, lib.wait_until, lib.console

FAKE_NONCE = "0123456789abcdef0123456789abcdef"


def rogue_requests() -> list[dict[str, Any]]:
    return [
        {
            "ctikit": 1,
            "kind": "request",
            "id": 1,
            "op": "fireOnCallBegin",
            "callId": "rogue-1",
            "callType": "inbound",
            "label": "rogue",
        },
        {"ctikit": 1, "kind": "request", "id": 2, "op": "setCallObjectIds", "ids": ["rogue-2"]},
        {
            "ctikit": 1,
            "kind": "request",
            "id": 3,
            "op": "fireEvent",
            "eventType": "Sample",
            "message": "rogue",
        },
        {"ctikit": 1, "kind": "request", "id": 4, "op": "simulateCall"},
        {"ctikit": 1, "kind": "request", "id": 5, "op": "getCallObjectIds"},
    ]


def add_frame(page: Any, url: str) -> Any:
    """An iframe in the console page that the bridge never registered."""
    page.evaluate(
        """url => { const f = document.createElement('iframe');
        f.src = url; f.setAttribute('data-testid', 'rogue'); document.body.appendChild(f); }""",
        url,
    )
    frame = find_frame(page, lambda u: u == url)
    frame.wait_for_function("() => window.R !== undefined", timeout=WAIT_MS)
    return frame


def assert_nothing_happened(console: Console, before: dict[str, Any], watchers: list[Any]) -> None:
    """After a round trip through the bridge, the server state and the handlers are as before."""
    h1 = console.h1
    assert h1.plain(h1.call("cti.getCallObjectIds"))["success"] is True  # the bridge is alive
    for check in watchers:
        assert stays(check, console.page), check
    assert console.state() == before
    assert console.page.page_errors == []


def watch_handlers(console: Console) -> list[Any]:
    begins = console.h1.listen("cti.onCallBegin")
    custom = console.h1.listen("addEventListener", before=("Sample",))
    return [
        lambda: console.h1.event_count(begins) == 0,
        lambda: console.h1.event_count(custom) == 0,
    ]


# --------------------------------------------------------------------------- the bridge


def test_component_urls_carry_origin_and_nonce(console: Console) -> None:
    urls = [console.h1.frame.url, console.h2.frame.url]
    nonces = []
    for url, own in zip(urls, ["v=66", "v=31&name=second"], strict=True):
        query = urlsplit(url).query
        assert query.startswith(own + "&")  # the component's own query is kept, first
        params = dict(parse_qsl(query))
        assert params["ctiConsoleOrigin"] == console.server.url
        assert re.fullmatch(r"[0-9a-f]{32}", params["nonce"])
        nonces.append(params["nonce"])
    assert nonces[0] != nonces[1]


def test_bridge_keeps_query_and_hash(console: Console) -> None:
    """addComponent keeps the URL's own query byte for byte and its hash, drops look-alikes."""
    src = console.page.evaluate("""() => {
        const f = document.createElement('iframe');
        CtikitConsole.bridge.addComponent(f,
            'http://localhost:1/x.html?a=b%20c&nonce=evil&ctiConsoleOrigin=http%3A%2F%2Fevil#frag');
        const out = f.src; CtikitConsole.bridge.removeComponent(f); return out;
    }""")
    head, _, fragment = src.partition("#")
    assert fragment == "frag"
    query = urlsplit(head).query
    assert query.startswith("a=b%20c&ctiConsoleOrigin=")
    params = parse_qsl(query)
    assert [k for k, _ in params].count("nonce") == 1
    assert dict(params)["ctiConsoleOrigin"] == console.server.url
    refused = console.page.evaluate("""() => {
        const f = document.createElement('iframe');
        return [CtikitConsole.bridge.addComponent(f, 'javascript:alert(1)'), f.src];
    }""")
    assert refused == [False, ""]


@pytest.mark.parametrize("where", ["component-origin", "other-origin"])
def test_unregistered_frame_gets_nothing(console: Console, where: str) -> None:
    """A frame the console did not load: a guessed or stolen nonce gets no ready, no answers."""
    comp = console.server.component_url
    if where == "other-origin":
        comp = comp.replace("localhost", "127.0.0.1")
    before = console.state()
    watchers = watch_handlers(console)
    rogue = add_frame(console.page, f"{comp}/components/rogue.html?x={where}")
    # Same origin as the components, it can read a component's nonce: still not its window.
    stolen = rogue.evaluate("""() => { for (let i = 0; i < parent.frames.length; i++) {
        const n = R.nonceOf(i); if (n) return n; } return null; }""")
    assert (stolen is not None) == (where == "component-origin")
    for nonce in [FAKE_NONCE, stolen]:
        rogue.evaluate("m => R.send(m)", {"ctikit": 1, "kind": "hello", "nonce": nonce})
    for msg in rogue_requests():
        rogue.evaluate("m => R.send(m)", msg)
    assert_nothing_happened(
        console, before, [*watchers, lambda: rogue.evaluate("() => R.received.length") == 0]
    )


def test_nested_frame_inside_a_component_gets_nothing(console: Console) -> None:
    """A frame inside a component knows its nonce; its messages still come from the wrong window."""
    before = console.state()
    watchers = watch_handlers(console)
    h1 = console.h1
    h1.eval("""() => { const f = document.createElement('iframe');
        f.src = 'rogue.html?nested=1'; document.body.appendChild(f); }""")
    nested = find_frame(console.page, lambda u: "rogue.html?nested=1" in u)
    nested.wait_for_function("() => window.R !== undefined", timeout=WAIT_MS)
    nonce = nested.evaluate("() => R.parentNonce()")
    assert re.fullmatch(r"[0-9a-f]{32}", nonce)
    nested.evaluate("m => R.send(m, 'top')", {"ctikit": 1, "kind": "hello", "nonce": nonce})
    for msg in rogue_requests():
        nested.evaluate("m => R.send(m, 'top')", msg)
    # And towards the component: fake console messages from a window that is not its parent.
    for msg in [
        {"ctikit": 1, "kind": "ready", "nonce": nonce},
        {
            "ctikit": 1,
            "kind": "event",
            "seq": 99,
            "at": 1,
            "event": "callBegin",
            "data": {"id": "fake-1"},
        },
        {
            "ctikit": 1,
            "kind": "event",
            "seq": 100,
            "at": 1,
            "event": "customEvent",
            "data": {"type": "Sample", "message": "fake"},
        },
    ]:
        nested.evaluate("m => R.send(m, 'parent')", msg)
    assert_nothing_happened(
        console, before, [*watchers, lambda: nested.evaluate("() => R.received.length") == 0]
    )


@pytest.mark.parametrize("change", ["wrong-nonce", "other-origin"])
def test_registered_iframe_with_wrong_nonce_or_origin(console: Console, change: str) -> None:
    """The console's own iframe, navigated to a page with another nonce or at another origin."""
    before = console.state()
    begins = console.h2.listen("cti.onCallBegin")
    url = console.h1.frame.url
    if change == "wrong-nonce":
        url = re.sub(r"nonce=[0-9a-f]+", f"nonce={FAKE_NONCE}", url)
    else:
        url = url.replace("localhost", "127.0.0.1")  # right nonce, wrong origin
    console.h1.frame.evaluate("url => { location.href = url; }", url)
    h = Harness(find_frame(console.page, lambda u: u == url))
    h.wait_loaded()
    begins_here = h.listen("cti.onCallBegin")
    key = h.call("cti.fireOnCallBegin", "intruder-1", "inbound", "x")
    # Raw requests too, with the nonce it has and with none.
    h.eval(
        """ids => ids.forEach(id => window.parent.postMessage({ctikit: 1, kind: 'request',
        id: id, op: 'fireOnCallBegin', callId: 'intruder-' + id, callType: 'inbound',
        nonce: id === 'raw-1' ? new URLSearchParams(location.search).get('nonce') : undefined},
        '*'))""",
        ["raw-1", "raw-2"],
    )
    # A round trip of the other component proves the bridge is working meanwhile.
    h2 = console.h2
    assert h2.plain(h2.call("cti.getCallObjectIds"))["success"] is True
    no_answer = (
        "() => H.handshake === null && !H.messages.some(m => m.data && "
        "(m.data.kind === 'ready' || m.data.kind === 'response'))"
    )
    assert stays(lambda: h.eval(no_answer) and h.count(key) == 0, console.page)
    assert console.state() == before
    # The other component still gets events; the intruder's integration.js dispatches none.
    console.simulate()
    assert len(h2.events(begins, 1)) == 1
    assert stays(lambda: h.event_count(begins_here) == 0, console.page, 0.3)
    if change == "other-origin":  # the browser drops what the bridge posts to that window
        assert h.eval("() => H.messages.length") == 0


def test_bridge_forwards_only_component_operations(console: Console) -> None:
    h1 = console.h1
    before = console.state()
    ops = ["simulateCall", "getState", "saveCallLog", "bogus", "__proto__", "constructor"]
    h1.eval(
        """ops => { const nonce = new URLSearchParams(location.search).get('nonce');
        ops.forEach((op, i) => window.parent.postMessage(
            {ctikit: 1, kind: 'request', id: 'raw-' + i, op: op, callId: 'x', nonce: nonce}, '*'));
    }""",
        ops,
    )
    responses_js = (
        "() => H.messages.filter(m => m.data && m.data.kind === 'response' &&"
        " String(m.data.id).startsWith('raw-')).map(m => [m.fromParent, m.origin,"
        " m.data])"
    )
    h1.frame.wait_for_function(
        f"n => ({responses_js})().length >= n", arg=len(ops), timeout=WAIT_MS
    )
    responses = h1.eval(responses_js)
    assert sorted(r[2]["id"] for r in responses) == [f"raw-{i}" for i in range(len(ops))]
    for from_parent, origin, data in responses:
        assert from_parent is True and origin == console.server.url
        assert data["success"] is False and data["error"] and data["ctikit"] == 1
    assert console.state() == before


def test_bridge_survives_malformed_messages(console: Console) -> None:
    h1 = console.h1
    before = console.state()
    h1.eval("""() => {
        const nonce = new URLSearchParams(location.search).get('nonce');
        const p = window.parent, junk = [
            null, undefined, 42, 'hello', [], [1, 2], {}, {ctikit: 2, kind: 'request'},
            {ctikit: '1', kind: 'hello'}, {ctikit: 1}, {ctikit: 1, kind: 42},
            {ctikit: 1, kind: 'hello'}, {ctikit: 1, kind: 'hello', nonce: {}},
            {ctikit: 1, kind: 'request'}, {ctikit: 1, kind: 'request', op: 'ping'},
            {ctikit: 1, kind: 'request', id: {}, op: 'ping'},
            {ctikit: 1, kind: 'request', id: true, op: 'ping'},
            {ctikit: 1, kind: 'request', id: 'x'.repeat(100), op: 'ping'},
            {ctikit: 1, kind: 'request', id: 7, op: null},
            {ctikit: 1, kind: 'request', id: 8, op: 'fireOnCallBegin', callId: {nested: [1]}},
            {ctikit: 1, kind: 'request', id: 9, op: 'setCallObjectIds', ids: 'nope'},
            {ctikit: 1, kind: 'request', id: 10, op: 'getCallAttachedData', callId: null},
            {ctikit: 1, kind: 'response', id: 1, success: true},
            {ctikit: 1, kind: 'event', event: 'callBegin', data: {id: 'fake'}},
            {ctikit: 1, kind: 'request', id: 11, op: 'fireEvent', eventType: 'x'.repeat(300000)},
            {ctikit: 1, kind: 'request', id: 12, op: 'fireEvent', eventType: 'no nonce'},
            {ctikit: 1, kind: 'request', id: 13, op: 'fireEvent', eventType: 'x', nonce: 'bad'},
        ];
        // Requests with a numeric ID carry the right nonce unless they say otherwise.
        junk.forEach(m => p.postMessage(m && typeof m.id === 'number' && m.id < 12 ?
            Object.assign({nonce: nonce}, m) : m, '*'));
        p.postMessage(new ArrayBuffer(8), '*');
    }""")
    # Bad requests with a usable ID are answered with errors; nothing else is.
    numbered = (
        "() => H.messages.filter(m => m.data && m.data.kind === 'response' &&"
        " typeof m.data.id === 'number').map(m => m.data)"
    )
    h1.frame.wait_for_function(f"() => ({numbered})().length >= 5", timeout=WAIT_MS)
    answered = h1.eval(numbered)
    assert sorted(r["id"] for r in answered) == [7, 8, 9, 10, 11]
    assert all(r["success"] is False and r["error"] for r in answered)
    assert h1.plain(h1.call("cti.getCallObjectIds"))["success"] is True
    assert console.page.evaluate("() => CtikitConsole.conn.status") == "connected"
    assert console.state() == before
    assert console.page.page_errors == []


def test_events_keep_coming_after_the_console_reconnects(console: Console) -> None:
    """The console's socket drops; what happened meanwhile reaches components once (replay)."""
    h1 = console.h1
    begins = h1.listen("cti.onCallBegin")
    console.page.evaluate("() => CtikitConsole.conn.stop()")
    missed = console.simulate()
    console.page.evaluate("() => CtikitConsole.conn.start()")
    assert h1.events(begins, 1) == [{"id": missed}]
    live = console.simulate(ani="+14155550111")
    assert h1.events(begins, 2) == [{"id": missed}, {"id": live}]
    # A dropped socket (not a clean stop) reconnects by itself.
    console.page.evaluate("() => { window.__oldWs = CtikitConsole.conn._ws; __oldWs.close(); }")
    console.page.wait_for_function(
        "() => CtikitConsole.conn._ws && CtikitConsole.conn._ws !== window.__oldWs"
        " && CtikitConsole.conn.status === 'connected'",
        timeout=WAIT_MS,
    )
    third = console.h2.plain(console.h2.call("cti.fireOnCallBegin", "after-1", "inbound", "x"))
    assert third == {"success": True}
    assert h1.events(begins, 3)[2] == {"id": "after-1"}
    assert console.h2.plain(console.h2.call("cti.getCallObjectIds"))["ids"] == [
        missed,
        live,
        "after-1",
    ]
    assert stays(lambda: h1.event_count(begins) == 3, console.page, 0.3)


# --------------------------------------------------------------------------- integration.js alone


def open_fake(page: Any, server: Any, query: str) -> Harness:
    page.goto(f"{server.component_url}/components/fake-console.html{query}")
    h = Harness(find_frame(page, lambda u: "name=fake" in u))
    h.wait_loaded()
    return h


def barrier(page: Any, h: Harness) -> None:
    """Messages are handled in order: once a later one arrived, the earlier ones were handled."""
    n = h.eval("() => H.barriers")
    page.evaluate("() => FC.barrier()")
    h.frame.wait_for_function("n => H.barriers > n", arg=n, timeout=WAIT_MS)


FAKE_EVENTS = [
    {
        "ctikit": 1,
        "kind": "event",
        "seq": 1,
        "at": 1.5,
        "event": "callBegin",
        "data": {"id": "fake-1"},
    },
    {
        "ctikit": 1,
        "kind": "event",
        "seq": 2,
        "at": 1.5,
        "event": "customEvent",
        "data": {"type": "Sample", "message": "fake"},
    },
]


def test_integration_ignores_a_console_at_the_wrong_origin(page: Any, ctikit_server: Any) -> None:
    """The harness is told its console is the real one; this page (another origin) fakes it."""
    h = open_fake(page, ctikit_server, f"?origin={ctikit_server.url}&nonce={FAKE_NONCE}")
    begins = h.listen("cti.onCallBegin")
    custom = h.listen("addEventListener", before=("Sample",))
    key = h.call("cti.getCallObjectIds")
    page.evaluate(
        """([nonce, events]) => {
        FC.post({ctikit: 1, kind: 'ready', nonce: nonce});
        events.forEach(e => FC.post(e));
        for (let i = 0; i < 50; i++) FC.post({ctikit: 1, kind: 'response', id: i, success: true});
    }""",
        [FAKE_NONCE, FAKE_EVENTS],
    )
    barrier(page, h)
    # Our hello went to the real console's origin only: the browser never delivered it here.
    assert page.evaluate("() => FC.hellos.length") == 0
    assert h.eval("() => H.handshake") is None
    assert (h.count(key), h.event_count(begins), h.event_count(custom)) == (0, 0, 0)
    assert page.page_errors == []


def test_integration_accepts_its_console_and_survives_junk(page: Any, ctikit_server: Any) -> None:
    """Positive control of the test above, plus malformed and repeated messages."""
    h = open_fake(page, ctikit_server, "?origin=self")
    h.wait_ready()
    begins = h.listen("cti.onCallBegin")
    custom = h.listen("addEventListener", before=("Sample",))
    page.evaluate("""() => {
        const junk = [null, 'x', 7, [], {}, {ctikit: 1}, {ctikit: 1, kind: 'event'},
            {ctikit: 1, kind: 'event', event: 'callBegin'},
            {ctikit: 1, kind: 'event', event: 'callBegin', data: null},
            {ctikit: 1, kind: 'event', event: 'callBegin', data: {id: {x: 1}}},
            {ctikit: 1, kind: 'event', event: 'callBegin', data: []},
            {ctikit: 1, kind: 'event', event: 42, data: {id: 'x'}},
            {ctikit: 1, kind: 'event', event: 'ctiMessage', data: {message: {}}},
            {ctikit: 1, kind: 'event', event: 'customEvent', data: {type: ['Sample']}},
            {ctikit: 1, kind: 'event', event: 'toString', data: {}},
            {ctikit: 1, kind: 'response', id: {}}, {ctikit: 1, kind: 'response', id: 'nope'},
            {ctikit: 1, kind: 'response', id: '__proto__'}, {ctikit: 1, kind: 'ready'},
            {ctikit: '1', kind: 'event', event: 'callBegin', data: {id: 'x'}}];
        junk.forEach(m => FC.post(m));
    }""")
    page.evaluate("events => events.forEach(e => { FC.post(e); FC.post(e); })", FAKE_EVENTS)
    barrier(page, h)
    # Each real event once (a repeat with the same seq and time is a replay), junk ignored.
    assert h.events(begins, 1) == [{"id": "fake-1"}]
    assert h.events(custom, 1) == [{"message": "fake"}]
    assert (h.event_count(begins), h.event_count(custom)) == (1, 1)
    assert h.plain(h.call("cti.getCallObjectIds"))["success"] is True
    assert page.page_errors == []


def test_integration_needs_the_issued_nonce(page: Any, ctikit_server: Any) -> None:
    h = open_fake(page, ctikit_server, f"?origin=self&auto=0&nonce={FAKE_NONCE}")
    page.wait_for_function("() => FC.hellos.length >= 1", timeout=WAIT_MS)
    assert page.evaluate("() => FC.hellos[0]") == {
        "ctikit": 1,
        "kind": "hello",
        "nonce": FAKE_NONCE,
    }
    page.evaluate("() => FC.post({ctikit: 1, kind: 'ready', nonce: 'f'.repeat(32)})")
    barrier(page, h)
    assert h.eval("() => H.handshake") is None
    assert page.evaluate("() => FC.requests.length") == 0  # still queued
    page.evaluate(f"() => FC.post({{ctikit: 1, kind: 'ready', nonce: {json.dumps(FAKE_NONCE)}}})")
    h.wait_ready()  # the queued getCallObjectIds went out and was answered


def test_requests_fail_when_no_console_answers(page: Any, ctikit_server: Any) -> None:
    """No ready within 10 s: queued callbacks hear "console did not answer" (once)."""
    h = open_fake(page, ctikit_server, "?origin=self&auto=0")
    started = time.monotonic()
    key = h.call("cti.fireOnCallBegin", "c1", "inbound", "x")
    h.frame.wait_for_function("() => H.handshake !== null", timeout=15_000)
    assert h.plain(key) == {"success": False, "error": "console did not answer"}
    assert h.eval("() => H.handshake.success") is False
    assert 8 < time.monotonic() - started < 12
    hellos = page.evaluate("() => FC.hellos.length")
    assert hellos > 3  # hello was repeated while waiting
    # A later request tries again; this time the console answers.
    page.evaluate("() => { FC.autoReady = true; }")
    assert h.plain(h.call("cti.fireOnCallBegin", "c2", "inbound", "x")) == {"success": True}
    assert h.count(key) == 1
