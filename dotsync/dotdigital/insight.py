"""Insight data operations (v3): bulk imports, single-record upserts and deletes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from dotsync.dotdigital.models import InsightImportReport, InsightRecordDeletes
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.retry import SUBMIT
from dotsync.dotdigital.wire import build_insight_import_body, chunk_body, seg

__all__ = ["MAX_DELETE_KEYS", "InsightOperations"]

#: The insight spec's ``deleteRecords`` bodies: ``keys`` ``minItems: 1``, ``maxItems: 5000``.
MAX_DELETE_KEYS = 5000


class InsightOperations(Resource):
    """Insight collections' records; mixed into ``DotdigitalClient``."""

    def import_insight_data(
        self,
        collection: str,
        records: Sequence[Mapping[str, Any]],
        scope: Literal["contact", "account"] = "contact",
        type: str = "orders",
    ) -> str:
        """Submit a bulk insight import (``PUT /insightData/v3/import``); returns ``importId``.

        Each record is ``{"key", "json"}`` plus, for contact scope, ``"contactIdentity":
        {"identifier": "email", "value": …}`` (see :func:`dotsync.dotdigital.bulk.insight_record`).
        """
        if not records:
            raise ValueError("import_insight_data needs at least one record")
        body: Any = chunk_body(build_insight_import_body(collection, [], scope, type),
                               "records", records)
        if body is None:
            if scope == "contact":
                for record in records:
                    if not record.get("contactIdentity"):
                        raise ValueError(
                            f"insight record {record.get('key')!r} has no contactIdentity,"
                            " which a contact-scoped collection requires"
                        )
            body = build_insight_import_body(collection, records, scope, type)

        def send() -> str:
            response = self._call("import_insight_data", "PUT", "/insightData/v3/import",
                                  body=body, kind=SUBMIT)
            return self._import_id(response, "import_insight_data", "importId")

        return self._imports.submit("insight", send, "import_insight_data")

    def get_insight_import(self, import_id: str) -> InsightImportReport:
        """``GET /insightData/v3/import/{importId}``."""
        response = self._call("get_insight_import", "GET",
                              f"/insightData/v3/import/{seg(import_id)}")
        report = InsightImportReport.from_json(self._json(response, "get_insight_import"),
                                               import_id)
        if report.done:
            self._imports.ended(import_id)
        return report

    def upsert_contact_insight(
        self,
        collection: str,
        key: str,
        json: Mapping[str, Any],
        email: str,
        *,
        identifier: str = "email",
    ) -> None:
        """Create or replace one contact-scoped record (201 created, 204 replaced).

        ``PUT /insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}``;
        ``email`` is the identifier's value (a mobile number with ``identifier=
        "mobileNumber"``). The contact must exist: 404 otherwise.
        """
        self._call(
            "upsert_contact_insight", "PUT",
            f"/insightData/v3/contacts/{seg(identifier)}/{seg(email)}/{seg(collection)}"
            f"/{seg(key)}",
            body=dict(json),
        )

    def upsert_account_insight(self, collection: str, key: str, json: Mapping[str, Any]) -> None:
        """``PUT /insightData/v3/account/{collectionName}/{recordId}`` (catalogues)."""
        self._call("upsert_account_insight", "PUT",
                   f"/insightData/v3/account/{seg(collection)}/{seg(key)}", body=dict(json))

    def delete_account_insight(self, collection: str, key: str) -> None:
        """``DELETE /insightData/v3/account/{collectionName}/{recordId}`` (204)."""
        self._call("delete_account_insight", "DELETE",
                   f"/insightData/v3/account/{seg(collection)}/{seg(key)}")

    def delete_account_insight_records(self, collection: str, keys: Sequence[str]
                                       ) -> InsightRecordDeletes:
        """``DELETE /insightData/v3/accounts/{collectionName}/deleteRecords`` with 1 to
        5000 keys (the spec's path says ``accounts``, the single-record one ``account``).
        Keys the collection does not hold come back in ``notFound``."""
        return self._delete_records("delete_account_insight_records",
                                    f"/insightData/v3/accounts/{seg(collection)}"
                                    "/deleteRecords", keys)

    def delete_contact_insight(self, collection: str, key: str, email: str, *,
                               identifier: str = "email") -> None:
        """``DELETE /insightData/v3/contacts/{identifier}/{value}/{collectionName}/
        {recordId}`` (204)."""
        self._call("delete_contact_insight", "DELETE",
                   f"/insightData/v3/contacts/{seg(identifier)}/{seg(email)}"
                   f"/{seg(collection)}/{seg(key)}")

    def delete_contact_insight_records(self, collection: str, keys: Sequence[str],
                                       email: str, *, identifier: str = "email"
                                       ) -> InsightRecordDeletes:
        """``DELETE …/contacts/{identifier}/{value}/{collectionName}/deleteRecords``."""
        return self._delete_records("delete_contact_insight_records",
                                    f"/insightData/v3/contacts/{seg(identifier)}/{seg(email)}"
                                    f"/{seg(collection)}/deleteRecords", keys)

    def _delete_records(self, operation: str, path: str, keys: Sequence[str]
                        ) -> InsightRecordDeletes:
        wanted = [str(k) for k in keys]
        if not 1 <= len(wanted) <= MAX_DELETE_KEYS:
            raise ValueError(f"{operation} takes 1 to {MAX_DELETE_KEYS} keys, "
                             f"got {len(wanted)}")
        response = self._call(operation, "DELETE", path, body={"keys": wanted})
        return InsightRecordDeletes.from_json(self._json(response, operation))
