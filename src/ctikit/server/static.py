"""integration.js per API version, the console and supervisor pages, vendored browser
libraries, example components."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from ..core import opencti
from ..core.errors import CtiRequestError
from ..core.versions import api_table, parse_version
from .keys import CONFIG

WEB = Path(str(files("ctikit") / "web"))
VENDOR = WEB / "vendor"
API_TOKEN = "__CTIKIT_API__"
TABS_TOKEN = "__CTIKIT_TABS__"  # where integration-tabs.js (a function expression) goes
LINK_TOKEN = "__CTIKIT_LINK__"  # where link.js (the postMessage link, shared) goes

routes = web.RouteTableDef()


@lru_cache(maxsize=64)
def render_integration_js(version: int) -> bytes:
    """The library with this version's API table (core/versions.py) and its tab methods
    (integration-tabs.js) injected: each token replaced once. Every version from 20.0 on is
    served; members come and go with it."""
    tabs = (WEB / "integration-tabs.js").read_text().strip()
    table = json.dumps(api_table(version), separators=(",", ":"))
    return fill_script("integration.js", {TABS_TOKEN: tabs, API_TOKEN: table})


def fill_script(name: str, parts: dict[str, str]) -> bytes:
    """web/``name`` with the shared link (link.js) and ``parts`` put in place of their tokens,
    each token present exactly once (a check against editing mistakes)."""
    source = (WEB / name).read_text()
    parts = {LINK_TOKEN: (WEB / "link.js").read_text().strip(), **parts}
    for token in parts:
        if source.count(token) != 1:
            raise RuntimeError(f"{name} must contain {token} exactly once")
    for token, text in parts.items():
        source = source.replace(token, text)
    return source.encode()


@routes.get("/support/console/{version}/integration.js")
async def integration_js(request: web.Request) -> web.Response:
    try:
        version = parse_version(request.match_info["version"])
    except CtiRequestError as exc:
        return web.Response(
            status=404, text=f"// {exc.message}\n", content_type="application/javascript"
        )
    return web.Response(
        body=render_integration_js(version),
        content_type="application/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _page(relative: str) -> web.FileResponse:
    return web.FileResponse(WEB / relative, headers={"Cache-Control": "no-cache"})


@routes.get("/console")
async def console_page(request: web.Request) -> web.FileResponse:
    return _page("console/index.html")


@routes.get("/supervisor")
async def supervisor_page(request: web.Request) -> web.FileResponse:
    return _page("supervisor/index.html")


@routes.get("/static/vendor/{path:.+}")
async def vendored(request: web.Request) -> web.FileResponse:
    """Third-party browser libraries (SIP.js), as native ES modules: ``import`` needs a
    JavaScript Content-Type (nosniff is on), which the platform's MIME table may not give."""
    root = VENDOR.resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound(text="no such file\n")
    kind = "text/javascript" if path.suffix == ".js" else "text/plain"
    return web.FileResponse(
        path, headers={"Content-Type": f"{kind}; charset=utf-8", "Cache-Control": "no-cache"}
    )


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    agents = request.app[CONFIG].agents
    first = agents[0].id if agents else "agent1"
    raise web.HTTPFound(f"/console?agent={first}")


def add_static(app: web.Application, examples_dir: str | None) -> None:
    app.router.add_static("/static/console/", WEB / "console", append_version=False)
    if (WEB / "supervisor").is_dir():
        app.router.add_static("/static/supervisor/", WEB / "supervisor")
    if examples_dir:
        app.router.add_static("/examples/", examples_dir)


@lru_cache(maxsize=64)
def render_opencti_js(version: int) -> bytes:
    """``sforce.opencti`` (Lightning) of this version (core/opencti.py)."""
    table = json.dumps(opencti.lightning_table(version), separators=(",", ":"))
    return fill_script("opencti.js", {API_TOKEN: table})


@lru_cache(maxsize=64)
def render_interaction_js(version: int) -> bytes:
    """``sforce.interaction`` (Classic) of this version (core/opencti.py)."""
    table = json.dumps(opencti.classic_table(version), separators=(",", ":"))
    return fill_script("interaction.js", {API_TOKEN: table})


def _script(body: bytes) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _no_script(message: str) -> web.Response:
    return web.Response(status=404, text=f"// {message}\n", content_type="application/javascript")


# Real softphones load the minified name, the plain one, or the Lightning script directly
# under the version (the guide's pages show each).
@routes.get("/support/api/{version}/lightning/opencti_min.js")
@routes.get("/support/api/{version}/lightning/opencti.js")
@routes.get("/support/api/{version}/opencti_min.js")
async def opencti_js(request: web.Request) -> web.Response:
    try:
        version = opencti.parse_version(request.match_info["version"], opencti.LIGHTNING_MIN)
    except CtiRequestError as exc:
        return _no_script(exc.message)
    return _script(render_opencti_js(version))


@routes.get("/support/api/{version}/interaction.js")
async def interaction_js(request: web.Request) -> web.Response:
    try:
        version = opencti.parse_version(request.match_info["version"], opencti.CLASSIC_MIN)
    except CtiRequestError as exc:
        return _no_script(exc.message)
    return _script(render_interaction_js(version))
