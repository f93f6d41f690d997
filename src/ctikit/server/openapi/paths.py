"""The operations of the REST API (``rest.py``), with every status they answer."""

from __future__ import annotations

from typing import Any

from ...core.commands import MAX_MESSAGE_LENGTH
from ...core.presence import PresencePolicy
from ...storage.records import MAX_SHORT_TEXT
from ..auth import SESSION_COOKIE
from ..service import MAX_CAMPAIGN_AGENTS, MAX_COMMENTS, MAX_SUBJECT
from .parts import (
    _AGENT,
    _AGENT_ID,
    _AGENT_STATE,
    _CALL,
    _CALLS,
    _FILTERS,
    _LIMITS,
    _LOGS,
    _PUBLIC,
    _ROLE,
    _STRICT_JSON,
    NO_NUL_PATTERN,
    NUMBER_PATTERN,
    _body,
    _error,
    _errors,
    _ok,
    _ok_all,
    _resp,
)

# -------------------------------------------------------------------------- paths

PATHS: dict[str, Any] = {
    "/api/live": {
        "get": {
            "summary": "Liveness: answers while the server's event loop runs",
            "security": _PUBLIC,
            "responses": {
                "200": _resp(_ok_all({"status": {"const": "live"}, "time": {"type": "number"}}))
            },
        }
    },
    "/api/ready": {
        "get": {
            "summary": "Readiness: the database, Redis (cluster mode) and a connector answer",
            "security": _PUBLIC,
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "status": {"const": "ready"},
                            "checks": {
                                "type": "object",
                                "additionalProperties": {"const": "ok"},
                            },
                        }
                    )
                ),
                "503": {
                    **_error(503, "Not ready (code not_ready): the checks named in failed"),
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["success", "code", "error", "failed", "checks"],
                                "properties": {
                                    "success": {"const": False},
                                    "code": {"const": "not_ready"},
                                    "error": {"type": "string"},
                                    "failed": {"type": "array", "items": {"type": "string"}},
                                    "checks": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            }
                        }
                    },
                },
            },
        }
    },
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
                            "http": {
                                "type": "object",
                                "description": "HTTP connections of this node (ctikit "
                                "serve): open now, most at once, refused over a cap, timed "
                                "out (a request head or body too slow), and the most one "
                                "client address held at once (docs/security.md)",
                                "properties": {
                                    k: {"type": "integer", "minimum": 0}
                                    for k in (
                                        "open",
                                        "peak",
                                        "refused",
                                        "timedOut",
                                        "peakFromOneAddress",
                                    )
                                },
                            },
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
                "403": _error(
                    403,
                    "From a page of another site (Origin, Sec-Fetch-Site), or the user is "
                    "disabled (said only after the right password)",
                ),
                "408": _error(408, "The body did not arrive in time (code timeout)"),
                "413": _error(413),
                "415": _error(415, "A body that is not application/json"),
                "429": _error(
                    429,
                    "Too many failed logins for this user name, or from this address, within "
                    "the login window (code rate_limited); Retry-After says how long",
                ),
                "503": _error(
                    503,
                    "More logins at once than the server checks passwords for (code "
                    "unavailable); Retry-After says when to try again",
                ),
            },
        }
    },
    "/api/logout": {
        "post": {
            "summary": "End every session of the caller's user (the cookie's or the bearer "
            "token's) and clear the cookie; success also when there was no live session",
            "security": _PUBLIC,
            "responses": {
                "200": _resp(_ok({}), "The Set-Cookie header clears the cookie"),
                "403": _error(403, "From a page of another site (Origin, Sec-Fetch-Site)"),
                "415": _error(415, "A body that is not application/json"),
            },
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
                                "required": [
                                    "name",
                                    "canPlaceCalls",
                                    "canConsult",
                                    "canConference",
                                ],
                                "properties": {
                                    "name": {"type": "string"},
                                    "canPlaceCalls": {"type": "boolean"},
                                    "canConsult": {"type": "boolean"},
                                    "canConference": {"type": "boolean"},
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
                            "console": {
                                "type": "object",
                                "description": "The [console] settings (docs/console.md)",
                                "required": [
                                    "dispositions",
                                    "otherDisposition",
                                    "ringtone",
                                    "tabTitle",
                                    "notifications",
                                    "shortcuts",
                                ],
                                "properties": {
                                    "dispositions": {"type": "array", "items": {"type": "string"}},
                                    "otherDisposition": {"type": "boolean"},
                                    "ringtone": {"type": "boolean"},
                                    "tabTitle": {"type": "boolean"},
                                    "notifications": {"type": "boolean"},
                                    "shortcuts": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                        }
                    )
                ),
                **_errors(400, 403),
            },
        }
    },
    "/api/phone-numbers": {
        "get": {
            "summary": "Phone numbers formatted for people (libphonenumber's rules)",
            "parameters": [
                {
                    "name": "number",
                    "in": "query",
                    "required": True,
                    "description": "A number, e.g. +14155550123; repeat for more (at most 50)",
                    "style": "form",
                    "explode": True,
                    "schema": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 64},
                        "minItems": 1,
                        "maxItems": 50,
                    },
                }
            ],
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "numbers": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": [
                                        "number",
                                        "valid",
                                        "international",
                                        "national",
                                        "e164",
                                    ],
                                    "properties": {
                                        "number": {"type": "string"},
                                        "valid": {"type": "boolean"},
                                        "international": {"type": "string"},
                                        "national": {"type": "string"},
                                        "e164": {"type": "string"},
                                    },
                                },
                            }
                        }
                    )
                ),
                **_errors(400),
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
    "/api/agents/{agent}/state": {
        "get": {
            "summary": "The agent's state (available, away, offline, acw: after-call work) "
            "and the away reasons it may choose from",
            "parameters": [_AGENT],
            "responses": {
                "200": _resp(_ok_all(_AGENT_STATE)),
                **_errors(400, 403),
            },
        },
        "put": {
            "summary": "Choose the agent's state. Only an available agent is offered calls; "
            "after-call work cannot be chosen (it follows an answered call, see "
            "[agent_state] acw_seconds)",
            "parameters": [_AGENT],
            "requestBody": _body(
                {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": {
                                "status": {"enum": ["available", "offline"]},
                                "reason": {"type": "null"},
                            },
                        },
                        {
                            "type": "object",
                            "required": ["status", "reason"],
                            "properties": {
                                "status": {"const": "away"},
                                "reason": {
                                    "enum": list(PresencePolicy().away_reasons),
                                    "description": "One of the configured away reasons "
                                    "([agent_state] away_reasons; the defaults are listed)",
                                },
                            },
                        },
                    ]
                }
            ),
            "responses": {
                "200": _resp(_ok_all(_AGENT_STATE)),
                **_errors(
                    400,
                    403,
                    413,
                    _400="An unknown status, away without a configured reason, or a reason "
                    "for another status (code bad_request)",
                    _403="Not the agent itself (a supervisor reads but does not change it), "
                    "or a service without the calls:control scope",
                ),
            },
        },
    },
    "/api/agents/{agent}/state/history": {
        "get": {
            "summary": "The agent's stored state changes, oldest first (for reports); "
            "readable by whoever may read the agent's call logs",
            "parameters": [
                _AGENT,
                {
                    "name": "since",
                    "in": "query",
                    "description": "Changes at or after (with a time zone, e.g. Z)",
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
            ],
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "changes": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "agent": {"type": "string"},
                                        "status": {"enum": ["available", "away", "offline", "acw"]},
                                        "reason": {"type": ["string", "null"]},
                                        "previous": {"type": "string"},
                                        "startedAt": {"type": "string", "format": "date-time"},
                                    },
                                },
                            }
                        }
                    )
                ),
                **_errors(400, 403),
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
                            "400, one the call state forbids a 409. A command is answered "
                            "once the telephony reported it done (the call connected, "
                            "held...), or with its failure",
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
                    504,
                    _409="The command is not possible now, the telephony refused it or "
                    "reported it failed, or the call ended first (code command_rejected)",
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
                                "minimum": 0,
                                "description": "How many agents got the event (those "
                                "the server keeps state for: a console or calls)",
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
                    429,
                    _403="Another agent's call, a supervisor, or a service (no service "
                    "scope saves call logs)",
                    _429="Over the agent's call-log saves per minute (code rate_limited, "
                    "Retry-After)",
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
