"""Open CTI browser tests: a ctikit server whose [open_cti] softphone is one of the test
softphones here (Lightning or Classic), a component server on another origin, and a small
real CRM (aiohttp) with the search and runApex endpoints and record pages.

Origins: console http://127.0.0.1:P, softphones and components http://localhost:C, CRM
http://127.0.0.2:R (three sites, as in production).
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ctikit.server.auth import hash_password
from ctikit.storage import AccountStore, CallLogStore
from ctikit.testing import CtikitProcess

HERE = Path(__file__).parent
COMPONENTS = HERE.parent / "components"
ROOT = HERE.parents[2]
PASSWORD = "opencti-tests-password"
CRM_TOKEN = "crm-secret-token"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


# ----------------------------------------------------------------- the CRM


class LoopThread:
    """An asyncio loop running in a thread of its own; ``close`` stops and closes it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Crm:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _crm_app(crm: Crm) -> web.Application:
    async def search(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {CRM_TOKEN}":
            return web.json_response({"error": "no"}, status=401)
        body = await request.json()
        crm.requests.append({"path": "search", **body})
        text = body.get("searchParams", "")
        records = []
        if "4155550100" in text:
            records.append({"Id": "003A000001", "Name": "Ada Lovelace", "objectType": "Contact"})
        if "many" in text:
            records += [
                {"Id": f"001B00000{i}", "Name": f"Acme {i}", "RecordType": "Account"}
                for i in (1, 2)
            ]
        if "broken" in text:
            return web.Response(text="not json", content_type="text/plain")
        return web.json_response({"records": records})

    async def apex(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {CRM_TOKEN}":
            return web.json_response({"error": "no"}, status=401)
        body = await request.json()
        crm.requests.append({"path": "apex", **body})
        if body.get("methodName") == "slow":
            await asyncio.sleep(4)
        if body.get("methodName") == "fail":
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response(
            {"returnValue": {"echo": body.get("methodParams"), "class": body.get("apexClass")}}
        )

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<!DOCTYPE html><title>CRM</title><h1>CRM {request.path}</h1>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_post("/search", search)
    app.router.add_post("/apex", apex)
    app.router.add_get("/{tail:.*}", page)
    return app


@pytest.fixture(scope="session")
def crm() -> Iterator[Crm]:
    runs = LoopThread()
    holder = Crm(url="")

    async def start() -> web.AppRunner:
        runner = web.AppRunner(_crm_app(holder))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.2", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        holder.url = f"http://127.0.0.2:{port}"
        return runner

    runner = runs.run(start())
    yield holder
    runs.run(runner.cleanup())
    runs.close()


# ----------------------------------------------------------------- component server


def _handler(target: dict[str, str]) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = path.split("?", 1)[0]
            if clean.startswith("/opencti/"):
                return str(HERE / clean[len("/opencti/") :])
            if clean.startswith("/examples/"):
                return str(ROOT / "examples" / clean[len("/examples/") :])
            if clean.startswith("/components/"):
                return str(COMPONENTS / clean[len("/components/") :])
            return str(HERE / "__none__")

        def do_GET(self) -> None:
            if self.path.startswith("/support/"):
                try:
                    with urllib.request.urlopen(target["url"] + self.path, timeout=10) as r:
                        status, body, kind = r.status, r.read(), r.headers["Content-Type"]
                except urllib.error.HTTPError as exc:
                    status, body, kind = exc.code, exc.read(), exc.headers["Content-Type"]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# ----------------------------------------------------------------- ctikit with a softphone


@dataclass
class OcServer:
    url: str
    component_url: str
    crm: Crm
    proc: CtikitProcess
    store: CallLogStore
    accounts: AccountStore
    runs: LoopThread
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, coro: Any) -> Any:
        return self.runs.run(coro)

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.run(
                self.accounts.add_user(
                    user, role="agent", password_hash=_HASH, agent_id=user, team=None
                )
            )
            status, body = self.api(
                "POST", "/api/login", {"username": user, "password": PASSWORD}, auth=None
            )
            assert status == 200, body
            self.tokens[user] = body["token"]
        return self.tokens[user]

    def api(self, method: str, path: str, body: Any = None, *, auth: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth is not None:
            req.add_header("Authorization", f"Bearer {self.token(auth)}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, context: Any, user: str) -> None:
        context.add_cookies(
            [{"name": "ctikit_session", "value": self.token(user), "url": self.url}]
        )


_HASH = hash_password(PASSWORD)
#: The softphone each server kind loads, on the component server.
SOFTPHONES = {
    "lightning": "/opencti/lightning.html?vendor=acme",
    "classic": "/opencti/classic.html?vendor=acme",
    "example": "/examples/opencti-softphone/index.html",
}


def _start(kind: str, tmp: Path, crm: Crm) -> tuple[OcServer, ThreadingHTTPServer]:
    target: dict[str, str] = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(target))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    comp = f"http://localhost:{httpd.server_address[1]}"
    db = f"sqlite:///{tmp / 'ctikit.db'}"
    config = tmp / "ctikit.toml"
    config.write_text(
        f"""
[server]
log_level = "debug"

[[components]]
name = "harness"
url = "{comp}/components/harness.html?v=66"

[open_cti]
softphone_url = "{comp}{SOFTPHONES[kind]}"
label = "Acme phone"
height = 420
record_url = "{crm.url}/records/{{objectType}}/{{recordId}}"
search_url = "{crm.url}/search"
apex_url = "{crm.url}/apex"
endpoint_token = "{CRM_TOKEN}"
endpoint_timeout = 2
inbound_objects = ["Contact", "Account"]

[open_cti.settings]
"/reqGeneralInfo/reqInternalName" = "AcmeAdapter"
"/reqDialingOptions/reqLongDistPrefix" = "1"
"""
    )
    args = ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0"]
    args += ["--database", db]
    proc = CtikitProcess(args, tmp / "server.log", cwd=ROOT)
    target["url"] = proc.url
    runs = LoopThread()
    store = runs.run(CallLogStore.open(db))
    server = OcServer(
        url=proc.url,
        component_url=comp,
        crm=crm,
        proc=proc,
        store=store,
        accounts=AccountStore(store),
        runs=runs,
    )
    return server, httpd


@pytest.fixture(scope="session")
def oc_servers(tmp_path_factory: pytest.TempPathFactory, crm: Crm) -> Iterator[dict[str, OcServer]]:
    """Started on first use: "lightning", "classic" and "example" (SOFTPHONES)."""
    httpds: list[ThreadingHTTPServer] = []

    class Lazy(dict[str, OcServer]):
        def __missing__(self, kind: str) -> OcServer:
            server, httpd = _start(kind, tmp_path_factory.mktemp(kind), crm)
            httpds.append(httpd)
            self[kind] = server
            return server

    lazy = Lazy()
    yield lazy
    for server in lazy.values():
        server.run(server.store.close())
        server.proc.stop()
        server.runs.close()
    for httpd in httpds:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def oc_context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()
