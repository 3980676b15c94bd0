"""Typed reports of Dotdigital's asynchronous jobs: contact and insight imports, bulk
contact deletes, and the statuses that end them.

Split from :mod:`.models` (which re-exports everything here) because these are the large
ones: an import report names every record it created, updated or refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dotsync.dotdigital.json_values import as_dict as _dict
from dotsync.dotdigital.json_values import as_int as _int
from dotsync.dotdigital.json_values import as_list as _list
from dotsync.dotdigital.json_values import as_str as _str

__all__ = [
    "CONTACT_IMPORT_TERMINAL",
    "INSIGHT_IMPORT_DONE",
    "INSIGHT_IMPORT_TERMINAL",
    "ContactDeleteReport",
    "ContactImportFailure",
    "ContactImportReport",
    "ContactRef",
    "InsightImportFailure",
    "InsightImportReport",
]

#: Contact import statuses after which nothing more will change.
CONTACT_IMPORT_TERMINAL = frozenset(
    {"Finished", "Failed", "RejectedByWatchdog", "ExceedsAllowedContactLimit"}
)
#: Insight import statuses meaning "done" (the spec says ``Complete``, the docs ``Finished``).
INSIGHT_IMPORT_DONE = frozenset({"Finished", "Complete"})
INSIGHT_IMPORT_TERMINAL = INSIGHT_IMPORT_DONE | {"Failed"}


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

    @property
    def succeeded(self) -> bool:
        """The delete ran (``Finished``; ``Complete`` taken the same, as for imports)."""
        return self.status in INSIGHT_IMPORT_DONE

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
