"""The emulated account's structure: contact data fields, lists (address books) and the
calls that read or create them, including ``POST /insightData/v3/collections/{name}``.

A new Dotdigital account has only the default data fields and no insight collection, so
that is what the emulator starts with: a sync that sends ``STORE`` to an account without
that field is refused here as it would be by Dotdigital, and a test can never pass because
the emulator was kinder than the real account.

Sources:

* Default data fields: Dotdigital's "Get started with contacts" (support.dotdigital.com,
  article 8198706) lists the default ("personal details") fields first name, last name,
  full name, gender and postcode; the v2 create-contact example in
  ``Dotdigital-dotdigital-email-contacts-2.0.0-resolved.yaml`` returns them as
  ``FIRSTNAME``, ``FULLNAME``, ``GENDER``, ``LASTNAME``, ``LASTSUBSCRIBED``, ``POSTCODE``
  (``LASTSUBSCRIBED`` a date Dotdigital maintains itself). Types as in
  ``Dotdigital-dotdigital-contact-data-fields-2.0.0-resolved-1.yaml``.
* Lists: every account comes with the address books "All contacts" and "Test"
  (support.dotdigital.com, "Contacts overview"); their ids here are the emulator's own.
* Errors: ``GET /v2/address-books/{id}`` for an unknown id answers
  ``Error: ERROR_ADDRESSBOOK_NOT_FOUND``, the message Dotdigital's Magento 2 extension
  matches (``Apiconnector\\Rest::API_ERROR_ADDRESSBOOK_NOT_FOUND``).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from dotsync.emulator.state import EmulatorState

__all__ = [
    "DATA_FIELD_TYPES",
    "DEFAULT_ADDRESS_BOOKS",
    "DEFAULT_DATA_FIELDS",
    "ROUTES",
    "AccountStructure",
    "normalise_address_books",
    "normalise_data_fields",
    "seed_with_fields",
]

DATA_FIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_COLLECTION_TYPES = ("cartInsight", "catalog", "consentInsight", "custom",
                     "easyEditorExtensions", "nostoEmailCampaigns", "orders",
                     "productCategories", "webInsight", "wishList")
MAX_COLLECTIONS = 1000


def _field(name: str, type: str = "String") -> dict[str, Any]:
    return {"name": name, "type": type, "visibility": "Public", "defaultValue": None}


#: What a new account has (see the module docstring for the sources).
DEFAULT_DATA_FIELDS: list[dict[str, Any]] = [
    _field("FIRSTNAME"), _field("LASTNAME"), _field("FULLNAME"), _field("GENDER"),
    _field("POSTCODE"), _field("LASTSUBSCRIBED", "Date"),
]
DEFAULT_ADDRESS_BOOKS: list[dict[str, Any]] = [
    {"id": 1, "name": "Test", "visibility": "Private"},
    {"id": 2, "name": "All contacts", "visibility": "Private"},
]


def seed_with_fields(*names: str) -> dict[str, Any]:
    """A seed for a new account to which a user has added String data fields ``names``."""
    return {"dataFields": [*DEFAULT_DATA_FIELDS, *(_field(n) for n in names)]}


def normalise_data_fields(value: Any) -> list[dict[str, Any]] | None:
    """A seed's ``dataFields``: names (String fields) or ``{name, type, …}`` objects.

    ``None`` (JSON null) keeps the old lenient mode: any well-formed name is accepted.
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("seed dataFields: must be a list of names or {name, type} objects")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        entry = _field(item) if isinstance(item, str) else dict(item) if isinstance(
            item, dict) else None
        if entry is None or not isinstance(entry.get("name"), str) or not _FIELD_NAME.match(
                entry["name"]):
            raise ValueError(f"seed dataFields[{i}]: needs a name of 1-20 letters, digits,"
                             " '-' or '_'")
        entry.setdefault("type", "String")
        entry.setdefault("visibility", "Public")
        entry.setdefault("defaultValue", None)
        if entry["type"] not in DATA_FIELD_TYPES:
            raise ValueError(f"seed dataFields[{i}]: type must be one of"
                             f" {', '.join(DATA_FIELD_TYPES)}")
        out.append(entry)
    return out


