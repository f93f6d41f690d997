"""integration.js per API version: exactly the members that version had (core/versions.py).

(Named test_versions_gating, not test_versions: tests/core/test_versions.py has that name.)
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ctikit.core.versions import MAX_VERSION, MIN_VERSION, api_table

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
WAIT_MS, Harness, find_frame = lib.WAIT_MS, lib.Harness, lib.find_frame

MEMBERS_JS = """() => {
    const c = sforce.console, fns = o => Object.keys(o).filter(k => typeof o[k] === 'function');
    const out = {namespaces: {console: fns(c).sort()}, enums: {}};
    for (const ns of ['cti', 'chat', 'presence']) {
        if (c[ns] !== undefined) out.namespaces[ns] = fns(c[ns]).sort();
    }
    for (const e of ['TabLink', 'Region', 'ComponentType', 'ConsoleEvent']) {
        if (c[e] !== undefined) out.enums[e] = JSON.parse(JSON.stringify(c[e]));
    }
    out.undefinedCti = ['fireOnCallBegin', 'fireOnCallEnd', 'onCallLogSaved',
                        'fireOnCallLogSaved', 'onSendCTIMessage', 'setCallAttachedData',
                        'setCallObjectIds'].filter(n => !c.cti || typeof c.cti[n] === 'undefined');
    return out;
}"""


def _expected(version: int) -> dict[str, Any]:
    table: Any = api_table(version)
    return {
        "namespaces": {
            ns: sorted(spec["implemented"] + list(spec["unsupported"]))
            for ns, spec in table["namespaces"].items()
        },
        "enums": table["enums"],
    }


def _members(page: Any, server: Any, version: int) -> dict[str, Any]:
    page.goto(f"{server.component_url}/components/harness.html?v={version}")
    h = Harness(page.main_frame)
    h.wait_loaded()
    return h.eval(MEMBERS_JS)


@pytest.mark.parametrize("version", [20, 22, 23, 24, 25, 28, 29, 30, 31, 32, 36, 66])
def test_members_of_each_version(page: Any, ctikit_server: Any, version: int) -> None:
    got = _members(page, ctikit_server, version)
    expected = _expected(version)
    assert got["namespaces"] == expected["namespaces"]
    assert got["enums"] == expected["enums"]
    if version < 31:
        # Methods of a later version are not defined at all (typeof === 'undefined').
        assert len(got["undefinedCti"]) == 7
    else:
        assert got["undefinedCti"] == []
    assert page.page_errors == []


def test_every_served_version(page: Any, ctikit_server: Any) -> None:
    """Every version from 24.0 on, each in its own frame of one page, loaded side by side."""
    page.goto(f"{ctikit_server.component_url}/components/harness.html?v=66")
    Harness(page.main_frame).wait_loaded()
    versions = list(range(MIN_VERSION, MAX_VERSION + 1))
    got = page.evaluate(
        """async ([versions, membersJs]) => {
        const members = eval('(' + membersJs + ')');
        return Promise.all(versions.map(v => new Promise((resolve, reject) => {
            const f = document.createElement('iframe');
            f.src = 'harness.html?v=' + v;
            document.body.appendChild(f);
            const started = Date.now();
            (function poll() {
                const w = f.contentWindow;
                if (w.H && w.H.loaded) {
                    resolve(w.eval('(' + membersJs + ')()'));
                } else if (Date.now() - started > 10000) {
                    reject(new Error('version ' + v + ' did not load'));
                } else {
                    setTimeout(poll, 20);
                }
            })();
        })));
    }""",
        [versions, MEMBERS_JS],
    )
    for version, members in zip(versions, got, strict=True):
        expected = _expected(version)
        assert {k: members[k] for k in expected} == expected, version
    assert page.page_errors == []


def test_unserved_version_is_404(ctikit_server: Any) -> None:
    for path in (
        "/support/console/19.0/integration.js",
        "/support/console/67.0/integration.js",
        "/support/console/abc/integration.js",
    ):
        status, _ = ctikit_server.api("GET", path)
        assert status == 404, path


def test_script_defines_only_sforce(page: Any, ctikit_server: Any) -> None:
    """No globals besides sforce; existing sforce members survive."""
    page.goto(f"{ctikit_server.component_url}/components/harness.html?v=66")
    Harness(page.main_frame).wait_loaded()
    added = page.evaluate("""async () => {
        const frame = document.createElement('iframe');
        document.body.appendChild(frame);
        const w = frame.contentWindow, before = new Set(Object.getOwnPropertyNames(w));
        w.sforce = {keep: 1, console: {mine: 2}};
        const s = w.document.createElement('script');
        s.src = '/support/console/66.0/integration.js';
        await new Promise(r => { s.onload = r; w.document.head.appendChild(s); });
        return {added: Object.getOwnPropertyNames(w).filter(n => !before.has(n)),
                keep: w.sforce.keep, mine: w.sforce.console.mine,
                cti: typeof w.sforce.console.cti.getCallObjectIds};
    }""")
    assert added == {"added": ["sforce"], "keep": 1, "mine": 2, "cti": "function"}


@pytest.mark.parametrize(
    ("version", "typed"), [(24, False), (28, False), (29, True), (31, True), (66, True)]
)
def test_getCallType_honoured_from_29(
    page: Any, ctikit_server: Any, version: int, typed: bool
) -> None:
    """With a scripted console (fake-console.html): what is asked for and what comes back."""
    page.goto(f"{ctikit_server.component_url}/components/fake-console.html?v={version}")
    h = Harness(find_frame(page, lambda u: "name=fake" in u))
    h.wait_ready()
    plain = h.plain(h.call("cti.getCallAttachedData", "c1", {"getCallType": True}, cb=1))
    request = page.evaluate("() => FC.requests.filter(r => r.op === 'getCallAttachedData')[0]")
    assert request["callId"] == "c1"
    if typed:
        assert request["getCallType"] is True
        assert plain == {"success": True, "data": '{"k":"v"}', "type": "INBOUND"}
    else:
        assert "getCallType" not in request
        assert plain == {"success": True, "data": '{"k":"v"}'}
    # Without the option: never a type.
    assert h.plain(h.call("cti.getCallAttachedData", "c1")) == {
        "success": True,
        "data": '{"k":"v"}',
    }
    page.wait_for_function("() => FC.requests.length >= 3", timeout=WAIT_MS)
    assert "getCallType" not in page.evaluate("() => FC.requests[2]")
