"""The audit log over REST (scope audit:read): logins and failures, logouts, account and
token changes, campaign events, CTI commands with who sent them; retention; and never a
password, a hash or a token in it. Also straight on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ctikit.server.audit import AUDIT
from ctikit.server.keys import SERVICE
from ctikit.storage import AccountStore, CallLogStore
from ctikit.storage.audit import AuditStore, entry

from .conftest import PASSWORD, auth


async def _auditor(server: Any) -> dict[str, str]:
    accounts = AccountStore(server.app[SERVICE].store, actor="cli:root")
    _, secret = await accounts.create_token("auditor", frozenset({"audit:read"}))
    server.tokens["auditor"] = secret
    return {"Authorization": f"Bearer {secret}"}


async def _entries(server: Any, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    await server.app[AUDIT].flushed()
    r = await server.get(f"/api/audit{query}", headers=headers)
    body = await r.json()
    assert r.status == 200, body
    assert body["total"] >= len(body["entries"])
    return list(body["entries"])


async def test_reading_the_audit_log_needs_the_scope(server: Any) -> None:
    assert (await server.get("/api/audit")).status == 401
    for who in ("agent1", "sup-blue", "crm", "dialer", "ivr"):
        assert (await server.get("/api/audit", headers=auth(server, who))).status == 403, who
    headers = await _auditor(server)
    for bad in ("?limit=0", "?since=yesterday", "?until=2026-01-01T00:00:00", "?offset=-1"):
        r = await server.get(f"/api/audit{bad}", headers=headers)
        assert r.status == 400 and (await r.json())["success"] is False, bad


async def test_what_is_recorded_and_that_no_secret_is(server: Any, connect: Any) -> None:
    headers = await _auditor(server)
    store = server.app[SERVICE].store
    accounts = AccountStore(store, actor="cli:root")
    # Logins (the fixture's, and one failure), a logout.
    r = await server.post("/api/login", json={"username": "agent1", "password": "not-it-at-all"})
    assert r.status == 401
    r = await server.post("/api/login", json={"username": "agent2", "password": PASSWORD})
    agent2 = (await r.json())["token"]
    r = await server.post("/api/logout", headers={"Authorization": f"Bearer {agent2}"})
    assert r.status == 200
    # A CTI command from agent1's console (refused: nothing rings) and a campaign.
    c = await connect("agent1")
    refused = await c.request("sendCTIMessage", message="/ANSWER")
    assert refused["success"] is False
    await c.request("sendCTIMessage", message="just text, not a command")
    r = await server.post(
        "/api/events",
        json={"agents": ["agent1", "agent2"], "type": "campaign.start", "message": "go"},
        headers=auth(server, "dialer"),
    )
    assert r.status == 200, await r.text()
    # Accounts: a password, a role, a disabled user, a token made and revoked.
    new_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    assert await accounts.set_password("agent2", new_hash)
    assert await accounts.set_role("agent2", "supervisor", agent_id=None, team="red")
    assert await accounts.set_disabled("agent2", True)
    token, secret = await accounts.create_token("crm2", frozenset({"logs:read"}))
    assert await accounts.revoke_token(token.id)

    entries = await _entries(server, headers, "?limit=1000")
    seen = {(e["action"], e["target"], e["outcome"], e["actor"]) for e in entries}
    assert ("login", "agent1", "ok", "agent1") in seen  # the fixture's logins
    assert ("login", "agent1", "failed", "agent1") in seen
    assert ("login", "agent2", "ok", "agent2") in seen
    assert ("logout", "agent2", "ok", "agent2") in seen
    assert ("cti.command", "agent1", "failed", "agent1") in seen
    assert not any(e["action"] == "cti.command" and "text" in str(e["detail"]) for e in entries)
    assert ("campaign.event", "campaign.start", "ok", "dialer") in seen
    for action in ("user.password", "user.role", "user.disable"):
        assert (action, "agent2", "ok", "cli:root") in seen, action
    assert ("token.create", token.id, "ok", "cli:root") in seen
    assert ("token.revoke", token.id, "ok", "cli:root") in seen
    (failed,) = [e for e in entries if e["action"] == "login" and e["outcome"] == "failed"]
    assert failed["address"] == "127.0.0.1" and failed["detail"] == {"code": "unauthorized"}
    (command,) = [e for e in entries if e["action"] == "cti.command"]
    assert command["detail"]["command"] == "/ANSWER"
    (role,) = [e for e in entries if e["action"] == "user.role"]
    assert role["detail"] == {"role": "supervisor", "agent": None, "team": "red"}
    # Never a password, a hash or a token: not the ones used, not any.
    text = json.dumps(entries)
    used = [PASSWORD, "not-it-at-all", new_hash, secret, agent2, *server.tokens.values()]
    for secret_text in used:
        assert secret_text not in text
    assert "argon2" not in text and "ctk_" not in text and "eyJ" not in text
    # Filters.
    only = await _entries(server, headers, "?actor=cli:root&action=user.role")
    assert [e["action"] for e in only] == ["user.role"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert await _entries(server, headers, f"?since={later}") == []


async def test_entries_past_the_retention_are_deleted(server: Any) -> None:
    audit = server.app[AUDIT]
    old = datetime.now(UTC) - timedelta(days=audit.retention_days + 1)
    await audit.db.write([entry(at=old, actor="x", action="login", target="old")])
    task = asyncio.create_task(audit.run())  # a second sweeper: its first pass runs at once
    try:

        async def purged() -> None:
            while True:  # the database is all there is to watch
                _, found = await audit.db.query(actor="x")
                if not found:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(purged(), 10)
    finally:
        task.cancel()
    total, _ = await audit.db.query()
    assert total > 0  # the recent ones stay


@pytest.mark.postgres
async def test_account_changes_are_audited_in_their_transaction_on_postgres(
    pg_database: str,
) -> None:
    store = await CallLogStore.open(pg_database)
    try:
        accounts = AccountStore(store, actor="cli:ops")
        await accounts.add_user(
            "eve", role="agent", password_hash="h" * 20, agent_id="eve", team=None
        )
        assert not await accounts.remove_user("nobody")  # nothing changed: nothing recorded
        assert await accounts.remove_user("eve")
        total, entries = await AuditStore(store).query()
        assert total == 2
        assert [(e.action, e.target, e.actor) for e in entries] == [
            ("user.remove", "eve", "cli:ops"),
            ("user.add", "eve", "cli:ops"),
        ]
        assert entries[1].detail == {"role": "agent", "agent": "eve", "team": None}
    finally:
        await store.close()
