"""The emulator's ASGI app: Dotdigital's endpoints over :class:`EmulatorState`.

Every API call passes through :class:`EmulatorApp` first, which logs the call, adds latency,
checks Basic auth, the body size and the rate limit, and injects faults; the routes then
implement Dotdigital's semantics. ``/_emulator/…`` is the inspection and control API: no
auth, no faults, not logged, not rate limited.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dotsync.emulator import compact, insight_deletes, programs, structure
from dotsync.emulator.compact import paused_gc
from dotsync.emulator.config import EmulatorConfig
from dotsync.emulator.state import ConflictError, EmulatorState, parse_when
from dotsync.emulator.validation import (
    COLLECTION_NAME,
    COLLECTION_SCOPES,
    COLLECTION_TYPES,
    CONTACT_IDENTIFIERS,
    CONTACT_MERGE_OPTIONS,
    IMPORT_MERGE_OPTIONS,
    MODIFIED_FILTER,
    Problem,
    canonical_email,
    canonical_mobile,
    check_contact_body,
    contains_nested_array,
    first_unclean_record,
    v2_error,
    v3_error,
)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TRIGGERED_PATHS = ("/v2/email/triggered-campaign",)
"""Calls that do not count towards the rate limit (DOTDIGITAL.md: campaign sends)."""


class ConnectionDropped(Exception):
    """Raised in place of a dropped connection when the server is not uvicorn (in-process)."""


def namespace(path: str) -> str | None:
    """The v3 error namespace for a path (``contacts``, ``insightData``), None for v2."""
    if path.startswith("/contacts/v3"):
        return "contacts"
    if path.startswith("/insightData/v3"):
        return "insightData"
    return None


def error_response(path: str, status: int, code: str, description: str,
                   details: list[Problem] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """A v3-style body under /contacts/v3 and /insightData/v3, a v2-style body elsewhere."""
    ns = namespace(path)
    if ns is not None:
        body = v3_error(ns, code, description, details)
    else:
        body = v2_error(description, "ERROR_" + _upper_snake(code))
    return JSONResponse(body, status_code=status, headers=headers)


def _upper_snake(code: str) -> str:
    if code.isupper():
        return code
    out = "".join("_" + ch if ch.isupper() else ch for ch in code)
    return out.upper().lstrip("_")


def v2(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(v2_error(message, code), status_code=status)


def v3(status: int, ns: str, code: str, description: str,
       details: list[Problem] | None = None) -> JSONResponse:
    return JSONResponse(v3_error(ns, code, description, details), status_code=status)


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator  # type: ignore[no-any-return]


class BadBody(Exception):
    """The request body is not JSON; carries the response to send."""

    def __init__(self, response: Response) -> None:
        super().__init__("bad body")
        self.response = response


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        ns = namespace(request.url.path)
        if ns:
            raise BadBody(v3(400, ns, "badJson", "The request JSON is badly formed")) from None
        raise BadBody(v2(400, "The request body is not valid JSON.",
                         "ERROR_PARAMETER_INVALID")) from None


# ---------------------------------------------------------------------------- account
async def account_info(request: Request) -> Response:
    """``ApiEndpoint`` is the emulator's own base URL, as the client reached it."""
    state = _state(request)
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    base = f"{request.url.scheme}://{host}/"
    hour_ago = time.time() - 3600
    in_last_hour = state.calls_since(hour_ago)
    acc = state.account
    props = [
        ("Name", "String", acc.get("name", "dotsync emulator")),
        ("MainEmail", "String", acc.get("mainEmail", "owner@emulator.invalid")),
        ("APILocale", "String", "en-GB"),
        ("ApiCallsInLastHour", "Int", str(in_last_hour)),
        ("ApiCallsRemaining", "Int", str(max(2000 - in_last_hour, 0))),
        ("ApiEndpoint", "String", base),
        ("CurrencyCode", "String", acc.get("currency", "GBP")),
        ("TimeZoneIana", "String", acc.get("timeZone", "Europe/London")),
        ("AvailableEmailSendsCredits", "Int", "100000"),
        ("AvailableSmsSendsCredits", "Int", "0"),
    ]
    return JSONResponse({"id": int(acc.get("id", 1)),
                         "properties": [{"name": n, "type": t, "value": v}
                                        for n, t, v in props]})


# ---------------------------------------------------------------------------- contacts
def _check_path_identifier(identifier: str, value: str) -> Response | None:
    if identifier not in CONTACT_IDENTIFIERS:
        return v3(400, "contacts", "invalidIdentifier",
                  f"The identifier '{identifier}' does not exist in the account")
    ok = {"email": canonical_email(value) is not None,
          "mobileNumber": canonical_mobile(value) is not None,
          "contactId": value.isdigit()}[identifier]
    if not ok or len(value) > 256:
        return v3(400, "contacts", "invalidId",
                  f"The id value '{value}' is invalid for the identifier '{identifier}'")
    return None


def _not_found(ns: str, identifier: str, value: str) -> JSONResponse:
    return v3(404, ns, "contactNotFound", "The following contacts could not be found",
              [(value, f"Not found using the identifier '{identifier}'")])


