"""JSON logs: one object per line, with the agent, call and request a line is about."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from ctikit import logs
from ctikit.testing import CtikitProcess


def _lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        obj = json.loads(line)  # every line, or the test fails here
        assert isinstance(obj, dict)
        out.append(obj)
    return out


def test_a_line_carries_the_bound_ids_and_stays_one_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("ctikit.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with logs.bound(agent="a1", request="r1"):
            with logs.bound(call="c1"):
                logger.warning("two\nlines %s", "\u2028here")
            logger.warning("after the call")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed", extra={"call_id": "c2"})
    finally:
        logger.removeHandler(handler)
    first, second, third = _lines(stream.getvalue())
    assert first["message"] == "two\nlines \u2028here"
    assert (first["agent_id"], first["call_id"], first["request_id"]) == ("a1", "c1", "r1")
    assert first["level"] == "warning" and first["logger"] == "ctikit.test_logs"
    assert "call_id" not in second and second["agent_id"] == "a1"
    assert "agent_id" not in third and third["call_id"] == "c2"
    assert "ValueError: boom" in str(third["exc"])


def test_the_server_logs_json_with_agent_call_and_request_ids(tmp_path: Path) -> None:
    log_path = tmp_path / "ctikit.log"
    server = CtikitProcess(
        ["demo", "--port", "0", "--log-format", "json", "--log-level", "debug"],
        log_path=log_path,
        cwd=tmp_path,
    )
    try:
        req = urllib.request.Request(
            f"{server.url}/api/agents/agent1/calls/call-42",
            headers={"X-Request-Id": "req-from-proxy-1"},
        )
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("call-42 does not exist: expected a 404")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
            assert exc.headers["X-Request-Id"] == "req-from-proxy-1"
        # A header that is not a plain token is replaced, not copied into the log.
        bad = urllib.request.Request(
            f"{server.url}/api/health", headers={"X-Request-Id": "x y\u00e9"}
        )
        with urllib.request.urlopen(bad, timeout=10) as resp:
            made = resp.headers["X-Request-Id"]
            assert made and made != "x y\u00e9"
        ws_url = server.url.replace("http://", "ws://") + "/ws?agent=agent2"
        with connect(ws_url, origin=server.url, additional_headers={"X-Request-Id": "ws-7"}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
    finally:
        assert server.stop() == 0
    lines = _lines(log_path.read_text())
    rest = [x for x in lines if x.get("request_id") == "req-from-proxy-1"]
    assert rest, lines
    assert rest[0]["agent_id"] == "agent1" and rest[0]["call_id"] == "call-42"
    assert "GET /api/agents/agent1/calls/call-42 404" in str(rest[0]["message"])
    assert any(x.get("request_id") == made for x in lines)
    console = [x for x in lines if x.get("request_id") == "ws-7"]
    assert any("console connected" in str(x["message"]) for x in console), lines
    assert all(x["agent_id"] == "agent2" for x in console)
    assert any("listening on" in str(x["message"]) for x in lines)
