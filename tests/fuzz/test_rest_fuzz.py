"""Fuzzing the REST API: schemathesis against the OpenAPI schema the server serves, plus
hypothesis where schemathesis does not reach (any credentials, login bodies that are not
JSON, the WebSocket handshake).

Two passes over every operation: a service token with every scope, and agent1's session
token. After each request: no 5xx, no ERROR in the server log, every error body is
``{success: false, error, code}`` (with ``WWW-Authenticate`` on a 401), every JSON success
body has ``success: true``, and every schemathesis check of the schema holds: documented
status, body and media type, 405 with ``Allow`` for undeclared methods, invalid data refused,
valid data accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from ctikit.server.keys import AUTH
from ctikit.server.openapi import SPEC
from ctikit.server.rest import SESSION_BODY_LIMIT

from . import known_bugs
from . import strategies as S
from .conftest import fuzz_settings
from .harness import CASES, KNOWN, PASSWORD, LiveServer

schema = schemathesis.openapi.from_dict(SPEC)

#: Every check that compares the server with the schema's promises: statuses, bodies, media
#: types, 405 with Allow for undeclared methods, invalid data refused (4xx) and valid data
#: accepted. The schema documents what the server really does (docs/fuzzing.md, "Schema
#: gaps"), so all of them hold; a server bug that breaks one is an open known bug.
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    unsupported_method,
    negative_data_rejection,
    positive_data_acceptance,
]
#: Answers that are not of the ``{success: true, ...}`` shape: exports and the schema itself.
NO_ENVELOPE = ("/api/call-logs/export.json", "/api/call-logs/export.csv", "/api/openapi.json")


@pytest.fixture(scope="module")
def http(live: LiveServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def check_reply(
    live: LiveServer, status: int, headers: dict[str, str], body: bytes, what: str
) -> bool:
    """The invariants of every REST answer; False if a known open bug explains a 500.

    ``headers`` have lowercase names.
    """
    errors = live.errors.take()
    if errors:
        bug = known_bugs.match(errors)
        if bug is not None and status == 500:
            KNOWN[bug] += 1
            return False
        raise AssertionError(f"{what}: server logged errors: {errors}")
    assert status < 500, f"{what}: {status} {body[:500]!r}"
    ctype = headers.get("content-type", "")
    if status >= 400:
        assert ctype.startswith("application/json"), (what, status, ctype)
        err = json.loads(body)
        assert isinstance(err, dict) and err.get("success") is False, (what, err)
        assert isinstance(err.get("error"), str) and err["error"], (what, err)
        assert isinstance(err.get("code"), str) and err["code"], (what, err)
        assert err["code"] != "internal_error", (what, err)
        if status == 401:
            assert headers.get("www-authenticate", "").startswith("Bearer"), (what, headers)
    elif ctype.startswith("application/json") and not any(p in what for p in NO_ENVELOPE):
        ok = json.loads(body)
        assert isinstance(ok, dict) and ok.get("success") is True, (what, ok)
    return True


def _lower(r: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items()}


def test_served_schema_is_the_one_fuzzed(live: LiveServer, http: requests.Session) -> None:
    r = http.get(f"{live.url}/api/openapi.json", timeout=10)
    assert r.status_code == 200 and r.json() == json.loads(json.dumps(SPEC))


def _documented(
    live: LiveServer,
    http: requests.Session,
    method: str,
    path: str,
    status: int,
    who: str | None = "agent1",
    **kwargs: Any,
) -> requests.Response:
    """Send one request and check that its answer is the expected one and is exactly as
    the schema documents it (status, headers of a 401, body)."""
    operation = schema.find_operation_by_label(f"{method} {path.split('?')[0]}")
    assert operation is not None, path
    url = path.format(**kwargs.pop("path_parameters", {}))
    headers = live.headers(who) if who else {}
    r = http.request(method, f"{live.url}{url}", headers=headers, timeout=30, **kwargs)
    what = f"{method} {url} as {who}"
    assert r.status_code == status, (what, r.status_code, r.text[:500])
    assert str(status) in operation.definition.raw["responses"], (what, status)
    assert check_reply(live, r.status_code, _lower(r), r.content, what)
    operation.validate_response(r)
    return r


def test_documented_answers(live: LiveServer, http: requests.Session) -> None:
    """One real request for every answer the fuzzers rarely get (a successful login, a saved
    call log, the exports, each error status), checked against the schema: the generated
    cases seldom name a real call or log, so without this the Call and CallLog schemas would
    go unchecked."""

    def doc(method: str, path: str, status: int, who: str | None = "agent1", **kw: Any) -> Any:
        r = _documented(live, http, method, path, status, who, **kw)
        return r.json() if "json" in r.headers.get("Content-Type", "") else r.text

    doc("GET", "/api/health", 200, None)
    doc("GET", "/api/openapi.json", 200, None)
    login = doc("POST", "/api/login", 200, None, json={"username": "agent2", "password": PASSWORD})
    assert login["agent"] == "agent2" and login["role"] == "agent", login
    doc("POST", "/api/login", 401, None, json={"username": "agent2", "password": "wrong"})
    doc("POST", "/api/login", 400, None, data=b"[]")
    doc("POST", "/api/logout", 200, None)
    # That logout (with the cookie of the login above) ended every session of agent2
    # (docs/security.md): the fuzzers get a new one.
    live.tokens["agent2"] = live.call(live.app[AUTH].login("agent2", PASSWORD))[0]
    doc("GET", "/api/whoami", 200)
    doc("GET", "/api/whoami", 200, "service")
    doc("GET", "/api/whoami", 401, None)
    doc("GET", "/api/console/config?agent=agent1", 200)
    doc("GET", "/api/console/config?agent=agent1", 403, "agent2")
    doc("GET", "/api/console/config?agent=", 400)

    call_id = doc(
        "POST",
        "/api/agents/{agent}/simulate-call",
        200,
        json={"ani": "+14155550100", "dnis": "8005550199", "data": {"lang": "fr"}},
        path_parameters={"agent": "agent1"},
    )["callId"]
    # Answered at once: a call left ringing would end after 1.5 s (the harness's timings).
    doc(
        "POST",
        "/api/agents/{agent}/cti-message",
        200,
        json={"message": f"/ANSWER?CALL_ID={call_id}"},
        path_parameters={"agent": "agent1"},
    )
    doc("POST", "/api/agents/{agent}/simulate-call", 200, path_parameters={"agent": "agent1"})
    ids = {"agent": "agent1", "call_id": call_id}
    doc(
        "POST",
        "/api/agents/{agent}/calls/{call_id}/data",
        200,
        json={"ivr": 1},
        path_parameters=ids,
    )
    doc(
        "POST",
        "/api/agents/{agent}/calls/{call_id}/data",
        413,
        json={"big": "x" * 70_000},  # over the 64 KiB of attached data a call may hold
        path_parameters=ids,
    )
    doc("GET", "/api/agents/{agent}/calls/{call_id}", 200, "service", path_parameters=ids)
    calls = doc("GET", "/api/agents/{agent}/calls", 200, path_parameters={"agent": "agent1"})
    assert call_id in [c["id"] for c in calls["calls"]], calls
    doc("GET", "/api/agents/{agent}/calls", 403, path_parameters={"agent": "agent2"})
    doc("GET", "/api/agents/{agent}/calls", 400, path_parameters={"agent": "no%20such"})
    doc(
        "GET",
        "/api/agents/{agent}/calls/{call_id}",
        404,
        path_parameters={"agent": "agent1", "call_id": "none"},
    )
    doc(
        "POST",
        "/api/agents/{agent}/cti-message",
        409,
        json={"message": "/RETRIEVE"},  # nothing is on hold
        path_parameters={"agent": "agent1"},
    )
    doc(
        "POST",
        "/api/agents/{agent}/cti-message",
        200,
        json={"message": f"/HANGUP?CALL_ID={call_id}"},
        path_parameters={"agent": "agent1"},
    )
    log = doc(
        "POST",
        "/api/agents/{agent}/call-logs",
        201,
        json={"callId": call_id, "subject": "IVR", "comments": "ok", "disposition": "done"},
        path_parameters={"agent": "agent1"},
    )["log"]
    doc(
        "POST",
        "/api/agents/{agent}/call-logs",
        403,
        "service",
        json={"callId": call_id},
        path_parameters={"agent": "agent1"},
    )
    doc("GET", "/api/call-logs/{log_id}", 200, path_parameters={"log_id": log["id"]})
    doc("GET", "/api/call-logs/{log_id}", 403, "agent2", path_parameters={"log_id": log["id"]})
    doc("GET", "/api/call-logs/{log_id}", 404, path_parameters={"log_id": "log_none"})
    listed = doc("GET", "/api/call-logs?agent=agent1&limit=5", 200, "service")
    assert log["id"] in [x["id"] for x in listed["logs"]], listed
    doc("GET", "/api/call-logs?agent=agent1", 403, "agent2")
    doc("GET", "/api/call-logs?since=2020-01-01T00:00:00", 400)  # no time zone
    exported = doc("GET", "/api/call-logs/export.json?agent=agent1", 200, "service")
    assert log["id"] in [x["id"] for x in exported], exported
    assert log["id"] in doc("GET", "/api/call-logs/export.csv", 200)
    doc("GET", "/api/agents", 200, "service")
    doc("GET", "/api/agents", 200, "sup-blue")
    body = {"agents": ["agent1", "agent1", "agent3"], "type": "campaign", "message": "go"}
    assert doc("POST", "/api/events", 200, "service", json=body)["agents"] == 2
    doc("POST", "/api/events", 403, json=body)  # agent1 may name only itself
    doc("POST", "/api/events", 400, "service", json={**body, "type": ""})


@pytest.mark.parametrize("who", ["service", "agent1"])
@schema.parametrize()
@fuzz_settings(weight=1)
def test_openapi(case: Any, who: str, live: LiveServer, http: requests.Session) -> None:
    headers = live.headers(who)
    CASES[f"rest openapi ({who})"] += 1
    response = case.call(base_url=live.url, session=http, headers=headers, timeout=30)
    what = f"{case.method} {case.formatted_path}"
    lowered = {k: v[0] for k, v in response.headers.items() if v}
    if not check_reply(live, response.status_code, lowered, response.content, f"{what} as {who}"):
        return
    case.validate_response(response, checks=CHECKS, headers=headers)


# ----------------------------------------------- what the schema does not describe


def _tokens(live: LiveServer) -> st.SearchStrategy[str]:
    real = st.sampled_from(sorted(live.tokens.values()))
    return st.one_of(
        real,
        real.map(lambda t: t[:-1]),
        real.map(lambda t: t + "x"),
        real.map(lambda t: t.upper()),
        st.sampled_from(("ctk_", "ctk_x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "")),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
    )


@fuzz_settings(weight=1)
@given(data=st.data())
def test_credentials(live: LiveServer, http: requests.Session, data: st.DataObject) -> None:
    """Any Authorization header or token parameter: 200 or 401, never worse."""
    scheme = data.draw(st.sampled_from(("Bearer ", "bearer ", "Basic ", "", "Bearer  ")))
    token = data.draw(_tokens(live))
    path = data.draw(
        st.sampled_from(
            (
                "/api/whoami",
                "/api/agents",
                "/api/agents/agent1/calls",
                "/api/call-logs?limit=1",
                "/api/console/config?agent=agent1",
            )
        )
    )
    as_query = data.draw(st.booleans())
    CASES["rest credentials"] += 1
    if as_query:
        r = http.get(f"{live.url}{path}", params={"token": token}, timeout=30)
    else:
        r = http.get(f"{live.url}{path}", headers={"Authorization": scheme + token}, timeout=30)
    check_reply(live, r.status_code, _lower(r), r.content, f"GET {path} token={token!r}")
    assert r.status_code in (200, 401, 403), (path, token, r.status_code, r.text)


@fuzz_settings(weight=0.25)
@given(body=st.one_of(S.json_values, S.requests()), raw=st.booleans())
def test_login_bodies(live: LiveServer, http: requests.Session, body: Any, raw: bool) -> None:
    """Login with anything: 400 or 401 (argon2 makes each try slow: few examples)."""
    CASES["rest login"] += 1
    if raw:
        data = json.dumps(body, allow_nan=False)[:-1]  # cut short: not JSON
        r = http.post(f"{live.url}/api/login", data=data, timeout=30)
    else:
        r = http.post(f"{live.url}/api/login", json=body, timeout=30)
    check_reply(live, r.status_code, _lower(r), r.content, f"POST /api/login {body!r}")
    # A login body over SESSION_BODY_LIMIT is read from anyone, so it is refused unread: 413.
    big = len(r.request.body or b"") > SESSION_BODY_LIMIT
    assert r.status_code in ((413,) if big else (400, 401)), (body, r.status_code, r.text)


@fuzz_settings(weight=0.5)
@given(
    agent=st.one_of(
        st.sampled_from(("agent1", "agent2", "agent3", "")),
        st.from_regex(r"[A-Za-z0-9._@+-]{1,64}", fullmatch=True),
        st.text(max_size=70),
    ),
    who=st.sampled_from(("agent1", "sup-blue", "service", "nobody")),
    since=st.none() | st.sampled_from(("0", "1", "-1", "1e3", "99999999999999999", "x", "\u0661")),
    epoch=st.none() | st.text(max_size=20),
)
def test_socket_handshake(
    live: LiveServer, agent: str, who: str, since: str | None, epoch: str | None
) -> None:
    """Opening /ws with any agent, identity and resume cursor: 101 or a JSON 4xx."""
    params = {"agent": agent}
    if who != "nobody":
        params["token"] = live.tokens[who]
    if since is not None:
        params["since"] = since
    if epoch is not None:
        params["epoch"] = epoch
    CASES["ws handshake"] += 1
    status = live.call(_handshake(live, params))
    errors = live.errors.take()
    assert errors == [], f"server logged errors for {params}: {errors}"
    assert status == 101 or 400 <= status < 500, (params, status)
    if status == 101:
        assert agent == "agent1" and who in ("agent1", "sup-blue"), params


async def _handshake(live: LiveServer, params: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(f"{live.url}/ws", params=params)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello", hello
        await ws.close()
        return 101
