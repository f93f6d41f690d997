"""Operators' endpoints: metrics, the audit log, webhooks (docs/monitoring.md, webhooks.md)."""

from __future__ import annotations

from typing import Any

from ..webhooks import EVENT_NAMES
from ..webhooks_api import SECRET_PATTERN, URL_PATTERN
from .parts import _body, _errors, _ok_all, _resp

_PAGE = [
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
]
_TIME = {"type": "string", "format": "date-time"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 255}
_NULL_TEXT = {"type": ["string", "null"]}
_ENTRY = {
    "type": "object",
    "required": ["id", "at", "actor", "action", "target", "outcome", "address", "detail"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "target": _NULL_TEXT,
        "outcome": {"enum": ["ok", "failed"]},
        "address": _NULL_TEXT,
        "detail": {"type": "object"},
    },
}
_ENDPOINT = {
    "type": "object",
    "required": ["id", "url", "events", "createdAt", "createdBy"],
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "createdAt": {"type": "string"},
        "createdBy": {"type": "string"},
    },
}
_LETTER = {
    "type": "object",
    "required": ["id", "eventId", "endpoint", "event", "payload", "attempts", "lastError"],
    "properties": {
        "id": {"type": "integer"},
        "eventId": {"type": "string"},
        "endpoint": {"type": "string"},
        "event": {"type": "string"},
        "payload": {"type": "string", "description": "the body as it was sent"},
        "createdAt": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 0},
        "status": {"const": "dead"},
        "lastError": _NULL_TEXT,
    },
}
_LETTER_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}
_EMPTY = _resp(_ok_all({}))

OPS_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (scope metrics:read)",
            "responses": {
                "200": {
                    "description": "The Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_errors(403),
            },
        }
    },
    "/api/audit": {
        "get": {
            "summary": "The audit log, newest first (scope audit:read)",
            "parameters": [
                {"name": "actor", "in": "query", "schema": _TEXT},
                {"name": "action", "in": "query", "schema": _TEXT},
                {"name": "since", "in": "query", "schema": _TIME},
                {"name": "until", "in": "query", "schema": _TIME},
                *_PAGE,
            ],
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "total": {"type": "integer", "minimum": 0},
                            "entries": {"type": "array", "items": _ENTRY},
                        }
                    )
                ),
                **_errors(400, 403),
            },
        }
    },
    "/api/webhooks": {
        "get": {
            "summary": "Webhook endpoints, without their secrets (scope webhooks:manage)",
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "endpoints": {"type": "array", "items": _ENDPOINT},
                            "events": {"type": "array", "items": {"type": "string"}},
                        }
                    )
                ),
                **_errors(403),
            },
        },
        "post": {
            "summary": "Register a webhook endpoint; the answer shows its secret once",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["url", "events"],
                    "properties": {
                        "url": {"type": "string", "maxLength": 2000, "pattern": URL_PATTERN},
                        "events": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"enum": sorted(EVENT_NAMES)},
                        },
                        "secret": {"type": "string", "pattern": SECRET_PATTERN},
                    },
                }
            ),
            "responses": {
                "201": _resp(_ok_all({"endpoint": _ENDPOINT, "secret": {"type": "string"}})),
                **_errors(400, 403, 409, 413, _409="At most 100 endpoints (code limit_exceeded)"),
            },
        },
    },
    "/api/webhooks/{endpoint}": {
        "delete": {
            "summary": "Remove an endpoint and what is still owed to it",
            "parameters": [
                {"name": "endpoint", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": _EMPTY, **_errors(403, 404)},
        }
    },
    "/api/webhooks/dead-letters": {
        "get": {
            "summary": "Deliveries given up after webhook_max_attempts, oldest first",
            "parameters": _PAGE,
            "responses": {
                "200": _resp(
                    _ok_all(
                        {
                            "total": {"type": "integer", "minimum": 0},
                            "deadLetters": {"type": "array", "items": _LETTER},
                        }
                    )
                ),
                **_errors(400, 403),
            },
        }
    },
    "/api/webhooks/dead-letters/{id}/retry": {
        "post": {
            "summary": "Put a dead letter back in line",
            "parameters": [_LETTER_ID],
            "responses": {"200": _EMPTY, **_errors(400, 403, 404)},
        }
    },
    "/api/webhooks/dead-letters/{id}": {
        "delete": {
            "summary": "Discard a dead letter",
            "parameters": [_LETTER_ID],
            "responses": {"200": _EMPTY, **_errors(400, 403, 404)},
        }
    },
}
