"""CollectionGuard: a missing collection is told apart from a missing contact and created."""

from __future__ import annotations

from typing import Any

import pytest

from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.models import InsightCollection
from dotsync.sync.collection import CollectionGuard, CollectionUnavailable


def not_found(code: str | None) -> dd.NotFoundError:
    return dd.NotFoundError("upsert_contact_insight: 404", status=404, error_code=code)


class FakeClient:
    """Answers single upserts from a script; records every call."""

    def __init__(self, *, collections: list[str], contacts: set[str],
                 code_in_404: bool = True, create_error: dd.DotdigitalError | None = None):
        self.collections = set(collections)
        self.contacts = contacts
        self.code_in_404 = code_in_404
        self.create_error = create_error
        self.calls: list[tuple[str, Any]] = []
        self.records: dict[str, Any] = {}

    def upsert_contact_insight(self, collection: str, key: str, json: Any, email: str) -> None:
        self.calls.append(("put", key))
        if email not in self.contacts:  # as the emulator: the contact is looked up first
            raise not_found("insightData:contactNotFound" if self.code_in_404 else None)
        if collection not in self.collections:
            raise not_found("insightData:collectionNotFound" if self.code_in_404 else None)
        self.records[key] = json

    def list_insight_collections(self) -> list[InsightCollection]:
        self.calls.append(("list", None))
        return [InsightCollection(n, "orders", "contact") for n in sorted(self.collections)]

    def create_insight_collection(self, name: str, *, scope: str, type: str) -> bool:
        self.calls.append(("create", (name, scope, type)))
        if self.create_error is not None:
            raise self.create_error
        new = name not in self.collections
        self.collections.add(name)
        return new


@pytest.mark.parametrize("name", ["Purchases", "Orders2"])
@pytest.mark.parametrize("code_in_404", [True, False])
def test_a_missing_collection_is_created_once_and_the_record_sent(name, code_in_404):
    client = FakeClient(collections=[], contacts={"jo@example.com"}, code_in_404=code_in_404)
    notes: list[str] = []
    guard = CollectionGuard(client, name, note=notes.append)
    guard.upsert("o1", {"id": "o1"}, "jo@example.com")
    guard.upsert("o2", {"id": "o2"}, "jo@example.com")
    assert client.records == {"o1": {"id": "o1"}, "o2": {"id": "o2"}}
    creates = [c for c in client.calls if c[0] == "create"]
    assert creates == [("create", (name, "contact", "orders"))]
    # without an error code, the account's collections were listed once to decide
    assert sum(c[0] == "list" for c in client.calls) == (0 if code_in_404 else 1)
    assert notes == [f"created the insight collection {name!r} (contact scope, type orders)"]


@pytest.mark.parametrize("code_in_404", [True, False])
def test_a_missing_contact_is_still_a_missing_contact(code_in_404):
    client = FakeClient(collections=["Purchases"], contacts=set(), code_in_404=code_in_404)
    guard = CollectionGuard(client, "Purchases")
    with pytest.raises(dd.NotFoundError):
        guard.upsert("o1", {"id": "o1"}, "ghost@example.com")
    assert not any(c[0] == "create" for c in client.calls)


def test_an_existing_collection_costs_no_extra_call():
    client = FakeClient(collections=["Purchases"], contacts={"jo@example.com"})
    CollectionGuard(client, "Purchases").upsert("o1", {}, "jo@example.com")
    assert client.calls == [("put", "o1")]


def test_a_collection_that_cannot_be_created_fails_clearly_and_is_asked_for_once():
    refused = dd.ValidationError("create_insight_collection: 412", status=412)
    client = FakeClient(collections=[], contacts={"jo@example.com"}, create_error=refused)
    guard = CollectionGuard(client, "Orders2")
    for key in ("o1", "o2"):
        with pytest.raises(CollectionUnavailable, match="'Orders2' does not exist in"
                           " Dotdigital and could not be created"):
            guard.upsert(key, {}, "jo@example.com")
    assert sum(c[0] == "create" for c in client.calls) == 1
    assert not isinstance(CollectionUnavailable("x"), dd.NotFoundError)  # never "missing contact"
