"""Typed results of Dotdigital calls.

Small frozen dataclasses so callers read ``report.summary["newContacts"]`` or
``report.failures[0].failure_codes`` instead of digging through JSON, and so a result can be
passed between tasks (and pickled) without anyone mutating it on the way. Each parser is
lenient about missing fields (Dotdigital omits empty lists) and keeps the raw mapping where
the typed view is not the whole story. The reports of asynchronous jobs live in
:mod:`.reports` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dotsync.dotdigital.json_values import as_dict as _dict
from dotsync.dotdigital.json_values import as_int as _int
from dotsync.dotdigital.json_values import as_list as _list
from dotsync.dotdigital.json_values import as_str as _str
from dotsync.dotdigital.json_values import parse_datetime
from dotsync.dotdigital.reports import (
    CONTACT_IMPORT_TERMINAL,
    INSIGHT_IMPORT_DONE,
    INSIGHT_IMPORT_TERMINAL,
    ContactDeleteReport,
    ContactImportFailure,
    ContactImportReport,
    ContactRef,
    InsightImportFailure,
    InsightImportReport,
)

__all__ = [
    "CONTACT_IMPORT_TERMINAL",
    "INSIGHT_IMPORT_DONE",
    "INSIGHT_IMPORT_TERMINAL",
    "AccountInfo",
    "AddressBook",
    "BatchSendResult",
    "CallStats",
    "Campaign",
    "ContactDeleteReport",
    "ContactImportFailure",
    "ContactImportReport",
    "ContactRef",
    "ContactUpsert",
    "DataField",
    "EnrolmentFault",
    "InsightCollection",
    "InsightImportFailure",
    "InsightImportReport",
    "InsightRecordDeletes",
    "Program",
    "ProgramEnrolment",
    "Suppression",
    "TriggeredSend",
]

@dataclass(frozen=True, slots=True)
class AccountInfo:
    """``GET /v2/account-info``: the account id and its named properties."""

    id: int | None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def api_endpoint(self) -> str | None:
        """The account's regional base URL (``ApiEndpoint``), trailing slash removed."""
        value = self.properties.get("ApiEndpoint")
        return str(value).rstrip("/") if value else None

    @property
    def api_calls_remaining(self) -> int | None:
        return _int(self.properties.get("ApiCallsRemaining"))

    @classmethod
    def from_json(cls, body: Any) -> AccountInfo:
        data = _dict(body)
        props = {
            str(p.get("name")): p.get("value")
            for p in _list(data.get("properties"))
            if isinstance(p, Mapping) and p.get("name")
        }
        return cls(id=_int(data.get("id")), properties=props)


