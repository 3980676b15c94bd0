"""Emulated deletes of insight records (``dotdigital-insight-data-service.json``), and the
account-scoped reads a catalogue check needs.

* ``DELETE /insightData/v3/account/{collectionName}/{recordId}`` and
  ``DELETE /insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}``:
  204; 404 ``insightData:collectionNotFound`` or ``insightData:recordNotFound``.
* ``DELETE /insightData/v3/accounts/{collectionName}/deleteRecords`` (the spec's path
  says ``accounts``) and ``…/contacts/{identifier}/{value}/{collectionName}/
  deleteRecords``: a body ``{"keys": [1 to 5000 keys]}``; 200 with ``summary``
  (``totalRecords``, ``totalDeleted``, ``totalNotFound``), ``notFound`` and the
  ``failures`` list the schema requires (always empty here); 400
  ``insightData:noRecordsSpecified`` without keys (the spec's example), and past 5000.
* ``GET /insightData/v3/account``: the account-scoped collections;
  ``GET /insightData/v3/account/{collectionName}/{recordId}``: one record.

A collection of the other scope is refused as the single upserts refuse it
(``insightData:invalidCollectionScope``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["MAX_KEYS", "ROUTES"]

MAX_KEYS = 5000


def _app() -> Any:
    from dotsync.emulator import app

    return app


def _collection(request: Request, name: str, scope: str) -> Response | None:
    app = _app()
    bad = app._check_collection_name(name)
    if bad is not None:
        return bad  # type: ignore[no-any-return]
    col = app._state(request).collection(name)
    if col is None:
        return app.v3(404, "insightData", "collectionNotFound",  # type: ignore[no-any-return]
                      "The collection could not be found", [(name, "Not found")])
    if col["scope"] != scope:
        return app.v3(400, "insightData", "invalidCollectionScope",  # type: ignore[no-any-return]
                      f"The collection '{name}' has scope '{col['scope']}'")
    return None


def _target(request: Request, name: str, scope: str
            ) -> tuple[int | None, Response | None]:
    """The collection checked, then the owning contact: (owner, None) or the answer
    to give instead (both delete endpoints answer the same way)."""
    bad = _collection(request, name, scope)
    if bad is not None:
        return None, bad
    return _owner(request)


def _owner(request: Request) -> tuple[int | None, Response | None]:
    """The contact of a contact-scoped path (its id), or the answer to give."""
    app = _app()
    p = request.path_params
    if "identifier" not in p:
        return None, None
    bad = app._check_path_identifier(p["identifier"], p["value"])
    if bad is not None:
        return None, bad
    contact = app._state(request).find(p["identifier"], p["value"])
    if contact is None:
        return None, app._not_found("insightData", p["identifier"], p["value"])
    return contact.contact_id, None


async def delete_record(request: Request) -> Response:
    app = _app()
    state = app._state(request)
    p = request.path_params
    name, key = p["collectionName"], p["recordId"]
    scope = "contact" if "identifier" in p else "account"
    with state.lock:
        owner, bad = _target(request, name, scope)
        if bad is not None:
            return bad
        deleted, _ = state.delete_records(name, [key], owner)
    if not deleted:
        return app.v3(404, "insightData", "recordNotFound",  # type: ignore[no-any-return]
                      "The Insight data record could not be found",
                      [(key, f"Not found in the {scope} collection '{name}'")])
    return Response(status_code=204)


async def delete_records(request: Request) -> Response:
    app = _app()
    state = app._state(request)
    name = request.path_params["collectionName"]
    scope = "contact" if "identifier" in request.path_params else "account"
    body = await app.read_json(request)
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        return app.v3(400, "insightData", "noRecordsSpecified",  # type: ignore[no-any-return]
                      "You must specify the keys for the records to be deleted from the "
                      "collection.")
    if len(keys) > MAX_KEYS or any(not isinstance(k, str) for k in keys):
        return app.v3(400, "insightData", "validationError",  # type: ignore[no-any-return]
                      "The request is invalid",
                      [("keys", f"1 to {MAX_KEYS} record keys, as text")])
    with state.lock:
        owner, bad = _target(request, name, scope)
        if bad is not None:
            return bad
        deleted, missing = state.delete_records(name, list(dict.fromkeys(keys)), owner)
    return JSONResponse({"summary": {"totalRecords": len(keys), "totalDeleted": len(deleted),
                                     "totalNotFound": len(missing)},
                         # required by the spec's schema, which does not describe it
                         "failures": [], "notFound": missing})


async def list_account_collections(request: Request) -> Response:
    state = _app()._state(request)
    return JSONResponse([c for c in state.collections_summary()
                         if c.get("collectionScope") == "account"])


async def get_account_record(request: Request) -> Response:
    app = _app()
    state = app._state(request)
    name, key = request.path_params["collectionName"], request.path_params["recordId"]
    with state.lock:
        bad = _collection(request, name, "account")
        if bad is not None:
            return bad
        record = state.insight_record(name, None, key)
    if record is None:
        return app.v3(404, "insightData", "recordNotFound",  # type: ignore[no-any-return]
                      "The Insight data record could not be found",
                      [(key, f"Not found in the account collection '{name}'")])
    return JSONResponse({"key": record["key"], "json": record["json"],
                         "created": record["created"], "updated": record["updated"]})


ROUTES = [
    Route("/insightData/v3/account", list_account_collections, methods=["GET"]),
    Route("/insightData/v3/account/{collectionName}/{recordId}", get_account_record,
          methods=["GET"]),
    Route("/insightData/v3/account/{collectionName}/{recordId}", delete_record,
          methods=["DELETE"]),
    Route("/insightData/v3/accounts/{collectionName}/deleteRecords", delete_records,
          methods=["DELETE"]),
    Route("/insightData/v3/contacts/{identifier}/{value}/{collectionName}/deleteRecords",
          delete_records, methods=["DELETE"]),
    Route("/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}",
          delete_record, methods=["DELETE"]),
]
