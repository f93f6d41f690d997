"""The OpenAPI 3.1 description of the REST API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .service import MAX_CAMPAIGN_AGENTS

openapi_routes = web.RouteTableDef()

_ERR = {"$ref": "#/components/schemas/Error"}
_AGENT = {
    "name": "agent",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._@+-]{1,64}$"},
}
_CALL = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_FILTERS = [
    {"name": "agent", "in": "query", "schema": {"type": "string"}},
    {"name": "callId", "in": "query", "schema": {"type": "string"}},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
]


def _resp(schema: dict[str, Any], desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


_AUTH_ERRORS = (401, 403)


def _errors(*codes: int) -> dict[str, Any]:
    # Every operation but the public ones needs a login or a service token.
    return {str(c): _resp(_ERR, "error") for c in sorted({*codes, *_AUTH_ERRORS})}


def _ok(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success"],
        "properties": {"success": {"const": True}, **props},
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "ctikit REST API",
        "version": "1",
        "description": "Back-office access to ctikit: agents' calls, attached data "
        "(IVR), call logs. Errors: {success:false, error, code}.",
    },
    "paths": {
        "/api/health": {
            "get": {
                "summary": "Liveness",
                "responses": {"200": _resp(_ok({"status": {"type": "string"}}))},
            }
        },
        "/api/agents": {
            "get": {
                "summary": "Agents with state (a service sees all; others themselves and "
                "their team)",
                "responses": {
                    "200": _resp(_ok({"agents": {"type": "array", "items": {"type": "object"}}})),
                    **_errors(),
                },
            }
        },
        "/api/agents/{agent}/calls": {
            "get": {
                "summary": "An agent's active and recent calls",
                "parameters": [_AGENT],
                "responses": {
                    "200": _resp(
                        _ok(
                            {
                                "calls": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Call"},
                                },
                                "recent": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Call"},
                                },
                                "seq": {"type": "integer"},
                            }
                        )
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/agents/{agent}/calls/{call_id}": {
            "get": {
                "summary": "One active call",
                "parameters": [_AGENT, _CALL],
                "responses": {
                    "200": _resp(_ok({"call": {"$ref": "#/components/schemas/Call"}})),
                    **_errors(400, 404),
                },
            }
        },
        "/api/agents/{agent}/calls/{call_id}/data": {
            "post": {
                "summary": "Merge keys into a call's attached data (IVR answers)",
                "parameters": [_AGENT, _CALL],
                "requestBody": _body({"type": "object"}),
                "responses": {
                    "200": _resp(_ok({"call": {"$ref": "#/components/schemas/Call"}})),
                    **_errors(400, 404, 413),
                },
            }
        },
        "/api/agents/{agent}/simulate-call": {
            "post": {
                "summary": "Make a test call ring at the agent (simulator connector)",
                "parameters": [_AGENT],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "ani": {"type": "string"},
                            "dnis": {"type": "string"},
                            "data": {"type": "object"},
                        },
                    }
                ),
                "responses": {
                    "200": _resp(_ok({"callId": {"type": "string"}})),
                    **_errors(400, 409),
                },
            }
        },
        "/api/agents/{agent}/cti-message": {
            "post": {
                "summary": "Send a CTI message as if from the agent's console",
                "parameters": [_AGENT],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["message"],
                        "properties": {"message": {"type": "string"}},
                    }
                ),
                "responses": {"200": _resp(_ok({})), **_errors(400, 409)},
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
                                "items": _AGENT["schema"],
                            },
                            "type": {"type": "string", "minLength": 1, "maxLength": 255},
                            "message": {"type": ["string", "null"]},
                        },
                    }
                ),
                "responses": {
                    "200": _resp(_ok({"agents": {"type": "integer"}})),
                    **_errors(400, 413),
                },
            }
        },
        "/api/agents/{agent}/call-logs": {
            "post": {
                "summary": "Save a call log for an active or recent call",
                "parameters": [_AGENT],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["callId"],
                        "properties": {
                            "callId": {"type": "string"},
                            "subject": {"type": "string"},
                            "comments": {"type": "string"},
                            "disposition": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    "201": _resp(_ok({"log": {"$ref": "#/components/schemas/CallLog"}})),
                    **_errors(400, 404, 413),
                },
            }
        },
        "/api/call-logs": {
            "get": {
                "summary": "List call logs, newest first",
                "parameters": [
                    *_FILTERS,
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {
                    "200": _resp(
                        _ok(
                            {
                                "total": {"type": "integer"},
                                "logs": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/CallLog"},
                                },
                            }
                        )
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/call-logs/export.csv": {
            "get": {
                "summary": "Export call logs as CSV (oldest first)",
                "parameters": _FILTERS,
                "responses": {
                    "200": {
                        "description": "CSV",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors(400),
                },
            }
        },
        "/api/call-logs/export.json": {
            "get": {
                "summary": "Export call logs as a JSON array (oldest first)",
                "parameters": _FILTERS,
                "responses": {
                    "200": _resp(
                        {"type": "array", "items": {"$ref": "#/components/schemas/CallLog"}}
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/call-logs/{log_id}": {
            "get": {
                "summary": "One call log",
                "parameters": [
                    {"name": "log_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _resp(_ok({"log": {"$ref": "#/components/schemas/CallLog"}})),
                    **_errors(404),
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["success", "error", "code"],
                "properties": {
                    "success": {"const": False},
                    "error": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
            "Call": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "type": {"enum": ["INBOUND", "OUTBOUND", "INTERNAL"]},
                    "label": {"type": ["string", "null"]},
                    "data": {},
                    "startedAt": {"type": "number"},
                    "lineState": {"enum": ["ringing", "dialing", "connected", "held", None]},
                    "muted": {"type": "boolean"},
                    "answeredAt": {"type": ["number", "null"]},
                    "endedAt": {"type": ["number", "null"]},
                    "duration": {"type": ["number", "null"]},
                    "disposition": {"type": ["string", "null"]},
                    "ani": {"type": ["string", "null"]},
                    "dnis": {"type": ["string", "null"]},
                },
            },
            "CallLog": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "created_at": {"type": "string"},
                    "agent_id": {"type": "string"},
                    "call_id": {"type": "string"},
                    "call_type": {"type": "string"},
                    "label": {"type": ["string", "null"]},
                    "ani": {"type": ["string", "null"]},
                    "dnis": {"type": ["string", "null"]},
                    "attached_data": {},
                    "started_at": {"type": ["string", "null"]},
                    "ended_at": {"type": ["string", "null"]},
                    "duration_seconds": {"type": ["integer", "null"]},
                    "disposition": {"type": ["string", "null"]},
                    "subject": {"type": ["string", "null"]},
                    "comments": {"type": ["string", "null"]},
                },
            },
        }
    },
}


@openapi_routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