@dataclass(frozen=True, slots=True)
class ContactUpsert:
    """Result of ``PATCH /contacts/v3/{identifier}/{value}``: 201 created, 200 updated."""

    created: bool
    contact_id: int | None
    contact: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, status: int, body: Any) -> ContactUpsert:
        data = _dict(body)
        return cls(created=status == 201, contact_id=_int(data.get("contactId")), contact=data)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign from ``/v2/campaigns``; ``status`` e.g. ``Unsent``, ``Sent``, ``Triggered``."""

    id: int
    name: str
    status: str | None = None
    subject: str | None = None
    from_name: str | None = None
    from_address: str | None = None
    is_split_test: bool | None = None

    @classmethod
    def from_json(cls, body: Any) -> Campaign:
        data = _dict(body)
        from_address = data.get("fromAddress")
        return cls(
            id=_int(data.get("id")) or 0,
            name=str(data.get("name") or ""),
            status=_str(data.get("status")),
            subject=_str(data.get("subject")),
            from_name=_str(data.get("fromName")),
            from_address=_str(from_address.get("email"))
            if isinstance(from_address, Mapping)
            else _str(from_address),
            is_split_test=data.get("isSplitTest") if isinstance(data.get("isSplitTest"), bool)
            else None,
        )


@dataclass(frozen=True, slots=True)
class TriggeredSend:
    """One triggered-campaign e-mail: campaign, recipient, personalisation values."""

    campaign_id: int
    to_address: str
    personalization: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "toAddresses": [self.to_address],
            "campaignId": int(self.campaign_id),
        }
        if self.personalization:
            body["personalizationValues"] = [
                {"name": str(name), "value": "" if value is None else str(value)}
                for name, value in self.personalization.items()
            ]
        return body


@dataclass(frozen=True, slots=True)
class BatchSendResult:
    """The outcome of one entry (by ``index``) of a batch triggered-campaign send."""

    index: int
    ok: bool
    failure_code: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    """A contact from ``suppressed-since`` / ``unsubscribed-since``."""

    email: str | None
    reason: str | None
    date_removed: datetime | None
    contact_id: int | None = None
    status: str | None = None

    @classmethod
    def from_json(cls, item: Any) -> Suppression:
        data = _dict(item)
        contact = _dict(data.get("suppressedContact"))
        return cls(
            email=_str(contact.get("email")),
            reason=_str(data.get("reason")),
            date_removed=parse_datetime(data.get("dateRemoved")),
            contact_id=_int(contact.get("id")),
            status=_str(contact.get("status")),
        )


@dataclass(frozen=True, slots=True)
class CallStats:
    """What a client has spent: HTTP calls by operation, retries and waits."""

    calls: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True, slots=True)
class InsightCollection:
    """One entry of ``GET /insightData/v3/collections`` (the spec's ``collectionSummary``)."""

    name: str
    type: str | None = None
    scope: str | None = None
    record_count: int = 0

    @classmethod
    def from_json(cls, item: Any) -> InsightCollection:
        data = _dict(item)
        return cls(name=str(data.get("collectionName") or ""),
                   type=_str(data.get("collectionType")),
                   scope=_str(data.get("collectionScope")),
                   record_count=_int(data.get("recordCount")) or 0)


@dataclass(frozen=True, slots=True)
class DataField:
    """A contact data field from ``GET /v2/data-fields``.

    ``type`` is ``String``, ``Numeric``, ``Date`` or ``Boolean``; Dotdigital compares names
    without regard to case, so :attr:`key` is the upper-cased name.
    """

    name: str
    type: str | None = None
    visibility: str | None = None
    default_value: Any = None

    @property
    def key(self) -> str:
        return self.name.upper()

    @classmethod
    def from_json(cls, item: Any) -> DataField:
        data = _dict(item)
        return cls(name=str(data.get("name") or ""), type=_str(data.get("type")),
                   visibility=_str(data.get("visibility")),
                   default_value=data.get("defaultValue"))


@dataclass(frozen=True, slots=True)
class AddressBook:
    """A list (address book) from ``GET /v2/address-books/{id}``."""

    id: int
    name: str
    visibility: str | None = None
    contacts: int | None = None

    @classmethod
    def from_json(cls, body: Any) -> AddressBook:
        data = _dict(body)
        return cls(id=_int(data.get("id")) or 0, name=str(data.get("name") or ""),
                   visibility=_str(data.get("visibility")), contacts=_int(data.get("contacts")))


#: ``programs.yaml``: what an enrolment's ``status`` can be; ``Finished`` is terminal.
ENROLMENT_FINISHED = "Finished"


@dataclass(frozen=True, slots=True)
class Program:
    """A program from ``GET /v2/programs[/{id}]``; ``status`` is ``Draft``, ``Active``,
    ``Deactivated`` or ``ReadOnly`` (only an ``Active`` one takes enrolments)."""

    id: int
    name: str
    status: str | None = None
    date_created: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "Active"

    @classmethod
    def from_json(cls, body: Any) -> Program:
        data = _dict(body)
        return cls(id=_int(data.get("id")) or 0, name=str(data.get("name") or ""),
                   status=_str(data.get("status")),
                   date_created=parse_datetime(data.get("dateCreated")))


@dataclass(frozen=True, slots=True)
class ProgramEnrolment:
    """``POST /v2/programs/enrolments`` (201) or ``GET …/enrolments/{id}``: enrolments
    are processed asynchronously; ``status`` ``Processing`` then ``Finished``."""

    id: str
    program_id: int | None = None
    status: str | None = None
    date_created: datetime | None = None
    contacts: tuple[int, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status == ENROLMENT_FINISHED

    @classmethod
    def from_json(cls, body: Any) -> ProgramEnrolment:
        data = _dict(body)
        contacts = tuple(i for i in (_int(c) for c in _list(data.get("contacts")))
                         if i is not None)
        return cls(id=str(data.get("id") or ""), program_id=_int(data.get("programId")),
                   status=_str(data.get("status")),
                   date_created=parse_datetime(data.get("dateCreated")), contacts=contacts)


@dataclass(frozen=True, slots=True)
class EnrolmentFault:
    """One row of ``GET /v2/programs/enrolments/{id}/report-faults`` (CSV ``Id, Email,
    TelephoneNumber, Reason``): a contact that was not enrolled, and why."""

    contact_id: int | None
    email: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class InsightRecordDeletes:
    """The answer of a bulk ``deleteRecords`` call: the summary and the keys the
    collection did not hold (``notFound``), which a caller may treat as deleted."""

    summary: Mapping[str, Any] = field(default_factory=dict)
    not_found: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> InsightRecordDeletes:
        data = _dict(body)
        return cls(summary=_dict(data.get("summary")),
                   not_found=tuple(str(k) for k in _list(data.get("notFound"))))
