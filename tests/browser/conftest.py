"""Browser tests: a real ctikit server, real chromium (Debian's), cross-origin components.

The console is served from ``http://127.0.0.1:PORT`` and the components from
``http://localhost:CPORT``: different origins, as in production (shared/spec/browser-tests.md).
The component server also proxies ``/support/console/...`` to ctikit so that components can
load ``integration.js`` by a relative URL, just as the examples do when ctikit serves them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401  (imported early: a lazy import at exit trips a CPython 3.11.7 bug)
import pytest

from ctikit.server.auth import hash_password
from ctikit.storage import AccountStore, CallLogStore
from ctikit.testing import CtikitProcess

PASSWORD = "browser-tests-password"
_HASH = hash_password(PASSWORD)

pytestmark = pytest.mark.browser


def _load_harness_lib() -> None:
    """Load components/harness_lib.py once as ``ctikit_browser_harness_lib``: test modules
    take it from ``sys.modules`` (components/ is not a package, and with
    --import-mode=importlib test modules cannot import each other)."""
    name = "ctikit_browser_harness_lib"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("components") / "harness_lib.py"
        )
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_load_harness_lib()

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS_DIR = Path(__file__).with_name("components")
EXAMPLES_DIR = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CTIKIT_CHROMIUM", "/usr/bin/chromium")

#: Components every test console loads, by name -> path on the component server.
COMPONENTS = {
    "harness": "/components/harness.html?v=66",
    "harness2": "/components/harness.html?v=31&name=second",
    "caller-card": "/examples/caller-card/index.html",
    "custom-softphone": "/examples/custom-softphone/index.html",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


class _Accounts:
    """Adds users to the server's database from a loop of our own (the server reads
    users from the database, so they work at once)."""

    def __init__(self, db_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.store: CallLogStore = self._run(CallLogStore.open(db_url))
        self.accounts = AccountStore(self.store)
        self.known: set[str] = set()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def ensure_user(self, name: str, *, role: str = "agent", team: str | None = None) -> None:
        if name in self.known:
            return
        agent = name if role == "agent" else None
        self._run(
            self.accounts.add_user(name, role=role, password_hash=_HASH, agent_id=agent, team=team)
        )
        self.known.add(name)

    def close(self) -> None:
        self._run(self.store.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    component_url: str  # http://localhost:CPORT
    proc: subprocess.Popen[str]
    log_path: Path
    accounts: _Accounts
    tokens: dict[str, str]

    def token(self, user: str) -> str:
        """Log ``user`` in (creating an agent of that name if needed); cached."""
        if user not in self.tokens:
            self.accounts.ensure_user(user)
            status, body = self.api(
                "POST", "/api/login", {"username": user, "password": PASSWORD}, auth=None
            )
            assert status == 200, body
            self.tokens[user] = body["token"]
        return self.tokens[user]

    def login(self, context: Any, user: str) -> None:
        """Give a browser context the console session of ``user`` (as /api/login does)."""
        context.add_cookies(
            [
                {
                    "name": "ctikit_session",
                    "value": self.token(user),
                    "url": self.url,
                    "httpOnly": True,
                    "sameSite": "Strict",
                }
            ]
        )

    def api(
        self, method: str, path: str, body: Any = None, *, auth: str | None = "admin-svc"
    ) -> tuple[int, Any]:
        """Call the REST API as ``auth`` (default: a service token with every scope, or a
        user name); returns (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth is not None:
            req.add_header("Authorization", f"Bearer {self.token(auth)}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def console_url(self, agent: str) -> str:
        return f"{self.url}/console?agent={agent}"


def _make_component_handler(ctikit_url: dict[str, str]) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = path.split("?", 1)[0]
            if clean.startswith("/examples/"):
                return str(EXAMPLES_DIR / clean[len("/examples/") :])
            if clean.startswith("/components/"):
                return str(COMPONENTS_DIR / clean[len("/components/") :])
            return str(COMPONENTS_DIR / "__none__")

        def do_GET(self) -> None:
            if self.path.startswith("/support/"):
                with urllib.request.urlopen(ctikit_url["url"] + self.path, timeout=10) as r:
                    body = r.read()
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.headers["Content-Type"])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def ctikit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ctikit")
    target: dict[str, str] = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_component_handler(target))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    component_url = f"http://localhost:{httpd.server_address[1]}"
    args = [
        sys.executable,
        "-m",
        "ctikit",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database",
        f"sqlite:///{tmp / 'ctikit.db'}",
        "--log-level",
        "debug",
    ]
    for name, path in COMPONENTS.items():
        args += ["--component", f"{name}={component_url}{path}"]
    log_path = tmp / "server.log"
    server_proc = CtikitProcess(args[3:], log_path, cwd=ROOT)
    url, proc = server_proc.url, server_proc.proc
    target["url"] = url
    accounts = _Accounts(f"sqlite:///{tmp / 'ctikit.db'}")
    _, service_secret = accounts._run(
        accounts.accounts.create_token(
            "admin-svc", frozenset({"calls:attach", "calls:control", "logs:read"})
        )
    )
    server = Server(
        url=url,
        component_url=component_url,
        proc=proc,
        log_path=log_path,
        accounts=accounts,
        tokens={"admin-svc": service_secret},
    )
    yield server
    accounts.close()
    server_proc.stop()
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


_agent_counter = itertools.count(1)


@pytest.fixture
def agent(request: pytest.FixtureRequest) -> str:
    """A fresh agent ID per test, so tests never share call state."""
    name = re.sub(r"[^A-Za-z0-9]", "", request.node.name)[:40]
    return f"t{next(_agent_counter)}-{name}"


@pytest.fixture
def page(
    browser: Any, request: pytest.FixtureRequest, ctikit_server: Server, agent: str
) -> Iterator[Any]:
    """A page whose browser context is logged in as the test's ``agent``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    ctikit_server.login(context, agent)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors  # tests may assert on uncaught errors
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep
