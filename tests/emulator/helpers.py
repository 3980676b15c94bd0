"""Helpers for the emulator's tests: a spec-checking client and request builders.

Every response the ``api`` client receives is validated against Dotdigital's OpenAPI specs
(``tests.contract.spec``): 2xx bodies against the declared schema, v3 error bodies against
the v3 ``errorResponse`` shape, v2 error bodies against ``{"message": …}``. So every
endpoint test is also a contract test, and ``checked`` records which operations were seen.
"""

from __future__ import annotations

from typing import Any

import httpx

from dotsync.emulator import DEFAULT_PASSWORD, DEFAULT_USER, EmulatorServer
from tests.contract.spec import NO_BODY, OperationNotInSpec, validate_response

AUTH = (DEFAULT_USER, DEFAULT_PASSWORD)

V3_ERROR_KEYS = {"errorCode", "description", "details"}

#: Shapes for the two v2 reads that no published spec file documents (see spec.py quirk 8).
SUPPRESSION_ITEM_KEYS = {"suppressedContact", "dateRemoved", "reason"}
SUPPRESSED_CONTACT_KEYS = {"id", "email", "optInType", "emailType", "dataFields", "status"}

#: (method, path template) of every operation whose response the checking client validated.
CHECKED: set[tuple[str, str]] = set()


def check_error_body(path: str, status: int, body: Any) -> None:
    """v3 errors: ``{errorCode "ns:code", description, details?}``; v2: ``{message}``."""
    if path.startswith(("/contacts/v3", "/insightData/v3")):
        assert isinstance(body, dict), body
        assert set(body) <= V3_ERROR_KEYS and {"errorCode", "description"} <= set(body), body
        ns = "contacts" if path.startswith("/contacts") else "insightData"
        assert body["errorCode"].startswith(ns + ":"), body
        for detail in body.get("details", []):
            assert set(detail) == {"item", "description"}, detail
            assert all(isinstance(v, str) for v in detail.values()), detail
    else:
        assert isinstance(body, dict) and set(body) == {"message"}, body
        assert body["message"].split()[-1].startswith("ERROR_"), body


def check_suppressions(body: Any) -> None:
    assert isinstance(body, list)
    for item in body:
        assert set(item) == SUPPRESSION_ITEM_KEYS, item
        assert set(item["suppressedContact"]) == SUPPRESSED_CONTACT_KEYS, item
        assert isinstance(item["dateRemoved"], str) and isinstance(item["reason"], str)


def check_response(response: httpx.Response, seen: set[tuple[str, str]] | None = None) -> None:
    """Validate one emulator response against the spec (or the documented shape).

    Adds the (method, path template) it checked to ``seen`` (default: :data:`CHECKED`).
    """
    seen = CHECKED if seen is None else seen
    request = response.request
    path = request.url.path
    if path.startswith("/_emulator"):
        return
    body: Any = NO_BODY
    if response.content and "json" in response.headers.get("content-type", "json"):
        body = response.json()
    elif response.content:  # a CSV report: the spec declares no JSON to check it against
        assert response.status_code < 400, response.text
    status = response.status_code
    if status >= 400:
        assert body is not NO_BODY, f"{status} without a body"
        check_error_body(path, status, body)
    url = str(request.url)
    try:
        op = validate_response(request.method, url, status, body,
                               allow_undeclared_status=status >= 400)
    except OperationNotInSpec:
        if "/suppressed-since/" in path or "/unsubscribed-since/" in path:
            if status == 200:
                check_suppressions(body)
            seen.add((request.method, path.rsplit("/", 1)[0] + "/{date}"))
            return
        if status in (404, 405):
            return  # an unknown path: the error body was checked above
        raise
    seen.add((op.method, op.path_template))


class CheckedClient(httpx.Client):
    """An httpx client that validates every response it receives against the spec."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: set[tuple[str, str]] = set()

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = super().send(request, **kwargs)
        response.read()
        check_response(response, self.seen)
        CHECKED.update(self.seen)
        return response


def make_client(server: EmulatorServer, auth: tuple[str, str] | None = AUTH,
                **kwargs: Any) -> CheckedClient:
    return CheckedClient(base_url=server.url, auth=auth, timeout=10, **kwargs)


def import_body(*contacts: dict[str, Any], merge: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"contacts": list(contacts)}
    if merge:
        body["mergeOption"] = merge
    return body


def by_email(email: str, **extra: Any) -> dict[str, Any]:
    """One import record matched by e-mail."""
    record: dict[str, Any] = {"matchIdentifier": "email", "identifiers": {"email": email}}
    record.update(extra)
    return record


def insight_body(*records: dict[str, Any], collection: str = "Purchases",
                 scope: str = "contact", type_: str = "orders") -> dict[str, Any]:
    return {"collectionName": collection, "collectionScope": scope, "collectionType": type_,
            "records": list(records)}


def order(key: str, email: str, **json: Any) -> dict[str, Any]:
    return {"key": key, "contactIdentity": {"identifier": "email", "value": email},
            "json": {"id": key, "order_total": 10.5, **json}}
