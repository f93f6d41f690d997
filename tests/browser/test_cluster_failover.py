"""A real console on a two-node cluster: its node is killed, it fails over to the other
node from the list the server gave it, replays what it missed, and every component handler
fires once, in order."""

from __future__ import annotations

import json
import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ctikit.testing import CtikitProcess, free_port, run_ctikit

PASSWORD = "browser-cluster-password"


lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py


class Node:
    """A cluster node process (ctikit.testing.CtikitProcess) at a fixed port."""

    def __init__(self, config: Path, port: int, redis_url: str, name: str, log: Path) -> None:
        self._p = CtikitProcess(
            ["serve", "--config", str(config), "--port", str(port), "--cluster", redis_url,
             "--node-id", name],
            log,
        )  # fmt: skip
        self.url = self._p.url

    def kill(self) -> None:
        self._p.stop(kill=True)


class TwoNodes:
    """Enough of the browser conftest's Server for harness_lib: api() and console_url()."""

    def __init__(self, root: Path, redis_url: str, component_url: str, agent: str) -> None:
        database = f"sqlite:///{root / 'cluster.db'}"
        ports = [free_port(), free_port()]
        nodes = ", ".join(f'"http://127.0.0.1:{p}"' for p in ports)
        config = root / "cluster.toml"
        config.write_text(
            f'[server]\ndatabase = "{database}"\ncluster_prefix = "b{secrets.token_hex(4)}:"\n'
            f"cluster_lease_seconds = 1.5\ncluster_nodes = [{nodes}]\n\n"
            f'[[components]]\nname = "harness"\n'
            f'url = "{component_url}/components/harness.html?v=66"\n\n'
            f'[[components]]\nname = "harness2"\n'
            f'url = "{component_url}/components/harness.html?v=31&name=second"\n'
        )
        run_ctikit("user", "add", agent, "--password-stdin", "--database", database, stdin=PASSWORD)
        scopes = ["--scope", "calls:attach", "--scope", "calls:control", "--scope", "logs:read"]
        out = run_ctikit("token", "create", "svc", *scopes, "--database", database).stdout
        self.service_token = out.strip().splitlines()[-1].split()[-1]
        self.a = Node(config, ports[0], redis_url, "a", root / "a.log")
        self.b = Node(config, ports[1], redis_url, "b", root / "b.log")
        self.url = self.b.url  # the REST API is used through the node that stays up
        self.agent = agent
        self.console_node = self.a  # where the console page comes from

    def api(self, method: str, path: str, body: Any = None, **_: Any) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.service_token}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def login_cookie(self, context: Any) -> None:
        req = urllib.request.Request(
            self.console_node.url + "/api/login",
            data=json.dumps({"username": self.agent, "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        context.add_cookies(
            [{"name": "ctikit_session", "value": token, "url": self.console_node.url,
              "httpOnly": True,
              "sameSite": "Strict"}]
        )  # fmt: skip

    def console_url(self, agent: str) -> str:
        return f"{self.console_node.url}/console?agent={agent}"

    def stop(self) -> None:
        self.a.kill()
        self.b.kill()


@pytest.fixture
def two_nodes(
    tmp_path: Path, redis_server: Any, ctikit_server: Any, agent: str
) -> Iterator[TwoNodes]:
    nodes = TwoNodes(tmp_path, redis_server.url, ctikit_server.component_url, agent)
    try:
        yield nodes
    finally:
        nodes.stop()


def test_console_fails_over_to_another_node_and_misses_nothing(
    browser: Any, two_nodes: TwoNodes, agent: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        two_nodes.login_cookie(context)
        page = context.new_page()
        console = lib.open_console(page, two_nodes, agent)
        badge = page.get_by_test_id("connection-status")
        expect(badge).to_have_attribute("data-state", "connected")
        h = console.h1
        begins, ends = h.listen("cti.onCallBegin"), h.listen("cti.onCallEnd")
        first = console.simulate()
        assert h.events(begins, 1) == [{"id": first}]
        # The node serving the console dies without a word.
        two_nodes.a.kill()
        # While the console is away, a call ends and another begins (through node b).
        console.hangup(first)
        second = console.simulate(ani="+14155550111")
        # It fails over to node b by itself, replays, and is live again.
        expect(badge).to_have_attribute("data-state", "connected", timeout=15_000)
        assert h.events(begins, 2) == [{"id": first}, {"id": second}]
        assert [e["id"] for e in h.events(ends, 1)] == [first]
        third = console.simulate(ani="+14155550122")
        assert h.events(begins, 3) == [{"id": first}, {"id": second}, {"id": third}]
        page.wait_for_timeout(300)  # a repeat would show up now
        assert h.event_count(begins) == 3 and h.event_count(ends) == 1
        assert lib.wait_until(lambda: console.call_ids() == [second, third], page)
        artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "cluster-failover.png"))
    finally:
        context.close()


def test_config_lists_the_nodes(two_nodes: TwoNodes, agent: str) -> None:
    status, body = two_nodes.api("GET", f"/api/console/config?agent={agent}")
    assert status == 200, body
    assert body["nodes"] == [two_nodes.a.url, two_nodes.b.url]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", body["nodes"][0])


def test_hold_from_the_answer_callback_on_a_node_without_the_connector(
    browser: Any, two_nodes: TwoNodes, agent: str
) -> None:
    """A command's reply means it happened in a cluster too: the console's node forwards
    /ANSWER to the node that drives the connector and replies once the call is connected,
    so a /HOLD sent from the callback finds it connected."""
    drives = {n: _health(n.url)["cluster"]["drivesConnector"] for n in (two_nodes.a, two_nodes.b)}
    assert sorted(drives.values()) == [False, True], drives
    two_nodes.console_node = next(n for n, leads in drives.items() if not leads)
    two_nodes.url = two_nodes.console_node.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        two_nodes.login_cookie(context)
        page = context.new_page()
        console = lib.open_console(page, two_nodes, agent)
        call_id = console.simulate()
        lib.wait_until(lambda: console.calls(), page)
        got = console.h1.eval(lib.ANSWER_THEN_HOLD)
        assert got == {"answer": {"success": True}, "hold": {"success": True}}, got
        assert [(c["id"], c["lineState"]) for c in console.calls()] == [(call_id, "held")]
    finally:
        context.close()


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/api/health", timeout=10) as resp:
        return dict(json.loads(resp.read()))
