"""Contact operations (v3), and the v2 consent read-back (suppressed, unsubscribed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dotsync.dotdigital.errors import DotdigitalError, NotFoundError
from dotsync.dotdigital.lean import contact_import_head
from dotsync.dotdigital.models import (
    ContactDeleteReport,
    ContactImportReport,
    ContactUpsert,
    Suppression,
)
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.retry import SUBMIT
from dotsync.dotdigital.wire import (
    MergeOption,
    build_contact_import_body,
    chunk_body,
    contact_key,
    iso_z,
    merge_kebab,
    seg,
    v2_date,
)

__all__ = ["ContactOperations"]


class ContactOperations(Resource):
    """Contacts one at a time and in bulk; mixed into ``DotdigitalClient``."""

    def upsert_contact(
        self, contact: Mapping[str, Any], merge_option: MergeOption | str = "overwrite"
    ) -> ContactUpsert:
        """Create or update one contact: ``PATCH /contacts/v3/{identifier}/{value}``.

        ``contact`` is a v3 contact (``identifiers``, ``dataFields``, ``channelProperties``,
        ``lists``…). It is matched by e-mail, or by mobile number when it has no e-mail.
        ``PUT`` on that path would *replace* the contact, so it is never used.
        """
        identifier, value = contact_key(contact)
        body = {k: v for k, v in contact.items() if k != "matchIdentifier"}
        response = self._call(
            "upsert_contact", "PATCH", f"/contacts/v3/{seg(identifier)}/{seg(value)}",
            params={"merge-option": merge_kebab(merge_option)}, body=body,
        )
        return ContactUpsert.from_json(response.status_code,
                                       self._json(response, "upsert_contact"))

    def create_contact(self, contact: Mapping[str, Any]) -> ContactUpsert:
        """Create one contact, never update one: ``POST /contacts/v3``.

        Dotdigital answers 409 (:class:`ConflictError`) when an identifier is taken, so
        a status sent here reaches only a contact this call creates. Retried like the
        other idempotent calls: a retry of a create that went through gets the 409.
        """
        body = {k: v for k, v in contact.items() if k != "matchIdentifier"}
        response = self._call("create_contact", "POST", "/contacts/v3", body=body)
        return ContactUpsert.from_json(201, self._json(response, "create_contact"))

    def get_contact(self, identifier: str, value: str) -> dict[str, Any]:
        """``GET /contacts/v3/{identifier}/{value}``; :class:`NotFoundError` when absent."""
        response = self._call("get_contact", "GET",
                              f"/contacts/v3/{seg(identifier)}/{seg(value)}")
        return dict(self._json(response, "get_contact") or {})

    def delete_contact(self, identifier: str, value: str, *, missing_ok: bool = False) -> None:
        """``DELETE /contacts/v3/{identifier}/{value}``.

        With ``missing_ok`` a 404 counts as done (the contact is gone either way).
        """
        try:
            self._call("delete_contact", "DELETE",
                       f"/contacts/v3/{seg(identifier)}/{seg(value)}")
        except NotFoundError:
            if not missing_ok:
                raise

    def import_contacts(
        self, contacts: Sequence[Mapping[str, Any]], merge_option: MergeOption | str = "overwrite"
    ) -> str:
        """Submit a bulk import (``PUT /contacts/v3/import``); returns the ``importId``.

        Not retried after it may have reached Dotdigital (each submission is a new import);
        size chunks with :func:`dotsync.dotdigital.bulk.chunk_contacts`.
        """
        if not contacts:
            raise ValueError("import_contacts needs at least one contact")
        body: Any = chunk_body(build_contact_import_body([], merge_option), "contacts",
                               contacts)
        if body is None:
            body = build_contact_import_body(contacts, merge_option)

        def send() -> str:
            response = self._call("import_contacts", "PUT", "/contacts/v3/import", body=body,
                                  kind=SUBMIT)
            return self._import_id(response, "import_contacts", "importId")

        return self._imports.submit("contacts", send, "import_contacts")

    def get_contact_import(self, import_id: str, *, contacts: bool = True
                           ) -> ContactImportReport:
        """``GET /contacts/v3/import/{importId}``: status, summary and per-contact results.

        A finished import's report names every contact it created or updated: for a
        50 MB import that is some 30 MB of JSON, and over 100 MB once decoded into
        Python objects. ``contacts=False`` leaves ``created`` and ``updated`` empty and
        skips them while decoding, for callers that need only the status, the summary
        and the failures (a bulk load).
        """
        response = self._call("get_contact_import", "GET",
                              f"/contacts/v3/import/{seg(import_id)}")
        if contacts:
            body = self._json(response, "get_contact_import")
        else:
            try:
                body = contact_import_head(response.content) if response.content \
                    else None
            except ValueError:
                raise DotdigitalError(
                    f"get_contact_import: Dotdigital answered {response.status_code} with a "
                    "body that is not JSON", status=response.status_code,
                    operation="get_contact_import") from None
        report = ContactImportReport.from_json(body, import_id)
        if report.done:
            self._imports.ended(import_id)
        return report

    def delete_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> str:
        """Bulk delete (``POST /contacts/v3/delete``, ≤ 5000); returns the ``deleteId``.

        Each item names one identifier, e.g. ``{"email": "jo@example.com"}``.
        """
        if not contacts:
            raise ValueError("delete_contacts needs at least one contact")
        if len(contacts) > 5000:
            raise ValueError("Dotdigital deletes at most 5000 contacts per request")
        response = self._call("delete_contacts", "POST", "/contacts/v3/delete",
                              body=[dict(c) for c in contacts], kind=SUBMIT)
        return self._import_id(response, "delete_contacts", "deleteId")

    def get_contact_delete(self, delete_id: str) -> ContactDeleteReport:
        """``GET /contacts/v3/delete/{deleteId}``."""
        response = self._call("get_contact_delete", "GET",
                              f"/contacts/v3/delete/{seg(delete_id)}")
        return ContactDeleteReport.from_json(self._json(response, "get_contact_delete"),
                                             delete_id)

    def contacts_modified_since(
        self,
        since: datetime | date,
        *,
        limit: int = 1000,
        include: Iterable[str] = ("channelProperties",),
    ) -> Iterator[dict[str, Any]]:
        """Every contact modified at or after ``since`` (``GET /contacts/v3``, marker paging).

        Lazy: each page is fetched as the iteration reaches it.
        """
        if not 1 <= limit <= 5000:
            raise ValueError("limit must be between 1 and 5000")
        params: dict[str, Any] = {"~modified": f"gte::{iso_z(since)}", "limit": limit}
        included = "|".join(include)
        if included:
            params["include"] = included
        marker: str | None = None
        while True:
            page_params = dict(params)
            if marker:
                page_params["marker"] = marker
            response = self._call("contacts_modified_since", "GET", "/contacts/v3",
                                  params=page_params)
            page = self._json(response, "contacts_modified_since") or {}
            items = page.get("_items") or []
            yield from items
            next_link = (page.get("_links") or {}).get("next") or {}
            next_marker = next_link.get("marker")
            if not items or not next_marker or next_marker == marker:
                return
            marker = next_marker

    # ------------------------------------------------------------------ consent read-back (v2)
    def suppressed_since(self, since: datetime | date, *, page_size: int = 1000
                         ) -> list[Suppression]:
        """``GET /v2/contacts/suppressed-since/{date}``, all pages."""
        return [Suppression.from_json(s) for s in self._v2_pages(
            "suppressed_since", f"/v2/contacts/suppressed-since/{v2_date(since)}", page_size)]

    def unsubscribed_since(self, since: datetime | date, *, page_size: int = 1000
                           ) -> list[Suppression]:
        """``GET /v2/contacts/unsubscribed-since/{date}``, all pages."""
        return [Suppression.from_json(s) for s in self._v2_pages(
            "unsubscribed_since", f"/v2/contacts/unsubscribed-since/{v2_date(since)}",
            page_size)]
