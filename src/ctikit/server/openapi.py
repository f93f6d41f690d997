"""The OpenAPI 3.1 description of the REST API, served at ``/api/openapi.json``.

It describes what the handlers in ``rest.py`` really do, statuses and constraints included:
schemathesis checks the server against it (tests/fuzz/test_rest_fuzz.py, docs/fuzzing.md).
Patterns are ECMA-262 (JSON Schema), where ``$`` is the end of the string; the server's
Python patterns spell it ``\\Z``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core.commands import MAX_MESSAGE_LENGTH
from ..core.model import Limits
from ..storage.records import CALL_TYPES, MAX_SHORT_TEXT
from .auth import SESSION_COOKIE
from .service import MAX_CAMPAIGN_AGENTS, MAX_COMMENTS, MAX_SUBJECT

openapi_routes = web.RouteTableDef()

_LIMITS = Limits()

# ------------------------------------------------------------------- constraints

#: ``model.AGENT_ID_RE``.
AGENT_ID_PATTERN = "^[A-Za-z0-9._@+-]{1,64}$"
#: ``commands.NUMBER_RE``: what may be dialled, and a simulated call's ANI and DNIS.
NUMBER_PATTERN = "^\\+?[0-9A-Za-z*#._-]{1,64}$"
# What Python's str.strip() removes (str.isspace), beyond the ASCII controls and space.
_SPACES = "\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
#: A call ID (``registry._check_call_id``, ``commands.CALL_ID_RE``): no control characters,
#: and not only white space; 1 to 255 characters (``maxLength``).
CALL_ID_PATTERN = "^[^\\x00-\\x1f\\x7f]*[^\\x00-\\x20\\x7f" + _SPACES + "][^\\x00-\\x1f\\x7f]*$"
#: Text the call-log store keeps (PostgreSQL text cannot hold NUL).
NO_NUL_PATTERN = "^[^\\x00]*$"

_STRICT_JSON = (
    "Strict JSON: nested at most 32 deep, no NaN or Infinity, no lone surrogate escapes "
    "(each is a 400)."
)

_AGENT_ID = {
    "type": "string",
    "pattern": AGENT_ID_PATTERN,
    "description": "An agent ID: 1 to 64 letters, digits and . _ @ + -",
    "examples": ["agent1"],
}
_AGENT = {
    "name": "agent",
    "in": "path",
    "required": True,
    "description": "The agent (a malformed ID is a 400)",
    "schema": _AGENT_ID,
}
_CALL = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "description": "An active call of the agent",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": _LIMITS.max_id_length,
        "pattern": CALL_ID_PATTERN,
    },
}
_FILTERS = [
    {
        "name": "agent",
        "in": "query",
        "description": "Only this agent's logs (one the caller may read: else 403)",
        "schema": _AGENT_ID,
    },
    {
        "name": "callId",
        "in": "query",
        "description": "Only this call's logs",
        "schema": {"type": "string"},
    },
    {
        "name": "since",
        "in": "query",
        "description": "Created at or after (with a time zone, e.g. Z)",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "Created before (with a time zone, e.g. Z)",
        "schema": {"type": "string", "format": "date-time"},
    },
]

# --------------------------------------------------------------------- responses

_ERR = {"$ref": "#/components/schemas/Error"}

#: Why each error status is answered, unless an operation says more.
_WHY = {
    400: "Bad request: a malformed agent ID, parameter or body (code bad_request, or "
    "limit_exceeded for a field over its limit)",
    401: "No credentials, or bad, expired or revoked ones (code unauthorized)",
    403: "The caller may not do this (code forbidden): another agent's calls, another team's, "
    "a supervisor changing anything, a service without the scope",
    404: "No such call (code unknown_call) or call log (code not_found)",
    409: "Not possible in the current state (code command_rejected or unsupported)",
    413: "Over a size limit (code limit_exceeded): a body over 1 MiB, or what it holds",
    503: "Cluster mode: this node cannot reach the shared state in Redis now (code "
    "unavailable); try again",
}


def _resp(schema: dict[str, Any], desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _error(status: int, desc: str | None = None) -> dict[str, Any]:
    out = _resp(_ERR, desc or _WHY[status])
    if status in (429, 503):
        out["headers"] = {
            "Retry-After": {
                "required": True,
                "description": "Seconds to wait",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        }
    if status == 401:
        out["headers"] = {
            "WWW-Authenticate": {
                "required": True,
                "description": 'Bearer realm="ctikit"',
                "schema": {"type": "string"},
            }
        }
    return out


def _errors(*codes: int, **why: str) -> dict[str, Any]:
    """Error responses of an operation that needs credentials (401 always; 503 always, as
    every such operation may need the cluster's Redis).

    ``why`` overrides a description: ``_403="..."``.
    """
    return {str(c): _error(c, why.get(f"_{c}")) for c in sorted({401, 503, *codes})}


def _ok(props: dict[str, Any], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", *required],
        "properties": {"success": {"const": True}, **props},
    }


def _ok_all(props: dict[str, Any]) -> dict[str, Any]:
    """A success body that always holds every one of ``props``."""
    return _ok(props, required=tuple(props))


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


_CALLS = {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}
_LOGS = {"type": "array", "items": {"$ref": "#/components/schemas/CallLog"}}
_ROLE = {"enum": ["agent", "supervisor", "service"]}
_PUBLIC: list[dict[str, list[str]]] = []  # ``security`` of an operation that needs none

# -------------------------------------------------------------------------- paths

_PATHS: dict[str, Any] = {
    "/api/health": {
        "get": {
            "summary": "Liveness",
            "security": _PUBLIC,
            "responses": {
                "200": _resp(
                    _ok(
                        {
                            "status": {"const": "ok"},
                            "connector": {"type": "string"},
                            "connections": {"type": "integer", "minimum": 0},
                            "cluster": {
                                "type": "object",
                                "description": "Only on a cluster node",
                                "required": ["node", "epoch", "drivesConnector", "subscribed"],
                                "properties": {
                                    "node": {"type": "string"},
                                    "epoch": {"type": "string"},
                                    "drivesConnector": {"type": "boolean"},
                                    "subscribed": {"type": "boolean"},
                                },
                            },
                        },
                        required=("status", "connector", "connections"),
                    )
                ),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": _PUBLIC,
            "responses": {"200": _resp({"type": "object", "required": ["openapi", "paths"]})},
        }
    },
    "/api/login": {
        "post": {
            "summary": "Password login: a signed token (for Authorization: Bearer) and the "
            f"{SESSION_COOKIE} cookie (HttpOnly, SameSite=Strict) for consoles",
            "security": _PUBLIC,
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                    },
                }
            ),
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "token": {"type": "string"},
                            "expiresAt": {"type": "number"},
                            "user": {"type": "string"},
                            "role": _ROLE,
                            "agent": {"type": ["string", "null"]},
                            "team": {"type": ["string", "null"]},
                        }
                    ),
                    "Logged in; the Set-Cookie header holds the session cookie",
                ),
                "400": _error(400, "The body is not a JSON object"),
                "401": _error(
                    401, "Wrong user name or password, or not strings (code unauthorized)"
                ),
                "413": _error(413),
                "429": _error(
                    429,
                    "Five failures for a user name within a minute lock it for the rest of "
                    "that minute (code rate_limited); Retry-After says how long",
                ),
            },
        }
    },
    "/api/logout": {
        "post": {
            "summary": "Clear the session cookie (a token stays valid until it expires)",
            "security": _PUBLIC,
            "responses": {"200": _resp(_ok({}), "The Set-Cookie header clears the cookie")},
        }
    },
    "/api/whoami": {
        "get": {
            "summary": "Who the credentials stand for",
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "user": {"type": "string"},
                            "role": _ROLE,
                            "agent": {"type": ["string", "null"]},
                            "team": {"type": ["string", "null"]},
                            "scopes": {"type": "array", "items": {"type": "string"}},
                            "demo": {"type": "boolean"},
                        }
                    )
                ),
                **_errors(),
            },
        }
    },
    "/api/console/config": {
        "get": {
            "summary": "What an agent's console page needs: components, connector, agents",
            "parameters": [
                {
                    "name": "agent",
                    "in": "query",
                    "required": True,
                    "description": "The agent whose console this is (a supervisor's is read-only)",
                    "schema": _AGENT_ID,
                }
            ],
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "agent": {"type": "string"},
                            "user": {
                                "type": "object",
                                "required": ["name", "role", "readOnly"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "role": _ROLE,
                                    "readOnly": {"type": "boolean"},
                                },
                            },
                            "components": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "url", "height"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "url": {"type": "string"},
                                        "height": {"type": "integer"},
                                    },
                                },
                            },
                            "connector": {
                                "type": "object",
                                "required": ["name", "canPlaceCalls"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "canPlaceCalls": {"type": "boolean"},
                                },
                            },
                            "demo": {"type": "boolean"},
                            "agents": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "extension", "name"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "extension": {"type": ["string", "null"]},
                                        "name": {"type": ["string", "null"]},
                                    },
                                },
                            },
                            "nodes": {"type": "array", "items": {"type": "string"}},
                        }
                    )
                ),
                **_errors(400, 403),
            },
        }
    },
    "/api/agents": {
        "get": {
            "summary": "Agents with state (a service sees all; others themselves and their team)",
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "agents": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "activeCalls", "connections"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "activeCalls": {"type": "integer", "minimum": 0},
                                        "connections": {"type": "integer", "minimum": 0},
                                    },
                                },
                            }
                        }
                    )
                ),
                **_errors(403, _403="A service without the calls:attach scope"),
            },
        }
    },
    "/api/agents/{agent}/calls": {
        "get": {
            "summary": "An agent's active and recent calls",
            "parameters": [_AGENT],
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "calls": _CALLS,
                            "recent": _CALLS,
                            "seq": {"type": "integer", "minimum": 0},
                        }
                    )
                ),
                **_errors(400, 403),
            },
        }
    },
    "/api/agents/{agent}/calls/{call_id}": {
        "get": {
            "summary": "One active call",
            "parameters": [_AGENT, _CALL],
            "responses": {
                "200": _resp(_ok_all({"call": {"$ref": "#/components/schemas/Call"}})),
                **_errors(400, 403, 404, _404="The call is not active (code unknown_call)"),
            },
        }
    },
    "/api/agents/{agent}/calls/{call_id}/data": {
        "post": {
            "summary": "Merge keys into a call's attached data (IVR answers)",
            "parameters": [_AGENT, _CALL],
            "requestBody": _body(
                {
                    "type": "object",
                    "description": "The keys to set (any JSON values). " + _STRICT_JSON,
                }
            ),
            "responses": {
                "200": _resp(_ok_all({"call": {"$ref": "#/components/schemas/Call"}})),
                **_errors(
                    400,
                    403,
                    404,
                    413,
                    _400="A malformed agent ID, call ID or body, or the call's data is not "
                    "an object (cannot merge)",
                    _404="The call is not active (code unknown_call)",
                    _413="The body is over 1 MiB, or the merged data over "
                    f"{_LIMITS.max_data_bytes} bytes of JSON (code limit_exceeded)",
                ),
            },
        }
    },
    "/api/agents/{agent}/simulate-call": {
        "post": {
            "summary": "Make a test call ring at the agent (simulator connector). Without a "
            "body, or without ani, dnis or data, the simulator makes up a caller.",
            "parameters": [_AGENT],
            "requestBody": _body(
                {
                    "type": "object",
                    "properties": {
                        "ani": {"type": ["string", "null"], "pattern": NUMBER_PATTERN},
                        "dnis": {"type": ["string", "null"], "pattern": NUMBER_PATTERN},
                        "data": {
                            "type": ["object", "null"],
                            "description": "The call's attached data. " + _STRICT_JSON,
                        },
                    },
                },
                required=False,
            ),
            "responses": {
                "200": _resp(_ok_all({"callId": {"type": "string"}})),
                **_errors(
                    400,
                    403,
                    409,
                    413,
                    _409="The agent already has its maximum of active calls, or every "
                    "simulator line of the agent is busy (code command_rejected), or the "
                    "connector cannot place test calls (code unsupported)",
                    _413="The body is over 1 MiB, or the call's data (with its ANI and "
                    f"DNIS) over {_LIMITS.max_data_bytes} bytes of JSON (code limit_exceeded)",
                ),
            },
        }
    },
    "/api/agents/{agent}/cti-message": {
        "post": {
            "summary": "Send a CTI message as if from the agent's console (sendCTIMessage)",
            "parameters": [_AGENT],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": {
                            "type": "string",
                            "maxLength": MAX_MESSAGE_LENGTH,
                            "description": "Free text, or a command (/ANSWER, "
                            "/DIAL?NUMBER=..., docs/protocol.md); a malformed command is a "
                            "400, one the call state forbids a 409",
                        }
                    },
                }
            ),
            "responses": {
                "200": _resp(_ok({})),
                **_errors(
                    400,
                    403,
                    409,
                    413,
                    _409="The command is not possible now, or the telephony refused it "
                    "(code command_rejected)",
                    _413="The body is over 1 MiB (code limit_exceeded)",
                ),
            },
        }
    },
    "/api/events": {
        "post": {
            "summary": "Fire a custom event (sforce.console.addEventListener) in many "
            "agents' consoles at once, e.g. a campaign start. A service needs the "
            "calls:control scope; an agent may name only itself.",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["agents", "type"],
                    "properties": {
                        "agents": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_CAMPAIGN_AGENTS,
                            "items": _AGENT_ID,
                            "description": "Agent IDs; one named twice gets the event once",
                        },
                        "type": {"type": "string", "minLength": 1, "maxLength": 255},
                        "message": {
                            "type": ["string", "null"],
                            "description": f"At most {_LIMITS.max_data_bytes} bytes of UTF-8 "
                            "(else 413)",
                        },
                    },
                }
            ),
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "agents": {
                                "type": "integer",
                                "minimum": 1,
                                "description": "How many agents got the event",
                            }
                        }
                    )
                ),
                **_errors(
                    400,
                    403,
                    413,
                    _403="A service without the calls:control scope, or an agent or "
                    "supervisor naming another agent",
                    _413=f"More than {MAX_CAMPAIGN_AGENTS} agents, a message over "
                    f"{_LIMITS.max_data_bytes} bytes, or a body over 1 MiB "
                    "(code limit_exceeded)",
                ),
            },
        }
    },
    "/api/agents/{agent}/call-logs": {
        "post": {
            "summary": "Save a call log for an active or recent call (agents only: no "
            "service scope allows it)",
            "parameters": [_AGENT],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["callId"],
                    "properties": {
                        "callId": {"type": "string"},
                        "subject": {
                            "type": ["string", "null"],
                            "maxLength": MAX_SUBJECT,
                            "pattern": NO_NUL_PATTERN,
                        },
                        "comments": {
                            "type": ["string", "null"],
                            "maxLength": MAX_COMMENTS,
                            "pattern": NO_NUL_PATTERN,
                            "description": f"At most {MAX_COMMENTS} characters and as many "
                            "bytes of UTF-8",
                        },
                        "disposition": {
                            "type": ["string", "null"],
                            "maxLength": MAX_SHORT_TEXT,
                            "pattern": NO_NUL_PATTERN,
                        },
                    },
                }
            ),
            "responses": {
                "201": _resp(_ok_all({"log": {"$ref": "#/components/schemas/CallLog"}})),
                **_errors(
                    400,
                    403,
                    404,
                    413,
                    _403="Another agent's call, a supervisor, or a service (no service "
                    "scope saves call logs)",
                    _404="The call is neither active nor among the agent's recent calls "
                    "(code unknown_call)",
                    _413="The body is over 1 MiB (code limit_exceeded)",
                ),
            },
        }
    },
    "/api/call-logs": {
        "get": {
            "summary": "List call logs, newest first (a service with logs:read sees all; an "
            "agent its own; a supervisor its team's)",
            "parameters": [
                *_FILTERS,
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0},
                },
            ],
            "responses": {
                "200": _resp(_ok_all({"total": {"type": "integer", "minimum": 0}, "logs": _LOGS})),
                **_errors(400, 403),
            },
        }
    },
    "/api/call-logs/export.csv": {
        "get": {
            "summary": "Export call logs as CSV (oldest first)",
            "parameters": _FILTERS,
            "responses": {
                "200": {
                    "description": "CSV (RFC 4180), a header line then one line per log",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **_errors(400, 403),
            },
        }
    },
    "/api/call-logs/export.json": {
        "get": {
            "summary": "Export call logs as a JSON array (oldest first)",
            "parameters": _FILTERS,
            "responses": {"200": _resp(_LOGS), **_errors(400, 403)},
        }
    },
    "/api/call-logs/{log_id}": {
        "get": {
            "summary": "One call log",
            "parameters": [
                {"name": "log_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _resp(_ok_all({"log": {"$ref": "#/components/schemas/CallLog"}})),
                **_errors(
                    403,
                    404,
                    _403="Another agent's log, another team's, or a service without logs:read",
                    _404="No such call log (code not_found)",
                ),
            },
        }
    },
}

# --------------------------------------------------------------------- components

#: Every ``code`` the REST API answers (docs/protocol.md).
ERROR_CODES = [
    "bad_request",
    "unknown_call",
    "limit_exceeded",
    "command_rejected",
    "unsupported",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "rate_limited",
    "internal_error",
    "unavailable",
    "corrupt_state",
]

_TIME = {"type": "string", "format": "date-time"}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["success", "error", "code"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "minLength": 1},
            "code": {
                "enum": ERROR_CODES,
                "description": "internal_error comes with a 500 (a server bug); unavailable "
                "and corrupt_state only in cluster mode (Redis)",
            },
        },
    },
    "Call": {
        "type": "object",
        "required": [
            "id",
            "type",
            "label",
            "data",
            "startedAt",
            "lineState",
            "muted",
            "answeredAt",
            "endedAt",
            "duration",
            "disposition",
            "ani",
            "dnis",
        ],
        "properties": {
            "id": {"type": "string"},
            "type": {"enum": ["INBOUND", "OUTBOUND", "INTERNAL"]},
            "label": {"type": ["string", "null"]},
            "data": {"description": "Attached data: any JSON value (usually an object)"},
            "startedAt": {"type": "number", "description": "Seconds since the epoch"},
            "lineState": {
                "enum": ["ringing", "dialing", "connected", "held", None],
                "description": "null for calls a component began (no line of ctikit's)",
            },
            "muted": {"type": "boolean"},
            "answeredAt": {"type": ["number", "null"]},
            "endedAt": {"type": ["number", "null"]},
            "duration": {"type": ["number", "null"], "minimum": 0},
            "disposition": {"type": ["string", "null"]},
            "ani": {"type": ["string", "null"]},
            "dnis": {"type": ["string", "null"]},
        },
    },
    "CallLog": {
        "type": "object",
        "required": [
            "id",
            "created_at",
            "agent_id",
            "call_id",
            "call_type",
            "label",
            "ani",
            "dnis",
            "started_at",
            "ended_at",
            "duration_seconds",
            "disposition",
            "subject",
            "comments",
            "attached_data",
        ],
        "properties": {
            "id": {"type": "string"},
            "created_at": _TIME,
            "agent_id": {"type": "string"},
            "call_id": {"type": "string"},
            "call_type": {"enum": list(CALL_TYPES)},
            "label": {"type": ["string", "null"]},
            "ani": {"type": ["string", "null"]},
            "dnis": {"type": ["string", "null"]},
            "attached_data": {"description": "Any JSON value"},
            "started_at": _nullable(_TIME),
            "ended_at": _nullable(_TIME),
            "duration_seconds": {"type": ["integer", "null"], "minimum": 0},
            "disposition": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "comments": {"type": ["string", "null"]},
        },
    },
}

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
    "paths": _PATHS,
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
        "schemas": _SCHEMAS,
    },
}


@openapi_routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
