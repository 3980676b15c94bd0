"""Insight data operations (v3): bulk imports and single-record upserts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from dotsync.dotdigital.models import InsightImportReport
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.retry import SUBMIT
from dotsync.dotdigital.wire import build_insight_import_body, chunk_body, seg

__all__ = ["InsightOperations"]


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
