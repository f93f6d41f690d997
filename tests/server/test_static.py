"""integration.js for every served version, the console page."""

from __future__ import annotations

import json
import re
from typing import Any

from ctikit.core.versions import MAX_VERSION, MIN_VERSION, api_table


async def test_integration_js_for_every_version(server: Any) -> None:
    for version in range(MIN_VERSION, MAX_VERSION + 1):
        r = await server.get(f"/support/console/{version}.0/integration.js")
        assert r.status == 200, version
        assert r.headers["Content-Type"].startswith("application/javascript")
        text = await r.text()
        assert "__CTIKIT_API__" not in text
        m = re.search(r"\}\)\((\{.*\})\);\s*$", text, re.S)
        assert m is not None, version
        assert json.loads(m.group(1)) == api_table(version)


async def test_unknown_versions_are_404(server: Any) -> None:
    for bad in ("19.0", "67.0", "abc", "31.5"):
        r = await server.get(f"/support/console/{bad}/integration.js")
        assert r.status == 404, bad


async def test_console_page_served(server: Any) -> None:
    r = await server.get("/console?agent=agent1")
    assert r.status == 200 and "<html" in (await r.text()).lower()
    r = await server.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/console?agent=")


async def test_vendored_modules_are_javascript(server: Any) -> None:
    # Native ES modules: with nosniff, a browser refuses a module without a JavaScript type.
    r = await server.get("/static/vendor/sip.js/lib/index.js")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert 'from "./api/index.js"' in await r.text()
    r = await server.get("/static/vendor/sip.js/LICENSE.md")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "MIT" in await r.text() or "Permission is hereby granted" in await r.text()


async def test_vendor_route_serves_nothing_else(server: Any) -> None:
    for bad in (
        "/static/vendor/sip.js/nope.js",
        "/static/vendor/sip.js/lib",  # a directory
        "/static/vendor/%2e%2e/integration.js",
        "/static/vendor/sip.js/%2e%2e/%2e%2e/integration.js",
        "/static/vendor/..%2f..%2fconsole%2fconsole.js",
    ):
        r = await server.get(bad)
        assert r.status == 404, bad
