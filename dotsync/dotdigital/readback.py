"""Reading back what the account holds, a page (one call) at a time.

Reconciliation compares the ledger with Dotdigital under a call budget, so these reads
yield one page per call and the caller decides when to stop. Kept apart from
:mod:`.client` as a mixin of :class:`~dotsync.dotdigital.client.DotdigitalClient`, like
:mod:`.account_data`: the same allow-list, pacing, retries and error mapping apply.

Endpoints (Dotdigital's published specs):

* ``GET /contacts/v3`` (dotdigital-contacts-service.json, ``getContacts``): contacts
  ascending, ``~modified=gte::…``, ``data-fields``, ``limit`` up to 5000, ``marker``;
* ``GET /insightData/v3/contacts/{collectionName}`` (dotdigital-insight-data-service.json,
  ``getAllContactsInsightData``): records of a contact-scoped collection, the same filter
  and paging;
* ``GET /insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}``
  (``getContactInsightDataRecord``): one record, for sampled keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from dotsync.dotdigital.errors import NotFoundError
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.wire import iso_z as _iso_z

__all__ = ["ReadBackOperations"]

#: One page of a listing: the ``_items`` of one response.
Page = list[dict[str, Any]]

#: The most records a listing page may hold (the specs' ``limit`` maximum).
MAX_PAGE = 5000


def _seg(value: object) -> str:
    return quote(str(value), safe="@")


class ReadBackOperations(Resource):
    """Paged listings of contacts and insight records; mixed into ``DotdigitalClient``."""

    def _pages(self, operation: str, path: str, params: Mapping[str, Any],
               before_call: Callable[[], None] | None) -> Iterator[list[dict[str, Any]]]:
        marker: str | None = None
        while True:
            if before_call is not None:
                before_call()
            query = dict(params)
            if marker:
                query["marker"] = marker
            page = self._json(self._call(operation, "GET", path, params=query), operation) or {}
            items = list(page.get("_items") or [])
            yield items
            next_marker = ((page.get("_links") or {}).get("next") or {}).get("marker")
            if not items or not next_marker or next_marker == marker:
                return
            marker = next_marker

    def contact_pages(self, since: datetime | None = None, *, limit: int = 1000,
                      data_fields: str = "[[ALL]]",
                      before_call: Callable[[], None] | None = None) -> Iterator[Page]:
        """Contacts (modified at or after ``since``, or all), one page per call, with
        their identifiers and ``data_fields`` (``[[ALL]]`` or names joined by ``|``)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        params: dict[str, Any] = {"limit": limit}
        if data_fields:
            params["data-fields"] = data_fields
        if since is not None:
            params["~modified"] = f"gte::{_iso_z(since)}"
        return self._pages("list_contacts", "/contacts/v3", params, before_call)

    def insight_pages(self, collection: str, since: datetime | None = None, *,
                      limit: int = 1000,
                      before_call: Callable[[], None] | None = None) -> Iterator[Page]:
        """Records of a contact-scoped collection (modified at or after ``since``, or
        all), one page per call. Each has ``key``, ``json``, ``updated``."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["~modified"] = f"gte::{_iso_z(since)}"
        return self._pages("list_contact_insight", f"/insightData/v3/contacts/{_seg(collection)}",
                           params, before_call)

    def get_contact_insight(self, collection: str, email: str,
                            key: str) -> dict[str, Any] | None:
        """One record of a contact (by e-mail), or None when the contact, the collection
        or the record is not there (all three answer 404)."""
        try:
            response = self._call(
                "get_contact_insight", "GET",
                f"/insightData/v3/contacts/email/{_seg(email)}/{_seg(collection)}/{_seg(key)}")
        except NotFoundError:
            return None
        return dict(self._json(response, "get_contact_insight") or {})

    def find_contact(self, identifier: str, value: str) -> dict[str, Any] | None:
        """``GET /contacts/v3/{identifier}/{value}``, or None when there is no such contact."""
        try:
            response = self._call("get_contact", "GET",
                                  f"/contacts/v3/{_seg(identifier)}/{_seg(value)}")
        except NotFoundError:
            return None
        return dict(self._json(response, "get_contact") or {})
