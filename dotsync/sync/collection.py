"""The insight collection orders go into: exists, or is created before a record needs it.

A single-record insight ``PUT`` into a collection that does not exist answers 404, and so
does one for a contact that does not exist (DOTDIGITAL.md; the insight-data spec documents
the bodies ``insightData:collectionNotFound`` and ``insightData:contactNotFound``). Read as
"missing contact", a new account's first small sync pushed the contact again and left its
orders pending run after run. :class:`CollectionGuard` tells the two apart (by the error
code; for a 404 without one, by listing the account's collections once) and creates the
collection (``POST /insightData/v3/collections/{name}``, contact scope, type orders; a
repeat answers 200, so creating is safe when another run got there first). A bulk import
creates its collection itself, so only single-record calls need this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.account_data import is_collection_not_found, is_contact_not_found

__all__ = ["CollectionGuard", "CollectionUnavailable"]

logger = logging.getLogger(__name__)


class CollectionUnavailable(dd.DotdigitalError):
    """The collection does not exist and could not be created; the order is not sent."""


class CollectionGuard:
    """Per run: knows whether ``name`` exists and creates it at most once."""

    def __init__(self, client: Any, name: str, *, scope: str = "contact", type: str = "orders",
                 note: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.name = name
        self.scope = scope
        self.type = type
        self._note = note
        self._listed: set[str] | None = None
        self._failure: CollectionUnavailable | None = None
        self.created = False

    def missing(self, error: dd.DotdigitalError) -> bool:
        """Whether a 404 from a single-record call means the collection is missing."""
        if not isinstance(error, dd.NotFoundError) or self.created:
            return False
        if is_collection_not_found(error):
            return True
        if is_contact_not_found(error):
            return False
        if self._listed is None:  # a 404 that names neither: ask the account, once a run
            self._listed = {c.name for c in self.client.list_insight_collections()}
        return self.name not in self._listed

    def create(self) -> None:
        """Create the collection; :class:`CollectionUnavailable` when Dotdigital refuses."""
        if self.created:
            return
        if self._failure is not None:  # refused once this run: don't ask for every order
            raise self._failure
        try:
            new = self.client.create_insight_collection(self.name, scope=self.scope,
                                                        type=self.type)
        except dd.AuthenticationError:
            raise
        except dd.DotdigitalError as exc:
            self._failure = CollectionUnavailable(
                f"the insight collection {self.name!r} does not exist in Dotdigital and could"
                f" not be created: {exc}", status=exc.status, error_code=exc.error_code,
                operation=exc.operation)
            raise self._failure from None
        self.created = True
        failpoints.hit("after_collection_created")
        message = (f"created the insight collection {self.name!r} (contact scope, type"
                   f" orders)" if new else f"the insight collection {self.name!r} exists")
        logger.info(message)
        if self._note is not None and new:
            self._note(message)

    def upsert(self, key: str, json: Any, email: str) -> None:
        """One single-record upsert; a missing collection is created and the call repeated
        once. A missing contact still raises :class:`~dotsync.dotdigital.NotFoundError`."""
        try:
            self.client.upsert_contact_insight(self.name, key, json, email)
        except dd.NotFoundError as exc:
            if not self.missing(exc):
                raise
            self.create()
            self.client.upsert_contact_insight(self.name, key, json, email)
