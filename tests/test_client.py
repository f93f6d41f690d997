"""ctikit.client against a real `ctikit serve` process: what an IVR, a CRM and a dialer do,
and every kind of refusal as a CtikitError with the server's code."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctikit.client import Client, CtikitError
from ctikit.testing import CtikitProcess, run_ctikit

PASSWORD = "client-test-password"


@dataclass
class Server:
    url: str
    token: str  # a service token with every scope


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("client")
    db = f"sqlite:///{tmp / 'ctikit.db'}"
    for user in ("alice", "bob"):
        run_ctikit("user", "add", user, "--password-stdin", "--database", db, stdin=PASSWORD)
    scopes = ["--scope", "calls:attach", "--scope", "calls:control", "--scope", "logs:read"]
    made = run_ctikit("token", "create", "backoffice", *scopes, "--database", db)
    with CtikitProcess(["serve", "--port", "0", "--database", db], tmp / "server.log") as proc:
        yield Server(proc.url, made.stdout.strip().splitlines()[-1])


def _ring(svc: Client, agent: str, **kw: object) -> str:
    call_id = svc.simulate_call(agent, **kw)  # type: ignore[arg-type]
    svc.send_cti_message(agent, f"/ANSWER?CALL_ID={call_id}")
    return call_id


def test_ivr_crm_and_dialer_round_trip(server: Server) -> None:
    svc = Client(server.url, token=server.token)
    assert svc.health()["success"] is True
    call_id = _ring(svc, "alice", ani="+14155550100", data={"lang": "fr"})
    assert [c["id"] for c in svc.calls("alice")] == [call_id]
    call = svc.attach_data("alice", call_id, {"account": "ACME-1", "verified": True})
    assert call["data"]["account"] == "ACME-1" and call["data"]["lang"] == "fr"
    assert svc.call("alice", call_id)["ani"] == "+14155550100"
    # bob has no console and no calls: a campaign does not reach (or make state for) him.
    assert svc.fire_event(["alice", "bob", "alice"], "campaign", "Q4") == 1
    assert "alice" in {a["id"] for a in svc.agents()}
    assert "bob" not in {a["id"] for a in svc.agents()}

    alice = Client.login(server.url, "alice", PASSWORD)
    alice.send_cti_message("alice", f"/HANGUP?CALL_ID={call_id}")
    first = alice.save_call_log("alice", call_id, subject="Renewal", disposition="resolved")
    assert first["call_id"] == call_id and first["subject"] == "Renewal"
    second_call = _ring(svc, "alice")
    svc.send_cti_message("alice", f"/HANGUP?CALL_ID={second_call}")
    second = alice.save_call_log("alice", second_call, comments='said "yes", call back')

    # The CRM: every log, a page at a time, newest first.
    got = [log["id"] for log in svc.call_logs(agent="alice", page_size=1)]
    assert got == [second["id"], first["id"]]
    assert svc.call_log(first["id"])["attached_data"]["account"] == "ACME-1"
    out = io.BytesIO()
    assert svc.export(out, agent="alice") == len(out.getvalue()) > 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert {r["id"] for r in rows} == {first["id"], second["id"]}
    assert 'said "yes", call back' in {r["comments"] for r in rows}
    out = io.BytesIO()
    svc.export(out, fmt="json", agent="alice", call_id=call_id)
    assert [log["id"] for log in json.loads(out.getvalue())] == [first["id"]]


def test_every_refusal_is_a_ctikit_error_with_the_servers_code(server: Server) -> None:
    svc = Client(server.url, token=server.token)
    cases = [
        (lambda: Client(server.url).calls("alice"), 401, "unauthorized"),
        (lambda: Client(server.url, token="ctk_wrong").calls("alice"), 401, "unauthorized"),
        (lambda: Client.login(server.url, "bob", PASSWORD).calls("alice"), 403, "forbidden"),
        (lambda: svc.call("alice", "nope"), 404, "unknown_call"),
        # Escaped, not a path: "/" and "?" in an ID never reach another route.
        (lambda: svc.call("alice", "a/b?c=d#e"), 404, "unknown_call"),
        (lambda: svc.calls("bad agent"), 400, "bad_request"),
        (lambda: svc.send_cti_message("alice", "/HOLD"), 409, "command_rejected"),
        (lambda: svc.fire_event([], "campaign"), 400, "bad_request"),
        (lambda: svc.attach_data("alice", "x" * 300, {}), 400, "limit_exceeded"),
        (lambda: svc.call_log("log_missing"), 404, "not_found"),
    ]
    for call, status, code in cases:
        with pytest.raises(CtikitError) as err:
            call()
        assert (err.value.status, err.value.code) == (status, code), err.value.message
        assert err.value.message
    for _ in range(5):
        with pytest.raises(CtikitError):
            Client.login(server.url, "bob", "wrong")
    with pytest.raises(CtikitError) as err:
        Client.login(server.url, "bob", PASSWORD)
    assert (err.value.status, err.value.code) == (429, "rate_limited")
    assert err.value.retry_after is not None and 1 <= err.value.retry_after <= 60


def test_an_unreachable_server_is_an_error_not_a_hang() -> None:
    with pytest.raises(CtikitError) as err:
        Client("http://127.0.0.1:9", timeout=2).health()
    assert (err.value.status, err.value.code) == (0, "unreachable")


def test_cli_simulate_call_uses_the_token(server: Server, tmp_path: Path) -> None:
    args = ["simulate-call", "--server", server.url, "--agent", "alice", "--data", '{"q": 1}']
    done = run_ctikit(*args, "--token", server.token, check=False)
    assert done.returncode == 0 and "is ringing at alice" in done.stdout, done.stderr
    refused = run_ctikit(*args, check=False)
    assert refused.returncode == 1 and "error:" in refused.stderr
    bad = run_ctikit(*args[:-2], "--data", "[1]", "--token", server.token, check=False)
    assert bad.returncode == 2 and "JSON object" in bad.stderr
