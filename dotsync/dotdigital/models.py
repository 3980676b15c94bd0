"""Typed results of Dotdigital calls.

Small frozen dataclasses so callers read ``report.summary["newContacts"]`` or
``report.failures[0].failure_codes`` instead of digging through JSON, and so a result can be
passed between tasks (and pickled) without anyone mutating it on the way. Each parser is
lenient about missing fields (Dotdigital omits empty lists) and keeps the raw mapping where
the typed view is not the whole story.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    "InsightCollection",
    "InsightImportFailure",
    "InsightImportReport",
    "Suppression",
    "TriggeredSend",
]

#: Contact import statuses after which nothing more will change.
CONTACT_IMPORT_TERMINAL = frozenset(
    {"Finished", "Failed", "RejectedByWatchdog", "ExceedsAllowedContactLimit"}
)
#: Insight import statuses meaning "done" (the spec says ``Complete``, the docs ``Finished``).
INSIGHT_IMPORT_DONE = frozenset({"Finished", "Complete"})
INSIGHT_IMPORT_TERMINAL = INSIGHT_IMPORT_DONE | {"Failed"}


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 as Dotdigital writes it (``Z`` suffix, 0-7 fraction digits), else None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python < 3.12 accepts only 3 or 6 fraction digits
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


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
class ContactRef:
    """A contact an import created or updated."""

    contact_id: int | None
    identifiers: Mapping[str, Any]

    @classmethod
    def from_json(cls, item: Any) -> ContactRef:
        data = _dict(item)
        return cls(_int(data.get("contactId")), _dict(data.get("identifiers")))


@dataclass(frozen=True, slots=True)
class ContactImportFailure:
    """A contact an import rejected, with every failure code Dotdigital gave."""

    identifiers: Mapping[str, Any]
    match_identifier: str | None
    failure_codes: tuple[str, ...]
    descriptions: tuple[str, ...]
    contact_id: int | None = None

    @classmethod
    def from_json(cls, item: Any) -> ContactImportFailure:
        data = _dict(item)
        reasons = [_dict(f) for f in _list(data.get("failures"))]
        return cls(
            identifiers=_dict(data.get("identifiers")),
            match_identifier=_str(data.get("matchIdentifier")),
            failure_codes=tuple(str(r.get("failureCode", "")) for r in reasons),
            descriptions=tuple(str(r.get("description", "")) for r in reasons),
            contact_id=_int(data.get("contactId")),
        )


@dataclass(frozen=True, slots=True)
class ContactImportReport:
    """``GET /contacts/v3/import/{importId}``."""

    import_id: str
    status: str
    summary: Mapping[str, int] = field(default_factory=dict)
    created: tuple[ContactRef, ...] = ()
    updated: tuple[ContactRef, ...] = ()
    failures: tuple[ContactImportFailure, ...] = ()

    @property
    def done(self) -> bool:
        """Terminal: ``Finished`` or one of the failure statuses."""
        return self.status in CONTACT_IMPORT_TERMINAL

    @property
    def succeeded(self) -> bool:
        """The import ran (individual contacts may still have failed: see ``failures``)."""
        return self.status == "Finished"

    @classmethod
    def from_json(cls, body: Any, import_id: str = "") -> ContactImportReport:
        data = _dict(body)
        return cls(
            import_id=str(data.get("importId") or import_id),
            status=str(data.get("status") or ""),
            summary={str(k): _int(v) or 0 for k, v in _dict(data.get("summary")).items()},
            created=tuple(ContactRef.from_json(i) for i in _list(data.get("created"))),
            updated=tuple(ContactRef.from_json(i) for i in _list(data.get("updated"))),
            failures=tuple(ContactImportFailure.from_json(i) for i in _list(data.get("failures"))),
        )


@dataclass(frozen=True, slots=True)
class InsightImportFailure:
    """A record an insight import rejected (e.g. ``ContactEmailDoesNotExist``)."""

    key: str | None
    failure_reason: str
    details: tuple[str, ...] = ()
    contact_identity: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: Any) -> InsightImportFailure:
        data = _dict(item)
        owner = _dict(data.get("collectionOwner"))
        identity = _dict(owner.get("contactIdentity") or data.get("contactIdentity"))
        return cls(
            key=_str(data.get("key")),
            failure_reason=str(data.get("failureReason") or "Unknown"),
            details=tuple(str(d) for d in _list(data.get("details"))),
            contact_identity=identity,
        )


@dataclass(frozen=True, slots=True)
class InsightImportReport:
    """``GET /insightData/v3/import/{importId}``."""

    import_id: str
    status: str
    summary: Mapping[str, int] = field(default_factory=dict)
    failures: tuple[InsightImportFailure, ...] = ()
    collection_name: str | None = None

    @property
    def done(self) -> bool:
        return self.status in INSIGHT_IMPORT_TERMINAL

    @property
    def succeeded(self) -> bool:
        """``Finished`` or ``Complete`` (records may still have failed: see ``failures``)."""
        return self.status in INSIGHT_IMPORT_DONE

    @classmethod
    def from_json(cls, body: Any, import_id: str = "") -> InsightImportReport:
        data = _dict(body)
        return cls(
            import_id=str(data.get("importId") or import_id),
            status=str(data.get("status") or ""),
            summary={str(k): _int(v) or 0 for k, v in _dict(data.get("summary")).items()},
            failures=tuple(InsightImportFailure.from_json(i) for i in _list(data.get("failures"))),
            collection_name=_str(data.get("collectionName")),
        )


@dataclass(frozen=True, slots=True)
class ContactDeleteReport:
    """``GET /contacts/v3/delete/{deleteId}``."""

    delete_id: str
    status: str
    summary: Mapping[str, int] = field(default_factory=dict)
    deleted: tuple[Mapping[str, Any], ...] = ()
    failures: tuple[Mapping[str, Any], ...] = ()

    @property
    def done(self) -> bool:
        return self.status in {"Finished", "Failed"}

    @classmethod
    def from_json(cls, body: Any, delete_id: str = "") -> ContactDeleteReport:
        data = _dict(body)
        return cls(
            delete_id=str(data.get("deleteId") or delete_id),
            status=str(data.get("status") or ""),
            summary={str(k): _int(v) or 0 for k, v in _dict(data.get("summary")).items()},
            deleted=tuple(_dict(i) for i in _list(data.get("deleted"))),
            failures=tuple(_dict(i) for i in _list(data.get("failures"))),
        )


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
