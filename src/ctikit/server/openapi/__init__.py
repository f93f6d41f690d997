"""The OpenAPI 3.1 description of the REST API, served at ``/api/openapi.json``.

It describes what the handlers in ``rest.py`` really do, statuses and constraints included:
schemathesis checks the server against it (tests/fuzz/test_rest_fuzz.py, docs/fuzzing.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..auth import SESSION_COOKIE
from .components import SCHEMAS
from .ops_paths import OPS_PATHS
from .paths import PATHS

openapi_routes = web.RouteTableDef()

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "ctikit REST API",
        "version": "1",
        "description": "Back-office access to ctikit: agents' calls, attached data "
        "(IVR), call logs, campaign events. Errors: {success: false, error, code}. "
        "Credentials: a login token or a service token (ctk_...), as a Bearer token, the "
        "token query parameter, or the session cookie (which changes need an Origin header "
        "with). Request bodies are strict JSON of at most 1 MiB.",
    },
    "security": [{"bearer": []}, {"token": []}, {"session": []}],
    "paths": {**PATHS, **OPS_PATHS},
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A login token (POST /api/login) or a service token (ctk_...)",
            },
            "token": {
                "type": "apiKey",
                "in": "query",
                "name": "token",
                "description": "The same token as a query parameter (consoles' sockets)",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": "The console's session cookie; a request that changes "
                "something needs an allowed Origin header with it (else 403)",
            },
        },
        "schemas": SCHEMAS,
    },
}


@openapi_routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
