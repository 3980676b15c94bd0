"""Reads and set-up calls about the account's own structure: insight collections, contact
data fields and lists (address books).

A mixin of :class:`~dotsync.dotdigital.client.DotdigitalClient` like the other operation
groups (:class:`~.resource.Resource`), so these get the same allow-list, pacing, retries and
error mapping. ``GET /v2/account-info`` is here too: it also discovers the region.
Preflight reads them to tell a user what the account is missing before a run refuses
records, and the sync creates its insight collection before single-record calls need it.

Why a missing collection needs telling apart: a single-record insight ``PUT`` into a
collection that does not exist answers 404, as does one for a contact that does not exist.
The insight-data spec documents the two bodies (``insightData:collectionNotFound`` and
``insightData:contactNotFound``); :func:`is_collection_not_found` reads them.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from dotsync.dotdigital.errors import DotdigitalError, NotFoundError
from dotsync.dotdigital.models import AccountInfo, AddressBook, DataField, InsightCollection
from dotsync.dotdigital.resource import Resource

__all__ = [
    "AccountDataOperations",
    "is_collection_not_found",
    "is_contact_not_found",
]

CollectionScope = Literal["contact", "account"]


def _code_is(error: DotdigitalError, suffix: str) -> bool:
    code = (error.error_code or "").rsplit(":", 1)[-1]
    return code.lower() == suffix.lower()


def is_collection_not_found(error: DotdigitalError) -> bool:
    """A 404 whose body says the insight collection does not exist."""
    return isinstance(error, NotFoundError) and _code_is(error, "collectionNotFound")


def is_contact_not_found(error: DotdigitalError) -> bool:
    """A 404 whose body says the contact does not exist."""
    return isinstance(error, NotFoundError) and _code_is(error, "contactNotFound")


class AccountDataOperations(Resource):
    """The account, its collections, data fields and lists; mixed into ``DotdigitalClient``."""

    def account_info(self) -> AccountInfo:
        """``GET /v2/account-info``; discovers (and remembers) the region when needed."""
        transport = self._transport
        with transport.lock:
            if transport.endpoint is None:
                return transport.discover()
        response = self._call("account_info", "GET", "/v2/account-info")
        return AccountInfo.from_json(self._json(response, "account_info"))

    # ------------------------------------------------------------------ insight collections
    def list_insight_collections(self) -> list[InsightCollection]:
        """``GET /insightData/v3/collections``: every collection with its record count."""
        response = self._call("list_insight_collections", "GET", "/insightData/v3/collections")
        return [InsightCollection.from_json(item)
                for item in self._json_list(response, "list_insight_collections")]

    def create_insight_collection(self, name: str, *, scope: CollectionScope = "contact",
                                  type: str = "orders") -> bool:
        """``POST /insightData/v3/collections/{name}``; True when created, False when it
        already existed (Dotdigital answers 200 then, so this is safe to repeat)."""
        response = self._call("create_insight_collection", "POST",
                              f"/insightData/v3/collections/{quote(name, safe='')}",
                              params={"collectionScope": scope, "collectionType": type})
        return response.status_code == 201

    # ------------------------------------------------------------------ data fields (v2)
    def list_data_fields(self) -> list[DataField]:
        """``GET /v2/data-fields``: the account's contact data fields with their types."""
        response = self._call("list_data_fields", "GET", "/v2/data-fields")
        return [DataField.from_json(item)
                for item in self._json_list(response, "list_data_fields")]

    # ------------------------------------------------------------------ lists (v2)
    def get_address_book(self, address_book_id: int) -> AddressBook:
        """``GET /v2/address-books/{id}``; :class:`NotFoundError` when there is none."""
        response = self._call("get_address_book", "GET",
                              f"/v2/address-books/{int(address_book_id)}")
        return AddressBook.from_json(self._json(response, "get_address_book"))
