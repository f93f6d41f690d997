"""Building blocks of the OpenAPI document: the server's constraints as JSON Schema, and
helpers for responses and bodies.

Patterns are ECMA-262 (JSON Schema), where ``$`` is the end of the string; the server's
Python patterns spell it ``\\Z``.
"""

from __future__ import annotations

from typing import Any

from ...core.model import Limits

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
    504: "The telephony did not report the command's outcome within command_timeout (code "
    "timeout): it was sent, and may still happen; the call's events will tell",
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


_AGENT_STATE: dict[str, Any] = {
    "agent": {"type": "string"},
    "status": {"enum": ["available", "away", "offline", "acw"]},
    "reason": {"type": ["string", "null"], "description": "Why away (a configured reason)"},
    "since": {
        "type": ["number", "null"],
        "description": "When the state began (seconds since the epoch); null if never chosen",
    },
    "acwUntil": {
        "type": ["number", "null"],
        "description": "When after-call work ends (acw only)",
    },
    "awayReasons": {"type": "array", "items": {"type": "string"}},
}
_CALLS = {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}
_LOGS = {"type": "array", "items": {"$ref": "#/components/schemas/CallLog"}}
_ROLE = {"enum": ["agent", "supervisor", "service"]}
_PUBLIC: list[dict[str, list[str]]] = []  # ``security`` of an operation that needs none
