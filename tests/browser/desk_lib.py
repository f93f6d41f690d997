"""Helpers the desk's browser tests share (imported relatively: ``from .desk_lib import``).

``RestClient`` calls a test server's REST API (as a bearer token, or none in demo mode);
``axe_violations`` runs the vendored, pinned axe-core on a page.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


class RestClient:
    """The REST API of one server, as ``token`` (none: a demo server, no sign-in)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token is not None:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def simulate(self, agent: str, **body: Any) -> str:
        """A caller rings ``agent`` (the simulator); the new call's ID."""
        status, resp = self.api("POST", f"/api/agents/{agent}/simulate-call", body)
        assert status == 200 and resp["success"], resp
        return str(resp["callId"])

    def logs(self, agent: str, call_id: str) -> list[dict[str, Any]]:
        """The stored call logs of one call."""
        status, body = self.api("GET", f"/api/call-logs?agent={agent}")
        assert status == 200, body
        return [log for log in body["logs"] if log["call_id"] == call_id]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (the vendored, pinned axe)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {iframes: false, resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
