"""A Python client of ctikit's REST API, for back-office integrations: an IVR attaching what
the caller keyed in, a CRM reading call logs, a dialer starting a campaign.

    from ctikit.client import Client, CtikitError

    ivr = Client("https://ctikit.example.com", token="ctk_...")   # a service token
    ivr.attach_data("alice", call_id, {"account": "ACME-1", "verified": True})
    for log in Client(url, token=crm_token).call_logs(agent="alice"):
        ...

Standard library only (``urllib``), synchronous: it fits scripts, cron jobs and IVR hooks.
Every failure is a :class:`CtikitError` carrying the server's ``code`` (docs/protocol.md) and
the HTTP status; nothing fails silently.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, BinaryIO

__all__ = ["Client", "CtikitError"]


class CtikitError(Exception):
    """The server refused a request, or could not be reached (``status`` 0, ``code``
    ``"unreachable"``). ``retry_after`` is set when the server said how long to wait."""

    def __init__(
        self, message: str, *, code: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after


class Client:
    """One ctikit server, as one caller: a service token (``ctk_...``) or a user's login
    token. Without a token it works only against ``ctikit demo`` (no authentication)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def login(cls, url: str, username: str, password: str, *, timeout: float = 10.0) -> Client:
        """A client acting as a user (agent or supervisor), by password."""
        anonymous = cls(url, timeout=timeout)
        answer = anonymous._json("POST", "/api/login", {"username": username, "password": password})
        return cls(url, token=str(answer["token"]), timeout=timeout)

    # ------------------------------------------------------------------ calls

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/api/health")

    def agents(self) -> list[dict[str, Any]]:
        """Agents with state that this caller may see: ``{id, activeCalls, connections}``."""
        return list(self._json("GET", "/api/agents")["agents"])

    def calls(self, agent: str) -> list[dict[str, Any]]:
        """The agent's active calls, in arrival order."""
        return list(self._json("GET", f"/api/agents/{_seg(agent)}/calls")["calls"])

    def call(self, agent: str, call_id: str) -> dict[str, Any]:
        """One active call (``CtikitError`` code ``unknown_call`` if it is not active)."""
        path = f"/api/agents/{_seg(agent)}/calls/{_seg(call_id)}"
        return dict(self._json("GET", path)["call"])

    def attach_data(self, agent: str, call_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``data`` into the call's attached data (what an IVR does); returns the call.
        Every console of the agent sees it at once."""
        path = f"/api/agents/{_seg(agent)}/calls/{_seg(call_id)}/data"
        return dict(self._json("POST", path, dict(data))["call"])

    def send_cti_message(self, agent: str, message: str) -> None:
        """A CTI message as if from the agent's console: ``/ANSWER``, ``/DIAL?NUMBER=...``."""
        self._json("POST", f"/api/agents/{_seg(agent)}/cti-message", {"message": message})

    def simulate_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """Make a test call ring at ``agent`` (simulator connector); returns its call ID."""
        body = {"ani": ani, "dnis": dnis, "data": None if data is None else dict(data)}
        path = f"/api/agents/{_seg(agent)}/simulate-call"  # null: the simulator makes it up
        return str(self._json("POST", path, body)["callId"])

    def fire_event(self, agents: Sequence[str], event_type: str, message: str | None = None) -> int:
        """A custom event in every named agent's consoles (a campaign start): components
        hear it with ``sforce.console.addEventListener(event_type, ...)``. Returns how many
        agents it reached."""
        body = {"agents": list(agents), "type": event_type, "message": message}
        return int(self._json("POST", "/api/events", body)["agents"])

    # ------------------------------------------------------------- call logs

    def save_call_log(
        self,
        agent: str,
        call_id: str,
        *,
        subject: str | None = None,
        comments: str | None = None,
        disposition: str | None = None,
    ) -> dict[str, Any]:
        """Save a call log for an active or recent call of ``agent``; returns it."""
        body = {
            "callId": call_id,
            "subject": subject,
            "comments": comments,
            "disposition": disposition,
        }
        return dict(self._json("POST", f"/api/agents/{_seg(agent)}/call-logs", body)["log"])

    def call_log(self, log_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/call-logs/{_seg(log_id)}")["log"])

    def call_logs(
        self,
        *,
        agent: str | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every call log matching the filters, newest first, fetched a page at a time.

        Pages are taken by offset: logs saved while iterating shift them, so a log may come
        twice. Pass ``until`` (an aware datetime) for a fixed set, or use :meth:`export`.
        """
        offset = 0
        while True:
            query = _filters(agent, call_id, since, until)
            query.update(limit=str(page_size), offset=str(offset))
            page = self._json("GET", "/api/call-logs?" + urllib.parse.urlencode(query))
            logs = page["logs"]
            yield from logs
            offset += len(logs)
            if not logs or offset >= page["total"]:
                return

    def export(
        self,
        out: BinaryIO,
        *,
        fmt: str = "csv",
        agent: str | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Stream every matching call log to ``out`` as CSV or JSON (one consistent read on
        the server); returns the bytes written."""
        if fmt not in ("csv", "json"):
            raise ValueError("fmt must be 'csv' or 'json'")
        query = urllib.parse.urlencode(_filters(agent, call_id, since, until))
        written = 0
        with self._open("GET", f"/api/call-logs/export.{fmt}?{query}") as resp:
            while chunk := resp.read(65536):
                out.write(chunk)
                written += len(chunk)
        return written

    # ------------------------------------------------------------- transport

    def _json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        with self._open(method, path, body) as resp:
            raw = resp.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            raise CtikitError(
                f"{method} {path}: the answer is not JSON", code="bad_response", status=200
            ) from None
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise CtikitError(
                f"{method} {path}: unexpected answer {raw[:200]!r}",
                code="bad_response",
                status=200,
            )
        return answer

    def _open(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise _refusal(method, path, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CtikitError(
                f"cannot reach ctikit at {self.url}: {reason}", code="unreachable", status=0
            ) from None


def _seg(value: str) -> str:
    """One path segment: every character that could change the path is escaped."""
    return urllib.parse.quote(value, safe="")


def _filters(
    agent: str | None, call_id: str | None, since: datetime | None, until: datetime | None
) -> dict[str, str]:
    out: dict[str, str] = {}
    if agent is not None:
        out["agent"] = agent
    if call_id is not None:
        out["callId"] = call_id
    for key, when in (("since", since), ("until", until)):
        if when is not None:
            if when.tzinfo is None:
                raise ValueError(f"{key} needs a time zone (an aware datetime)")
            out[key] = when.isoformat()
    return out


def _refusal(method: str, path: str, exc: urllib.error.HTTPError) -> CtikitError:
    try:
        answer = json.loads(exc.read() or b"{}")
    except ValueError:
        answer = {}
    finally:
        exc.close()
    if not isinstance(answer, dict):
        answer = {}
    retry = exc.headers.get("Retry-After") if exc.headers else None
    return CtikitError(
        str(answer.get("error") or f"{method} {path}: HTTP {exc.code} {exc.reason}"),
        code=str(answer.get("code") or f"http_{exc.code}"),
        status=exc.code,
        retry_after=float(retry) if retry and retry.isdigit() else None,
    )
