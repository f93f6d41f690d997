"""Open CTI on the server: the softphone panel's settings for the console, call logs saved by
``saveLog``, and the operator's HTTP endpoints behind ``searchAndScreenPop`` and ``runApex``
(docs/open-cti.md has the contract of each endpoint)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import aiohttp

from ..config import OpenCtiConfig
from ..core.errors import CtiRequestError, UnknownCallError
from ..core.jsonvalue import check_text
from ..storage import CallLog, NewCallLog
from .service import CtiService

MAX_FIELDS = 200
MAX_FIELD_NAME = 255
MAX_VALUE = 32 * 1024
MAX_ANSWER_BYTES = 1024 * 1024  # an endpoint's answer
MAX_MATCHES = 200

# Task fields that fill the call log's own columns (the rest are kept as given).
SUBJECT, DESCRIPTION, DISPOSITION, DURATION = (
    "Subject",
    "Description",
    "CallDisposition",
    "CallDurationInSeconds",
)
CALL_OBJECT, CALL_TYPE = "CallObject", "CallType"
NO_CALL = "(none)"  # the call ID of a log that names no call


def console_settings(cfg: OpenCtiConfig) -> dict[str, Any] | None:
    """The ``openCti`` object of ``/api/console/config`` (no token: it stays on the server)."""
    if cfg.softphone_url is None:
        return None
    settings = {
        "/reqGeneralInfo/reqAdapterUrl": cfg.softphone_url,
        "/reqGeneralInfo/reqSoftphoneHeight": str(cfg.height),
        "/reqGeneralInfo/reqSoftphoneWidth": str(cfg.width),
        "/reqGeneralInfo/reqUseApi": "true",
        **(cfg.settings or {}),
    }
    return {
        "softphoneUrl": cfg.softphone_url,
        "label": cfg.label,
        "height": cfg.height,
        "width": cfg.width,
        "settings": settings,
        "layout": {
            "Inbound": cfg.inbound_objects,
            "Outbound": cfg.outbound_objects,
            "Internal": cfg.internal_objects,
        },
        "recordUrl": cfg.record_url,
        "search": cfg.search_url is not None,
        "apex": cfg.apex_url is not None,
    }


# ----------------------------------------------------------------- saveLog


def _fields(value: object) -> dict[str, str | int | float | bool | None]:
    if not isinstance(value, dict):
        raise CtiRequestError("fields must be an object of field: value")
    if len(value) > MAX_FIELDS:
        raise CtiRequestError(f"more than {MAX_FIELDS} fields")
    out: dict[str, str | int | float | bool | None] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_FIELD_NAME:
            raise CtiRequestError(f"field names are 1 to {MAX_FIELD_NAME} characters")
        name = _quoted(key)  # names are the caller's: quoted, one line, short
        if isinstance(item, str):
            if len(item) > MAX_VALUE:
                raise CtiRequestError(f"{name} is longer than {MAX_VALUE} characters")
            out[key] = check_text(item, name)
        elif isinstance(item, float) and not math.isfinite(item):
            raise CtiRequestError(f"{name} must be a finite number")
        elif item is None or isinstance(item, bool | int | float):
            out[key] = item
        else:
            raise CtiRequestError(f"{name} must be a string, number, boolean or null")
    return out


def _quoted(key: str) -> str:
    return json.dumps(key if len(key) <= 40 else key[:40] + "...")


def _short(fields: dict[str, Any], key: str, limit: int) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > limit:
        raise CtiRequestError(f"{key} is longer than {limit} characters")
    return text


def _duration(fields: dict[str, Any]) -> int | None:
    value = fields.get(DURATION)
    if value is None or value == "":
        return None
    try:
        seconds = round(float(value))
    except (TypeError, ValueError):
        raise CtiRequestError(f"{DURATION} must be a number of seconds") from None
    if not 0 <= seconds <= 2**31 - 1:
        raise CtiRequestError(f"{DURATION} must be 0 or more")
    return seconds


async def save_log(
    svc: CtiService, agent: str, entity: object, fields: object, log_id: object
) -> CallLog:
    """Create (``log_id`` None) or update a call log from a softphone's ``saveLog`` record,
    then fire ``onCallLogSaved`` with its ID in the agent's components.

    The record's fields are all kept, as given, in the log's attached data under
    ``openCti.fields`` (with ``openCti.entityApiName``); Subject, Description,
    CallDisposition and CallDurationInSeconds also fill the log's own columns.
    """
    given = _fields(fields)
    if entity is not None and (not isinstance(entity, str) or len(entity) > 80):
        raise CtiRequestError("entityApiName must be an object name of at most 80 characters")
    record = {"entityApiName": entity or "Task", "fields": given}
    svc.take_save_quota(agent)  # the same quota as the console's saves
    if log_id is not None:
        saved = await _update(svc, agent, log_id, record)
    else:
        saved = await _create(svc, agent, record, given)
    await svc.backend.run(agent, lambda r: r.call_log_saved(agent, saved.id, now=svc.clock()))
    return saved


async def _create(
    svc: CtiService, agent: str, record: dict[str, Any], given: dict[str, Any]
) -> CallLog:
    call_id = _short(given, CALL_OBJECT, 255)
    call = None
    if call_id is not None:
        call = await svc.backend.read(agent, lambda r: r.find_call(agent, call_id))
    call_type = str(given.get(CALL_TYPE) or "").upper()
    if call is not None:
        call_type = call.call_type.value
    elif call_type not in ("INBOUND", "OUTBOUND", "INTERNAL"):
        call_type = "INBOUND"  # the column needs one; the record keeps what was given
    new = NewCallLog(
        agent_id=agent,
        call_id=call_id or NO_CALL,
        call_type=call_type,
        label=call.label if call else None,
        ani=call.ani if call else None,
        dnis=call.dnis if call else None,
        attached_data={"openCti": record, "call": call.data if call else None},
        duration_seconds=_duration(given),
        disposition=_short(given, DISPOSITION, 255),
        subject=_short(given, SUBJECT, 255),
        comments=_short(given, DESCRIPTION, 32 * 1024),
    )
    try:
        return await svc.store.save(new)
    except ValueError as exc:
        raise CtiRequestError(f"cannot save the call log: {exc}") from None


async def _update(svc: CtiService, agent: str, log_id: object, record: dict[str, Any]) -> CallLog:
    if not isinstance(log_id, str) or not log_id or len(log_id) > 64:
        raise CtiRequestError("Id must be the ID of a call log saved before")
    old = await svc.store.get(log_id)
    if old is None or old.agent_id != agent:
        raise UnknownCallError(f"no call log {log_id!r} of this agent to update")
    data = old.attached_data if isinstance(old.attached_data, dict) else {}
    before = data.get("openCti")
    if not isinstance(before, dict):
        before = {}
    merged = {**(before.get("fields") or {}), **record["fields"]}
    fields = record["fields"]
    kept = {"entityApiName": record["entityApiName"], "fields": merged}
    new = replace(
        old,
        attached_data={**data, "openCti": kept},
        subject=_short(fields, SUBJECT, 255) if SUBJECT in fields else old.subject,
        comments=_short(fields, DESCRIPTION, 32 * 1024) if DESCRIPTION in fields else old.comments,
        disposition=_short(fields, DISPOSITION, 255) if DISPOSITION in fields else old.disposition,
        duration_seconds=_duration(fields) if DURATION in fields else old.duration_seconds,
    )
    try:
        return await svc.store.update(new)
    except LookupError as exc:
        raise UnknownCallError(str(exc)) from None
    except ValueError as exc:
        raise CtiRequestError(f"cannot save the call log: {exc}") from None


# ----------------------------------------------------------------- the operator's endpoints


async def _post(cfg: OpenCtiConfig, url: str, what: str, body: dict[str, Any]) -> Any:
    """POST ``body`` as JSON to the operator's endpoint; its JSON answer, or a one-line
    CtiRequestError naming what went wrong."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if cfg.endpoint_token:
        headers["Authorization"] = f"Bearer {cfg.endpoint_token}"
    timeout = aiohttp.ClientTimeout(total=cfg.endpoint_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=json.dumps(body), headers=headers) as resp,
        ):
            raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
            if len(raw) > MAX_ANSWER_BYTES:
                raise CtiRequestError(f"the {what} endpoint answered more than 1 MiB")
            if resp.status != 200:
                raise CtiRequestError(f"the {what} endpoint answered HTTP {resp.status}")
    except TimeoutError:
        raise CtiRequestError(
            f"the {what} endpoint did not answer within {cfg.endpoint_timeout:g} s"
        ) from None
    except aiohttp.ClientError as exc:
        raise CtiRequestError(f"the {what} endpoint could not be reached: {exc}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise CtiRequestError(f"the {what} endpoint did not answer JSON") from None


async def search(cfg: OpenCtiConfig | None, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    """Ask the CRM's search endpoint; the matches as ``{recordId: {Id, Name, RecordType, ...}}``
    (the shape of ``searchAndScreenPop``'s returnValue)."""
    if cfg is None or cfg.search_url is None:
        raise CtiRequestError(
            "no CRM search is configured ([open_cti] search_url): searchAndScreenPop has "
            "nothing to search"
        )
    body = {
        "agent": agent,
        "searchParams": _opt_str(req.get("searchParams"), "searchParams", 1000),
        "queryParams": _opt_str(req.get("queryParams"), "queryParams", 2000),
        "callType": _opt_str(req.get("callType"), "callType", 16),
    }
    answer = await _post(cfg, cfg.search_url, "search", body)
    records = answer.get("records") if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise CtiRequestError('the search endpoint must answer {"records": [...]}')
    matches: dict[str, Any] = {}
    for item in records[:MAX_MATCHES]:
        if not isinstance(item, dict) or not isinstance(item.get("Id"), str) or not item["Id"]:
            raise CtiRequestError('each record the search endpoint answers needs an "Id" string')
        kept = {k: v for k, v in item.items() if isinstance(k, str)}
        kept.setdefault("RecordType", kept.get("objectType"))
        matches[item["Id"]] = kept
    return matches


async def run_apex(cfg: OpenCtiConfig | None, agent: str, req: dict[str, Any]) -> Any:
    """Map ``runApex(class, method, params)`` to the operator's endpoint; its ``returnValue``."""
    if cfg is None or cfg.apex_url is None:
        raise CtiRequestError(
            "runApex needs Salesforce Apex, which ctikit does not have; the operator can map it "
            "to an HTTP endpoint with [open_cti] apex_url"
        )
    body = {
        "agent": agent,
        "apexClass": _opt_str(req.get("apexClass"), "apexClass", 255),
        "methodName": _opt_str(req.get("methodName"), "methodName", 255),
        "methodParams": _opt_str(req.get("methodParams"), "methodParams", 64 * 1024),
    }
    answer = await _post(cfg, cfg.apex_url, "runApex", body)
    if not isinstance(answer, dict) or "returnValue" not in answer:
        raise CtiRequestError('the runApex endpoint must answer {"returnValue": ...}')
    return answer["returnValue"]


def _opt_str(value: object, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise CtiRequestError(f"{what} must be a string of at most {limit} characters")
    return value


__all__ = ["console_settings", "run_apex", "save_log", "search"]
