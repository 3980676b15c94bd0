"""``DotdigitalAPI``: the operations the sync steps use, as a protocol.

Steps and helpers that talk to Dotdigital depend on this rather than on
:class:`~.client.DotdigitalClient`, so a test can hand them a small fake and the type checker
still proves the real client fits (``client.py`` ends with that check, and a test runs it).
Only what the sync calls is listed; preflight's read-only checks use the client itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from dotsync.dotdigital.models import (
    AccountInfo,
    BatchSendResult,
    CallStats,
    Campaign,
    ContactDeleteReport,
    ContactImportReport,
    ContactUpsert,
    EnrolmentFault,
    InsightCollection,
    InsightImportReport,
    InsightRecordDeletes,
    Program,
    ProgramEnrolment,
    Suppression,
    TriggeredSend,
)

__all__ = ["DotdigitalAPI", "ImportStatusAPI"]


@runtime_checkable
class ImportStatusAPI(Protocol):
    """What waiting for an import needs (:func:`~.bulk.wait_for_import`)."""

    def get_contact_import(self, import_id: str, *, contacts: bool = ...
                           ) -> ContactImportReport: ...

    def get_insight_import(self, import_id: str) -> InsightImportReport: ...


@runtime_checkable
class DotdigitalAPI(ImportStatusAPI, Protocol):
    """The Dotdigital operations dotsync's sync uses (see :class:`~.client.DotdigitalClient`
    for what each does)."""

    @property
    def stats(self) -> CallStats: ...

    def account_info(self) -> AccountInfo: ...

    # contacts
    def upsert_contact(self, contact: Mapping[str, Any], merge_option: str = ...
                       ) -> ContactUpsert: ...

    def create_contact(self, contact: Mapping[str, Any]) -> ContactUpsert: ...

    def get_contact(self, identifier: str, value: str) -> dict[str, Any]: ...

    def delete_contact(self, identifier: str, value: str, *, missing_ok: bool = ...
                       ) -> None: ...

    def import_contacts(self, contacts: Sequence[Mapping[str, Any]],
                        merge_option: str = ...) -> str: ...

    def delete_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> str: ...

    def get_contact_delete(self, delete_id: str) -> ContactDeleteReport: ...

    def contacts_modified_since(self, since: datetime | date, *, limit: int = ...,
                                include: Iterable[str] = ...) -> Iterator[dict[str, Any]]: ...

    def suppressed_since(self, since: datetime | date, *, page_size: int = ...
                         ) -> list[Suppression]: ...

    def unsubscribed_since(self, since: datetime | date, *, page_size: int = ...
                           ) -> list[Suppression]: ...

    # insight data
    def import_insight_data(self, collection: str, records: Sequence[Mapping[str, Any]],
                            scope: Literal["contact", "account"] = ...,
                            type: str = ...) -> str: ...

    def upsert_contact_insight(self, collection: str, key: str, json: Mapping[str, Any],
                               email: str, *, identifier: str = ...) -> None: ...

    def upsert_account_insight(self, collection: str, key: str,
                               json: Mapping[str, Any]) -> None: ...

    def delete_account_insight(self, collection: str, key: str) -> None: ...

    def delete_account_insight_records(self, collection: str, keys: Sequence[str]
                                       ) -> InsightRecordDeletes: ...

    def delete_contact_insight(self, collection: str, key: str, email: str, *,
                               identifier: str = ...) -> None: ...

    def delete_contact_insight_records(self, collection: str, keys: Sequence[str],
                                       email: str, *, identifier: str = ...
                                       ) -> InsightRecordDeletes: ...

    def list_insight_collections(self) -> list[InsightCollection]: ...

    def create_insight_collection(self, name: str, *,
                                  scope: Literal["contact", "account"] = ...,
                                  type: str = ...) -> bool: ...

    # campaigns
    def send_triggered_campaign(self, campaign_id: int, to_address: str,
                                personalization: Mapping[str, str] | None = ...) -> None: ...

    def send_triggered_campaign_batch(self, sends: Sequence[TriggeredSend]
                                      ) -> list[BatchSendResult]: ...

    def list_campaigns(self, *, page_size: int = ...) -> list[Campaign]: ...

    # programs (carts and order events)
    def list_programs(self, *, page_size: int = ...) -> list[Program]: ...

    def get_program(self, program_id: int) -> Program: ...

    def enrol_contacts(self, program_id: int, contact_ids: Sequence[int]
                       ) -> ProgramEnrolment: ...

    def get_enrolment(self, enrolment_id: str) -> ProgramEnrolment: ...

    def get_enrolment_faults(self, enrolment_id: str) -> list[EnrolmentFault]: ...