def normalise_address_books(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("seed addressBooks: must be a list of {id, name} objects")
    out = []
    for i, book in enumerate(value):
        if not isinstance(book, dict) or isinstance(book.get("id"), bool) or not isinstance(
                book.get("id"), int) or not book.get("name"):
            raise ValueError(f"seed addressBooks[{i}]: needs an integer id and a name")
        out.append({"visibility": "Private", **book})
    return out


class AccountStructure:
    """Data fields (by upper-cased name) and address books (by id); the state's lock
    guards every call."""

    def __init__(self, data_fields: list[dict[str, Any]] | None,
                 address_books: list[dict[str, Any]]) -> None:
        self.lenient = data_fields is None
        self._fields: dict[str, dict[str, Any]] = {
            f["name"].upper(): dict(f) for f in (data_fields or [])}
        self._books: dict[int, dict[str, Any]] = {b["id"]: dict(b) for b in address_books}

    def known(self) -> set[str] | None:
        """Names a contact may carry (upper case); None in lenient mode (any name)."""
        return None if self.lenient else set(self._fields)

    def data_fields(self) -> list[dict[str, Any]]:
        return [dict(f) for f in self._fields.values()]

    def add_data_field(self, name: str, type: str = "String", visibility: str = "Private",
                       default: Any = None) -> dict[str, Any]:
        """Create a data field; ValueError when the name is taken or malformed."""
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise ValueError("The data field name must be 1-20 letters, digits, '-' or '_'.")
        if type not in DATA_FIELD_TYPES:
            raise ValueError(f"The data field type must be one of {', '.join(DATA_FIELD_TYPES)}.")
        if name.upper() in self._fields:
            raise ValueError(f"A data field named {name.upper()} already exists.")
        entry = {"name": name.upper(), "type": type, "visibility": visibility,
                 "defaultValue": default}
        self._fields[name.upper()] = entry
        return dict(entry)

    def address_book(self, book_id: int) -> dict[str, Any] | None:
        book = self._books.get(book_id)
        return dict(book) if book else None

    def address_books(self) -> list[dict[str, Any]]:
        return [dict(self._books[k]) for k in sorted(self._books)]


# ---------------------------------------------------------------------------- routes
def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator  # type: ignore[no-any-return]


def _v2(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def list_data_fields(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        return JSONResponse(state.structure.data_fields())


async def create_data_field(request: Request) -> Response:
    """``POST /v2/data-fields`` with ``{name, type, visibility?, defaultValue?}`` → 201."""
    state = _state(request)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _v2(400, "The request body is not valid JSON. ERROR_PARAMETER_INVALID")
    try:
        with state.lock:
            created = state.structure.add_data_field(
                body.get("name"), body.get("type"), body.get("visibility") or "Private",
                body.get("defaultValue"))
    except ValueError as exc:
        return _v2(400, f"{exc} ERROR_PARAMETER_INVALID")
    return JSONResponse(created, status_code=201)


def _book_view(state: EmulatorState, book: dict[str, Any]) -> dict[str, Any]:
    return {**book, "contacts": state.list_member_count(book["id"])}


async def get_address_book(request: Request) -> Response:
    state = _state(request)
    try:
        book_id = int(request.path_params["id"])
    except ValueError:
        return _v2(400, "The address book id is invalid. ERROR_PARAMETER_INVALID")
    with state.lock:
        book = state.structure.address_book(book_id)
        if book is None:
            return _v2(404, "Error: ERROR_ADDRESSBOOK_NOT_FOUND")
        return JSONResponse(_book_view(state, book))


async def list_address_books(request: Request) -> Response:
    state = _state(request)
    try:
        select = int(request.query_params.get("select", "1000"))
        skip = int(request.query_params.get("skip", "0"))
    except ValueError:
        return _v2(400, "select and skip must be numbers. ERROR_PARAMETER_INVALID")
    if not 1 <= select <= 1000 or skip < 0:
        return _v2(400, "select must be between 1 and 1000. ERROR_PARAMETER_INVALID")
    with state.lock:
        books = state.structure.address_books()[skip:skip + select]
        return JSONResponse([_book_view(state, b) for b in books])


async def create_collection(request: Request) -> Response:
    """``POST /insightData/v3/collections/{collectionName}?collectionScope=…&
    collectionType=…``: 201 created, 200 when it already exists, 412 past 1000."""
    from dotsync.emulator.app import _check_collection_name, v3

    state = _state(request)
    name = request.path_params["collectionName"]
    bad = _check_collection_name(name)
    if bad:
        return bad
    scope = request.query_params.get("collectionScope")
    kind = request.query_params.get("collectionType")
    problems = []
    if scope not in ("account", "contact"):
        problems.append(("collectionScope", "required: account or contact"))
    if kind not in _COLLECTION_TYPES:
        problems.append(("collectionType", f"required: one of {', '.join(_COLLECTION_TYPES)}"))
    if problems:
        return v3(400, "insightData", "validationError", "The request is invalid", problems)
    assert scope is not None and kind is not None
    created = state.create_collection(name, scope, kind, limit=MAX_COLLECTIONS)
    if created is None:
        return v3(412, "insightData", "collectionLimitExceeded",
                  "Insight data collection limit exceeded")
    return Response(status_code=201 if created else 200)


async def inspect_data_fields(request: Request) -> Response:
    """``GET`` the account's data fields; ``POST`` one ``{name, type}`` or a list of them
    (or plain names, created as String) to add fields the way a user would in the UI."""
    state = _state(request)
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"[]")
            items = body if isinstance(body, list) else [body]
            with state.lock:
                for item in normalise_data_fields(items) or []:
                    if item["name"].upper() not in (state.structure.known() or set()):
                        state.structure.add_data_field(item["name"], item["type"],
                                                       item["visibility"],
                                                       item["defaultValue"])
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    with state.lock:
        return JSONResponse(state.structure.data_fields())


ROUTES = [
    Route("/v2/data-fields", list_data_fields, methods=["GET"]),
    Route("/v2/data-fields", create_data_field, methods=["POST"]),
    Route("/v2/address-books", list_address_books, methods=["GET"]),
    Route("/v2/address-books/{id}", get_address_book, methods=["GET"]),
    Route("/insightData/v3/collections/{collectionName}", create_collection, methods=["POST"]),
    Route("/_emulator/data-fields", inspect_data_fields, methods=["GET", "POST"]),
]