def _identifier_value_problems(body: dict[str, Any], prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    identifiers = body.get("identifiers") or {}
    if "email" in identifiers and canonical_email(identifiers["email"]) is None:
        problems.append((f"{prefix}identifiers.email",
                         f"The id value '{identifiers['email']}' is invalid for the "
                         "identifier 'email'"))
    if "mobileNumber" in identifiers and canonical_mobile(identifiers["mobileNumber"]) is None:
        problems.append((f"{prefix}identifiers.mobileNumber",
                         f"The id value '{identifiers['mobileNumber']}' is invalid for the "
                         "identifier 'mobileNumber' (E.164)"))
    return problems


async def patch_contact(request: Request) -> Response:
    state = _state(request)
    identifier = request.path_params["identifier"]
    value = request.path_params["value"]
    bad = _check_path_identifier(identifier, value)
    if bad:
        return bad
    merge_raw = request.query_params.get("merge-option", "overwrite")
    if merge_raw not in CONTACT_MERGE_OPTIONS:
        return v3(400, "contacts", "validationError", "The request is invalid",
                  [("merge-option", f"'{merge_raw}' is not one of "
                                    f"{', '.join(CONTACT_MERGE_OPTIONS)}")])
    body = await read_json(request)
    problems = check_contact_body(body, "", known_fields=state.known_data_fields,
                                  for_import=False)
    if not problems:
        problems = _identifier_value_problems(body, "")
        if problems:
            return v3(400, "contacts", "invalidId", "An identifier value is invalid", problems)
    if problems:
        return v3(400, "contacts", "validationError", "The request is invalid", problems)
    try:
        contact, created = state.upsert_contact(body, identifier,
                                                CONTACT_MERGE_OPTIONS[merge_raw],
                                                path_value=value)
    except ConflictError as exc:
        return v3(409, "contacts", "idAlreadyExists",
                  f"The id value '{exc.value}' for the identifier '{exc.identifier}' already "
                  "exists. All identifiers must be unique!")
    except KeyError:
        return _not_found("contacts", identifier, value)
    return JSONResponse(contact, status_code=201 if created else 200)


async def create_contact(request: Request) -> Response:
    """``POST /contacts/v3``: create only; 409 ``idAlreadyExists`` when an identifier is
    taken (the spec's "Create a contact" operation)."""
    state = _state(request)
    body = await read_json(request)
    problems = check_contact_body(body, "", known_fields=state.known_data_fields,
                                  for_import=False)
    identifiers = body.get("identifiers") if isinstance(body, dict) else None
    if not problems and not (isinstance(identifiers, dict) and (
            identifiers.get("email") or identifiers.get("mobileNumber"))):
        problems = [("identifiers", "required: email or mobileNumber")]
    if problems:
        return v3(400, "contacts", "validationError", "The request is invalid", problems)
    problems = _identifier_value_problems(body, "")
    if problems:
        return v3(400, "contacts", "invalidId", "An identifier value is invalid", problems)
    try:
        contact = state.create_contact(body)
    except ConflictError as exc:
        return v3(409, "contacts", "idAlreadyExists",
                  f"The id value '{exc.value}' for the identifier '{exc.identifier}' already "
                  "exists. All identifiers must be unique!")
    return JSONResponse(contact, status_code=201)


async def get_contact(request: Request) -> Response:
    state = _state(request)
    identifier, value = request.path_params["identifier"], request.path_params["value"]
    bad = _check_path_identifier(identifier, value)
    if bad:
        return bad
    contact = state.find(identifier, value)
    if contact is None:
        return _not_found("contacts", identifier, value)
    with state.lock:
        return JSONResponse(contact.to_v3())


async def delete_contact(request: Request) -> Response:
    state = _state(request)
    identifier, value = request.path_params["identifier"], request.path_params["value"]
    bad = _check_path_identifier(identifier, value)
    if bad:
        return bad
    contact_id = state.delete_contact(identifier, value)
    if contact_id is None:
        return _not_found("contacts", identifier, value)
    return JSONResponse({"contactId": contact_id})


MAX_PROBLEMS = 100
"""Details listed in a 400 for an import body; checking stops once there are this many."""


def _parse_import(raw: bytes, ns: str, freeze: bool) -> Any:
    """An import body parsed, or the 400 to answer. Runs in a worker thread.

    A 48 MB body is millions of objects: parsing it with the cyclic garbage collector held
    off takes a third of the time (see :mod:`dotsync.emulator.compact`); ``freeze`` is the
    config's ``tune_gc``.
    """
    try:
        with paused_gc(freeze):
            body = compact.loads(raw) if raw else None
    except ValueError:
        return v3(400, ns, "badJson", "The request JSON is badly formed")
    if not isinstance(body, dict):
        return v3(400, ns, "badJson", "The request JSON is badly formed")
    return body


def _check_contact_import(raw: bytes, known_fields: set[str] | None,
                          freeze: bool = False) -> Any:
    """The parsed contact import body, or the 400 to answer (whole body, as Dotdigital)."""
    body = _parse_import(raw, "contacts", freeze)
    if isinstance(body, Response):
        return body
    problems: list[Problem] = []
    merge = body.get("mergeOption", "overwrite")
    if merge not in IMPORT_MERGE_OPTIONS:
        problems.append(("mergeOption", f"'{merge}' is not one of "
                                        f"{', '.join(IMPORT_MERGE_OPTIONS)}"))
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        problems.append(("contacts", "required: an array of at least one contact"))
    else:
        good_fields: set[str] = set()
        i = first_unclean_record(contacts, 0, good_fields, known_fields)
        while i < len(contacts) and len(problems) < MAX_PROBLEMS:
            # Only records the fast check could not vouch for get the full checker.
            problems += check_contact_body(contacts[i], f"contacts[{i}]",
                                           known_fields=known_fields, for_import=True)
            i = first_unclean_record(contacts, i + 1, good_fields, known_fields)
    if problems:
        return v3(400, "contacts", "validationError", "The request is invalid",
                  problems[:MAX_PROBLEMS])
    return body


async def import_contacts(request: Request) -> Response:
    """Checked in a worker thread, so calls from other clients are answered meanwhile;
    then queued (:meth:`EmulatorState.submit`) and applied when due."""
    state = _state(request)
    checked = await run_in_threadpool(_check_contact_import, await request.body(),
                                      state.known_data_fields, state.config.tune_gc)
    if isinstance(checked, Response):
        return checked
    import_id = state.submit("contacts", checked, limit=state.config.max_contact_imports)
    if import_id is None:
        return v3(429, "contacts", "tooManyActiveImports",
                  "Your import request cannot be accepted as too many imports are being "
                  "processed for you account. Please wait for an import to complete and then "
                  "resubmit.")
    return JSONResponse({"importId": import_id}, status_code=202)


def _import_status(request: Request, kind: str, ns: str, param: str) -> Response:
    """A status poll: never waits for an import being applied (the lock is given up every
    few milliseconds), and a finished report is sent from its stored bytes."""
    import_id = request.path_params[param]
    body = _state(request).import_status_json(kind, import_id)
    if body is None:
        return v3(404, ns, "importNotFound",
                  f"The import request '{import_id}' could not be found!")
    return Response(body, media_type="application/json")


async def contact_import_status(request: Request) -> Response:
    return _import_status(request, "contacts", "contacts", "importId")


async def bulk_delete(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    if not isinstance(body, list) or not body:
        return v3(400, "contacts", "noContactsSpecified",
                  "You must specifiy 1 or more contacts to be deleted!")
    problems: list[Problem] = []
    if len(body) > 5000:
        problems.append(("body", "at most 5000 contacts per request"))
    for i, ident in enumerate(body[:5001]):
        if not isinstance(ident, dict) or len(ident) != 1 or \
                next(iter(ident)) not in CONTACT_IDENTIFIERS:
            problems.append((f"[{i}]", "must be one of {contactId}, {email} or {mobileNumber}"))
    if problems:
        return v3(400, "contacts", "validationError", "The request is invalid", problems[:100])
    return JSONResponse({"deleteId": state.submit("delete", body)}, status_code=202)


async def bulk_delete_status(request: Request) -> Response:
    return _import_status(request, "delete", "contacts", "deleteId")


def _encode_marker(contact_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{contact_id}".encode()).decode()


def _decode_marker(marker: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith("after:") or not text[6:].isdigit():
        return None
    return int(text[6:])


async def list_contacts(request: Request) -> Response:
    """``GET /contacts/v3``: ascending by contactId, marker paging, ~modified/~created."""
    state = _state(request)
    q = request.query_params
    problems: list[Problem] = []
    since: datetime | None = None
    if "~modified" in q and "~created" in q:
        return v3(400, "contacts", "invalidFilter",
                  "~created can't be used in conjunction with ~modified")
    for name in ("~modified", "~created"):
        if name in q:
            m = MODIFIED_FILTER.match(q[name])
            if not m:
                return v3(400, "contacts", "invalidFilter",
                          f"The filter value '{q[name]}' is invalid")
            since = parse_when(m.group(1))
    limit = 1000
    if "limit" in q:
        if not q["limit"].isdigit() or not 1 <= int(q["limit"]) <= 5000:
            problems.append(("limit", "must be an integer from 1 to 5000"))
        else:
            limit = int(q["limit"])
    after = 0
    if q.get("marker"):
        decoded = _decode_marker(q["marker"])
        if decoded is None:
            problems.append(("marker", "invalid pagination marker"))
        else:
            after = decoded
    include = [p for p in q.get("include", "").split("|") if p]
    bad = [p for p in include if p not in ("channelProperties", "lists", "preferences",
                                           "consentRecords")]
    if bad:
        problems.append(("include", f"unknown value(s): {', '.join(bad)}"))
    if problems:
        return v3(400, "contacts", "validationError", "The request is invalid", problems)
    fields_raw = q.get("data-fields", "")
    data_fields: list[str] | None = [] if not fields_raw else (
        None if fields_raw == "[[ALL]]" else [f for f in fields_raw.split("|") if f])
    items, next_after = state.list_contacts(
        since, after, limit, channel="channelProperties" in include, lists="lists" in include,
        consent="consentRecords" in include, data_fields=data_fields)

    def link(marker: str) -> dict[str, str]:
        params = {k: v for k, v in q.items() if k != "marker"}
        if marker:
            params["marker"] = marker
        url = str(request.url.replace(query=urlencode(params)))
        return {"marker": marker, "link": url}

    links: dict[str, Any] = {"self": link(q.get("marker", "")), "first": link("")}
    if next_after is not None:
        links["next"] = link(_encode_marker(next_after))
    return JSONResponse({"_links": links, "_items": items})


# ---------------------------------------------------------------------------- insight
def _check_collection_name(name: str) -> Response | None:
    if not COLLECTION_NAME.match(name) or len(name) > 255:
        return v3(400, "insightData", "invalidId",
                  f"The collectionName value '{name}' is invalid")
    return None


def _check_insight_import(raw: bytes, freeze: bool = False) -> Any:
    """The parsed insight import body, or the 400 to answer (whole body, as Dotdigital).

    Runs in a worker thread; the collection's existing scope is checked by the caller.
    """
    body = _parse_import(raw, "insightData", freeze)
    if isinstance(body, Response):
        return body
    problems: list[Problem] = []
    name = body.get("collectionName")
    scope = body.get("collectionScope")
    if not isinstance(name, str) or not COLLECTION_NAME.match(name):
        problems.append(("collectionName", "required: letters, digits, '-' and '_', not "
                                           "starting with a digit, 2 to 255 characters"))
    if scope not in COLLECTION_SCOPES:
        problems.append(("collectionScope", f"must be one of {', '.join(COLLECTION_SCOPES)}"))
    if body.get("collectionType") not in COLLECTION_TYPES:
        problems.append(("collectionType", f"must be one of {', '.join(COLLECTION_TYPES)}"))
    records = body.get("records")
    if not isinstance(records, list) or not records:
        problems.append(("records", "required: an array of at least one record"))
    else:
        problems += _insight_record_problems(records, scope == "contact")
    return v3(400, "insightData", "validationError", "The request is invalid",
              problems[:MAX_PROBLEMS]) if problems else body


def _insight_record_problems(records: list[Any], contact_scope: bool) -> list[Problem]:
    """Shape problems of import records, at most :data:`MAX_PROBLEMS` of them.

    The common well-formed record passes the first test alone (exact type checks: JSON
    gives no subclasses); anything else gets the detailed checks.
    """
    problems: list[Problem] = []
    for i, rec in enumerate(records):
        if type(rec) is dict:
            key = rec.get("key")
            identity = rec.get("contactIdentity")
            if ((type(key) is str and key != "") or type(key) is int) \
                    and type(rec.get("json")) is dict \
                    and (not contact_scope or (type(identity) is dict and "identifier" in identity
                                               and "value" in identity)):
                continue
        at = f"records[{i}]"
        if not isinstance(rec, dict):
            problems.append((at, "must be an object"))
        else:
            key = rec.get("key")
            if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
                problems.append((f"{at}.key", "required: a string"))
            if not isinstance(rec.get("json"), dict):
                problems.append((f"{at}.json", "required: a JSON object"))
            identity = rec.get("contactIdentity")
            if contact_scope and (not isinstance(identity, dict) or "identifier" not in identity
                                  or "value" not in identity):
                problems.append((f"{at}.contactIdentity",
                                 "required for a contact scoped collection: "
                                 "{identifier, value}"))
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


async def import_insight(request: Request) -> Response:
    """As :func:`import_contacts`: checked in a worker thread, then queued."""
    state = _state(request)
    checked = await run_in_threadpool(_check_insight_import, await request.body(),
                                      state.config.tune_gc)
    if isinstance(checked, Response):
        return checked
    name, scope = checked["collectionName"], checked["collectionScope"]
    existing = state.collection(name)
    if existing is not None and existing["scope"] != scope:
        return v3(400, "insightData", "validationError", "The request is invalid",
                  [("collectionScope", f"collection '{name}' has scope '{existing['scope']}'")])
    import_id = state.submit("insight", checked, limit=state.config.max_insight_imports)
    if import_id is None:
        return v3(429, "insightData", "tooManyActiveImports",
                  "Your import request cannot be accepted as too many imports are being "
                  "processed for your account. Please wait for an import to complete and "
                  "then resubmit.")
    return JSONResponse({"importId": import_id}, status_code=202)


async def insight_import_status(request: Request) -> Response:
    return _import_status(request, "insight", "insightData", "importId")


async def _put_record(request: Request, scope: str) -> Response:
    state = _state(request)
    p = request.path_params
    name, key = p["collectionName"], p["recordId"]
    bad = _check_collection_name(name)
    if bad:
        return bad
    contact = None
    if scope == "contact":
        identifier, value = p["identifier"], p["value"]
        bad = _check_path_identifier(identifier, value)
        if bad:
            body = json.loads(bad.body)
            body["errorCode"] = body["errorCode"].replace("contacts:", "insightData:")
            return JSONResponse(body, status_code=bad.status_code)
    body = await read_json(request)
    if not isinstance(body, dict):
        return v3(400, "insightData", "badJson", "The record must be a JSON object")
    if contains_nested_array(body):
        return v3(400, "insightData", "jsonContainsNestedArray",
                  "The record contains an array nested directly in an array")
    with state.lock:
        if scope == "contact":
            contact = state.find(p["identifier"], p["value"])
            if contact is None:
                return _not_found("insightData", p["identifier"], p["value"])
        col = state.collection(name)
        if col is None:
            return v3(404, "insightData", "collectionNotFound",
                      "The collection could not be found", [(name, "Not found")])
        if col["scope"] != scope:
            return v3(400, "insightData", "invalidCollectionScope",
                      f"The collection '{name}' has scope '{col['scope']}'")
        created, clash = state.put_insight(name, key, body, contact)
    if clash:
        return v3(400, "insightData", "jsonValueIncompatibleWithSchema", clash)
    return Response(status_code=201 if created else 204)


async def put_contact_record(request: Request) -> Response:
    return await _put_record(request, "contact")


async def put_account_record(request: Request) -> Response:
    return await _put_record(request, "account")


async def get_contact_record(request: Request) -> Response:
    state = _state(request)
    p = request.path_params
    with state.lock:
        contact = state.find(p["identifier"], p["value"])
        if contact is None:
            return _not_found("insightData", p["identifier"], p["value"])
        if state.collection(p["collectionName"]) is None:
            return v3(404, "insightData", "collectionNotFound",
                      "The collection could not be found", [(p["collectionName"], "Not found")])
        rec = state.insight_record(p["collectionName"], contact.contact_id, p["recordId"])
        if rec is not None:
            return JSONResponse({"key": rec["key"], "json": rec["json"],
                                 "created": rec["created"], "updated": rec["updated"],
                                 "ownerContactId": contact.contact_id})
    return v3(404, "insightData", "recordNotFound", "The Insight data record could not be found",
              [(p["recordId"], f"Not found in the contacts collection '{p['collectionName']}'")])


def _encode_record_marker(after: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode()


def _decode_record_marker(marker: str) -> tuple[int, str] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(marker.encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if (not isinstance(value, list) or len(value) != 2 or type(value[0]) is not int
            or not isinstance(value[1], str)):
        return None
    return value[0], value[1]


async def list_contacts_insight(request: Request) -> Response:
    """``GET /insightData/v3/contacts/{collectionName}`` (getAllContactsInsightData in
    dotdigital-insight-data-service.json): every contact's records of a contact-scoped
    collection, ascending, ``~modified=gte::…``, ``limit`` 1 to 5000, ``marker`` paging;
    404 ``collectionNotFound`` for an unknown collection."""
    state = _state(request)
    name = request.path_params["collectionName"]
    bad = _check_collection_name(name)
    if bad:
        return bad
    q = request.query_params
    since: datetime | None = None
    if "~modified" in q:
        m = MODIFIED_FILTER.match(q["~modified"])
        if not m:
            return v3(400, "insightData", "invalidFilter",
                      f"The filter value '{q['~modified']}' is invalid")
        since = parse_when(m.group(1))
    problems: list[Problem] = []
    limit = 1000
    if "limit" in q:
        if not q["limit"].isdigit() or not 1 <= int(q["limit"]) <= 5000:
            problems.append(("limit", "must be an integer from 1 to 5000"))
        else:
            limit = int(q["limit"])
    after: tuple[int, str] | None = None
    if q.get("marker"):
        after = _decode_record_marker(q["marker"])
        if after is None:
            problems.append(("marker", "invalid pagination marker"))
    if problems:
        return v3(400, "insightData", "validationError", "The request is invalid", problems)
    col = state.collection(name)
    if col is None:
        return v3(404, "insightData", "collectionNotFound", "The collection could not be found",
                  [(name, "Not found")])
    if col["scope"] != "contact":
        return v3(400, "insightData", "invalidCollectionScope",
                  f"The collection '{name}' has scope '{col['scope']}'")
    items, next_after = state.list_insight(name, since, after, limit)

    def link(marker: str) -> dict[str, str]:
        params = {k: v for k, v in q.items() if k != "marker"}
        if marker:
            params["marker"] = marker
        return {"marker": marker, "link": str(request.url.replace(query=urlencode(params)))}

    links: dict[str, Any] = {"self": link(q.get("marker", "")), "first": link("")}
    if next_after is not None:
        links["next"] = link(_encode_record_marker(next_after))
    return JSONResponse({"_links": links, "_items": items})


async def list_collections(request: Request) -> Response:
    return JSONResponse(_state(request).collections_summary())


# ---------------------------------------------------------------------------- sends
def _check_send(state: EmulatorState, item: Any) -> tuple[int, str, str] | None:
    """None when the send is accepted, else (HTTP status, message, v2 error code)."""
    if not isinstance(item, dict):
        return 400, "The request is invalid.", "ERROR_PARAMETER_INVALID"
    to = item.get("toAddresses")
    if not isinstance(to, list) or not 1 <= len(to) <= 100 or any(
            canonical_email(a) is None for a in to):
        return 400, "ToAddresses field is empty or invalid.", "ERROR_PARAMETER_INVALID"
    cid = item.get("campaignId")
    if isinstance(cid, bool) or not isinstance(cid, int):
        return 400, "CampaignId field is missing or invalid.", "ERROR_PARAMETER_INVALID"
    values = item.get("personalizationValues", [])
    if values is not None and (not isinstance(values, list) or any(
            not isinstance(v, dict) or not isinstance(v.get("name"), str)
            or not isinstance(v.get("value"), str) for v in values)):
        return (400, "PersonalizationValues must be name/value pairs of strings.",
                "ERROR_PARAMETER_INVALID")
    campaign = state.campaign(cid)
    if campaign is None:
        return 404, "Campaign not found.", "ERROR_CAMPAIGN_NOT_FOUND"
    if campaign["status"] != "Triggered":
        return (400, f"Campaign {cid} is {campaign['status']} and cannot be sent as a "
                     "triggered campaign.", "ERROR_CAMPAIGN_SENDNOTPERMITTED")
    for address in to:
        sup = state.suppression(address)
        if sup is not None and sup["reason"] != "Unsubscribed":
            return 400, "Contact is suppressed.", "ERROR_CONTACT_SUPPRESSED"
    return None


def _record_send(state: EmulatorState, item: dict[str, Any], via: str) -> None:
    values = item.get("personalizationValues") or []
    state.record_send({"campaignId": item["campaignId"], "toAddresses": list(item["toAddresses"]),
                       "personalizationValues": {v["name"]: v["value"] for v in values},
                       "via": via})


async def triggered_campaign(request: Request) -> Response:
    state = _state(request)
    item = await read_json(request)
    problem = _check_send(state, item)
    if problem:
        status, message, code = problem
        return v2(status, message, code)
    _record_send(state, item, "single")
    return Response(status_code=200)


async def triggered_campaign_batch(request: Request) -> Response:
    state = _state(request)
    items = await read_json(request)
    if not isinstance(items, list) or not items:
        return v2(400, "The request must be a non-empty array of sends.",
                  "ERROR_PARAMETER_INVALID")
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        problem = _check_send(state, item)
        if problem:
            _, message, code = problem
            results.append({"index": index, "failureCode": code,
                            "failureReason": f"{message} {code}"})
        else:
            _record_send(state, item, "batch")
            results.append({"index": index})
    return JSONResponse(results)


# ---------------------------------------------------------------------------- v2 reads
def _select_skip(request: Request) -> tuple[int, int] | Response:
    q = request.query_params
    select_raw, skip_raw = q.get("select", "1000"), q.get("skip", "0")
    if not select_raw.isdigit() or not 1 <= int(select_raw) <= 1000:
        return v2(400, "select must be a number between 1 and 1000.", "ERROR_PARAMETER_INVALID")
    if not skip_raw.isdigit():
        return v2(400, "skip must be a number of 0 or more.", "ERROR_PARAMETER_INVALID")
    return int(select_raw), int(skip_raw)


async def list_campaigns(request: Request) -> Response:
    paging = _select_skip(request)
    if isinstance(paging, Response):
        return paging
    select, skip = paging
    return JSONResponse(_state(request).campaign_page(skip, select))


async def get_campaign(request: Request) -> Response:
    raw = request.path_params["id"]
    if not raw.lstrip("-").isdigit():
        return v2(400, "The campaign id is invalid.", "ERROR_PARAMETER_INVALID")
    campaign = _state(request).campaign(int(raw))
    if campaign is None:
        return v2(404, "Campaign not found.", "ERROR_CAMPAIGN_NOT_FOUND")
    return JSONResponse(campaign)


async def _since(request: Request, only_unsubscribed: bool) -> Response:
    paging = _select_skip(request)
    if isinstance(paging, Response):
        return paging
    select, skip = paging
    try:
        since = parse_when(request.path_params["date"])
    except ValueError:
        return v2(400, "The date is not a valid ISO 8601 date.", "ERROR_PARAMETER_INVALID")
    return JSONResponse(_state(request).suppressed_since(since, only_unsubscribed, skip, select))


async def suppressed_since(request: Request) -> Response:
    return await _since(request, only_unsubscribed=False)


async def unsubscribed_since(request: Request) -> Response:
    return await _since(request, only_unsubscribed=True)


# ---------------------------------------------------------------------------- inspection
async def inspect_contacts(request: Request) -> Response:
    return JSONResponse(_state(request).contacts())


async def inspect_insight(request: Request) -> Response:
    return JSONResponse(_state(request).insight())


async def inspect_sends(request: Request) -> Response:
    return JSONResponse(_state(request).sends())


async def inspect_calls(request: Request) -> Response:
    return JSONResponse(_state(request).calls())


async def inspect_imports(request: Request) -> Response:
    return JSONResponse(_state(request).imports())


async def inspect_max_active_imports(request: Request) -> Response:
    """The most imports of each kind ever active at once, since the last reset."""
    state = _state(request)
    return JSONResponse({kind: state.max_active_imports(kind)
                         for kind in ("contacts", "insight", "delete")})


async def inspect_suppressions(request: Request) -> Response:
    return JSONResponse(_state(request).suppressions())


async def inspect_campaigns(request: Request) -> Response:
    return JSONResponse(_state(request).campaigns())


async def complete_imports(request: Request) -> Response:
    state = _state(request)
    state.complete_imports()
    return JSONResponse(state.imports())


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


async def faults(request: Request) -> Response:
    state = _state(request)
    if request.method == "GET":
        with state.lock:
            return JSONResponse(state.faults.as_dict())
    try:
        changes = json.loads(await request.body() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("body must be a JSON object of fault settings")
        return JSONResponse(state.set_faults(**changes))
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


ROUTES = [
    Route("/v2/account-info", account_info, methods=["GET"]),
    Route("/contacts/v3", list_contacts, methods=["GET"]),
    Route("/contacts/v3", create_contact, methods=["POST"]),
    Route("/contacts/v3/import", import_contacts, methods=["PUT"]),
    Route("/contacts/v3/import/{importId}", contact_import_status, methods=["GET"]),
    Route("/contacts/v3/delete", bulk_delete, methods=["POST"]),
    Route("/contacts/v3/delete/{deleteId}", bulk_delete_status, methods=["GET"]),
    Route("/contacts/v3/{identifier}/{value}", patch_contact, methods=["PATCH"]),
    Route("/contacts/v3/{identifier}/{value}", get_contact, methods=["GET"]),
    Route("/contacts/v3/{identifier}/{value}", delete_contact, methods=["DELETE"]),
    Route("/insightData/v3/import", import_insight, methods=["PUT"]),
    Route("/insightData/v3/import/{importId}", insight_import_status, methods=["GET"]),
    Route("/insightData/v3/collections", list_collections, methods=["GET"]),
    Route("/insightData/v3/contacts/{collectionName}", list_contacts_insight,
          methods=["GET"]),
    Route("/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}",
          put_contact_record, methods=["PUT"]),
    Route("/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}",
          get_contact_record, methods=["GET"]),
    Route("/insightData/v3/account/{collectionName}/{recordId}", put_account_record,
          methods=["PUT"]),
    Route("/v2/email/triggered-campaign", triggered_campaign, methods=["POST"]),
    Route("/v2/email/triggered-campaign/batch", triggered_campaign_batch, methods=["POST"]),
    Route("/v2/campaigns", list_campaigns, methods=["GET"]),
    Route("/v2/campaigns/{id}", get_campaign, methods=["GET"]),
    Route("/v2/contacts/suppressed-since/{date}", suppressed_since, methods=["GET"]),
    Route("/v2/contacts/unsubscribed-since/{date}", unsubscribed_since, methods=["GET"]),
    Route("/_emulator/contacts", inspect_contacts, methods=["GET"]),
    Route("/_emulator/insight", inspect_insight, methods=["GET"]),
    Route("/_emulator/sends", inspect_sends, methods=["GET"]),
    Route("/_emulator/calls", inspect_calls, methods=["GET"]),
    Route("/_emulator/imports", inspect_imports, methods=["GET"]),
    Route("/_emulator/imports/complete", complete_imports, methods=["POST"]),
    Route("/_emulator/imports/max-active", inspect_max_active_imports, methods=["GET"]),
    Route("/_emulator/suppressions", inspect_suppressions, methods=["GET"]),
    Route("/_emulator/campaigns", inspect_campaigns, methods=["GET"]),
    Route("/_emulator/faults", faults, methods=["GET", "POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    *structure.ROUTES,
    *programs.ROUTES,
    *insight_deletes.ROUTES,
]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        return error_response(request.url.path, 405, "methodNotAllowed",
                              f"The method {request.method} is not allowed for this resource.")
    return error_response(request.url.path, status, "resourceNotFound",
                          f"No resource matches {request.url.path}.")


async def _bad_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadBody)
    return exc.response


class EmulatorApp(Starlette):
    """Starlette app wrapped by the gateway (auth, limits, faults, call log).

    The gateway sits outside Starlette's own middleware so that a dropped connection can
    close uvicorn's transport directly: a client then sees a real transport error, not a 500.
    """

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(routes=ROUTES, exception_handlers={HTTPException: _http_error,
                                                            BadBody: _bad_body})
        self.state.emulator = state
        self.emulator = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await super().__call__(scope, receive, send)
            return
        await Gateway(self, self.emulator).handle(scope, receive, send)

    async def inner(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


class Gateway:
    """One API call: log, latency, body limit, auth, rate limit, faults, then the route."""

    def __init__(self, app: EmulatorApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self.status: int | None = None
        self.fault: str | None = None
        self.entry: dict[str, Any] = {}
        self.started = 0.0

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started = time.monotonic()
        self.entry = self.state.start_call(scope["method"], scope["path"],
                                           scope.get("query_string", b"").decode("latin-1"))
        try:
            await self._handle(scope, receive, send)
        finally:
            self._record()

    def _record(self) -> None:
        """Log status and fault now: before the client can see the outcome, so a test that
        reads the call log right after its response always finds the call complete."""
        self.state.finish_call(self.entry, self.status, self.fault, self.started)

    async def _respond(self, send: Send, response: Response,
                       extra: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status = response.status_code
        self._record()
        headers = list(response.raw_headers) + (extra or [])
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, config = self.state, self.state.config
        path = scope["path"]
        delay = state.latency()
        if delay > 0:
            await asyncio.sleep(delay)

        if not self._authorised(scope):
            await self._respond(send, error_response(
                path, 401, "unauthorized", "Authorization has been denied for this request.",
                headers={"WWW-Authenticate": 'Basic realm="Dotdigital API"'}))
            return

        limit_headers: list[tuple[bytes, bytes]] = []
        if config.rate_limit_per_minute:
            counted = not path.startswith(TRIGGERED_PATHS)
            allowed, limit, remaining, reset_at = state.take_rate_slot(counted)
            limit_headers = [(b"x-ratelimit-limit", str(limit).encode()),
                             (b"x-ratelimit-remaining", str(remaining).encode()),
                             (b"x-ratelimit-reset", str(reset_at).encode()),
                             (b"x-ratelimit-scope", config.rate_limit_scope.encode())]
            if not allowed:
                retry = max(int(reset_at - time.time() + 0.999), 1)
                await self._respond(send, error_response(
                    path, 429, "apiUsageExceeded" if namespace(path) else "APIUSAGE_EXCEEDED",
                    "Your account has exceeded its API call rate limit; retry after the "
                    "reset time."), limit_headers + [(b"retry-after", str(retry).encode())])
                return

        body = await self._read_body(scope, receive)
        if body is None:
            await self._respond(send, error_response(
                path, 413, "requestTooLarge",
                f"The request body exceeds the maximum of {config.max_body_bytes} bytes."),
                limit_headers)
            return

        kind, error_status = state.pick_fault(scope["method"], path)
        if kind == "error":
            self.fault = "error"
            await self._respond(send, error_response(
                path, error_status, "internalServerError" if namespace(path) else "UNEXPECTED",
                "An unexpected error occurred (injected by the emulator)."), limit_headers)
            return
        if kind == "drop_before":
            self.fault = "drop_before"
            self._record()
            await self._drop(send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if kind == "drop_after":
            self.fault = "drop_after"
            messages: list[Message] = []

            async def capture(message: Message) -> None:
                messages.append(message)

            await self.app.inner(scope, replay, capture)
            start = next((m for m in messages if m["type"] == "http.response.start"), None)
            self.status = start["status"] if start else None
            payload = b"".join(m.get("body", b"") for m in messages
                               if m["type"] == "http.response.body")
            self._record()
            if start is not None and payload:
                # Headers (with the full Content-Length) and half the body, then the
                # connection goes: the client reads a truncated response.
                await send({**start, "headers": list(start["headers"]) + limit_headers})
                await send({"type": "http.response.body", "body": payload[: len(payload) // 2],
                            "more_body": True})
            await self._drop(send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self._record()
                if limit_headers:
                    message = {**message, "headers": list(message["headers"]) + limit_headers}
            await send(message)

        await self.app.inner(scope, replay, send_with_headers)

    def _authorised(self, scope: Scope) -> bool:
        raw = _header(scope, b"authorization")
        if not raw or raw[:6].lower() != b"basic ":
            return False
        try:
            decoded = base64.b64decode(raw[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        config = self.state.config
        return bool(sep) and secrets.compare_digest(user, config.user) and \
            secrets.compare_digest(password, config.password)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is larger than the limit (answered with 413)."""
        limit = self.state.config.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _drop(self, send: Send) -> None:
        """Close the client's connection without completing the response.

        Under uvicorn, ``send`` is the request cycle's bound method and its ``transport``
        is the client's socket: closing it (after flushing what was already sent) gives the
        client a real transport error. Marking the cycle disconnected stops uvicorn from
        answering 500 in our place. Elsewhere (in-process ASGI transports) there is no
        socket, so :class:`ConnectionDropped` is raised instead.
        """
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionDropped("connection dropped by the emulator's fault injection")
        transport.close()
        if hasattr(cycle, "disconnected"):
            cycle.disconnected = True  # type: ignore[union-attr]


def create_app(config: EmulatorConfig | None = None,
               state: EmulatorState | None = None) -> EmulatorApp:
    """The emulator as an ASGI app; ``app.emulator`` (and ``app.state.emulator``) is its state."""
    if state is None:
        state = EmulatorState(config or EmulatorConfig())
    return EmulatorApp(state)
