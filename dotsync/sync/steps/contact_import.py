"""Contacts through Dotdigital's bulk contact imports (25 in flight).

Only what settling needs is kept while an import runs, packed small
(:func:`pack_contact`); a contact refused only because another contact holds its
mobile number is handed back, to go again without it (SPEC §1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import orjson

from dotsync.dotdigital.bulk import chunk_contacts
from dotsync.sync.failure_fields import contact_problem_field
from dotsync.sync.steps.bulk_import import BulkImport, Settled
from dotsync.sync.steps.contact_settle import settle_contacts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.items import ContactItem, Member
from dotsync.sync.steps.outcome import Outcome

#: What settling a contact needs, kept while its import runs.
CONTACT_SETTLE_FIELDS = ("key", "payload_hash", "customers", "email", "identity", "mark",
                         "same")


def identity(payload: Mapping[str, Any]) -> str:
    """How a contact import report names a contact: its e-mail, else its number."""
    ids = payload.get("identifiers", {})
    return str(ids.get("email") or f"mobile:+{ids.get('mobileNumber')}").lower()


def refusable_mobile(payload: Mapping[str, Any]) -> bool:
    """Whether Dotdigital could refuse this contact only for its mobile number: it is
    matched by e-mail and carries a number (a contact identified by its number keeps it)."""
    return (payload.get("matchIdentifier") == "email"
            and bool(payload.get("identifiers", {}).get("mobileNumber")))


def mobile_failure(code: Any, description: Any) -> bool:
    """An import failure saying an identifier is taken (``Duplicate``/``duplicateIdentifier``,
    "Duplicate identifier detected for mobileNumber …") and not naming the e-mail."""
    if str(code or "").lower() not in ("duplicate", "duplicateidentifier"):
        return False
    text = str(description or "")
    return "mobileNumber" in text or "email" not in text.lower()


def mobile_conflict(payload: Mapping[str, Any], _code: Any, description: str) -> bool:
    """A 409 on a single upsert by e-mail of a contact with a number: the number is taken
    (the contact is matched by its e-mail, so the e-mail cannot be). The error code
    does not say which identifier; the description does."""
    if not refusable_mobile(payload):
        return False
    return "email" not in description.lower() or "mobileNumber" in description


def contact_failures(report: Any) -> dict[str, tuple[str, str | None]]:
    """``{identity: (failureCode, description)}`` from a contact import report."""
    out: dict[str, tuple[str, str | None]] = {}
    for failure in report.failures:
        code = failure.failure_codes[0] if failure.failure_codes else "Failed"
        description = failure.descriptions[0] if failure.descriptions else None
        out[identity({"identifiers": failure.identifiers or {}})] = (str(code), description)
    return out


def pack_contact(key: str, payload_hash: str, members: list[Member],
                 email: str | None, identity: str, mark: str | None = None,
                 has_mobile: bool = False) -> tuple[Any, ...]:
    """What settling a contact needs, compact while its import runs: the customer rows
    behind it as JSON bytes (as they are when JSON cannot hold them exactly), and the
    e-mail and identity left out (a flag says so) when they equal the key, as they
    nearly always do."""
    try:
        # Copied to its size: orjson's result keeps the ~4 KB block it was written into,
        # which for a queue of a hundred thousand contacts is hundreds of megabytes.
        packed: Any = memoryview(orjson.dumps(members)).tobytes()
    except TypeError:
        packed = members
    same = (1 if email == key else 0) | (2 if identity == key else 0) | (4 if has_mobile else 0)
    return (key, payload_hash, packed, None if same & 1 else email,
            None if same & 2 else identity, mark, same)


def unpack_contact(item: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`pack_contact`, on its fields as a dict."""
    if isinstance(item["customers"], bytes):
        item["customers"] = [tuple(m) for m in orjson.loads(item["customers"])]
    same = item.pop("same")
    item["has_mobile"] = bool(same & 4)
    if same & 1:
        item["email"] = item["key"]
    if same & 2:
        item["identity"] = item["key"]
    return item


class ContactImport(BulkImport[ContactItem, ContactItem]):
    """Contact items into bulk imports; hands back those refused for their number."""

    what = "contact import"
    fields = CONTACT_SETTLE_FIELDS

    def __init__(self, ctx: RunContext,
                 outgoing: Callable[[ContactItem], dict[str, Any]]) -> None:
        super().__init__(ctx)
        #: What a contact item sends (consent statuses decided; sets its ``mark``).
        self.outgoing = outgoing

    def pack(self, item: ContactItem) -> tuple[Any, ...]:
        return pack_contact(item["key"], item["payload_hash"], item["customers"],
                            item.get("email"), identity(item["payload"]), item.get("mark"),
                            refusable_mobile(item["payload"]))

    def unpack(self, kept: dict[str, Any]) -> dict[str, Any]:
        return unpack_contact(kept)

    def payload(self, item: ContactItem) -> Any:
        return self.outgoing(item)

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        return chunk_contacts(payloads, max_bytes=self.ctx.options.import_max_bytes,
                              serialized=True, on_oversize=on_oversize)

    def submit(self, chunk: Sequence[Any]) -> str:
        return self.ctx.api.import_contacts(chunk)

    def status(self, import_id: str) -> Any:
        # Only the failures matter here: skip the report's list of every contact.
        return self.ctx.api.get_contact_import(import_id, contacts=False)

    def in_flight(self) -> int:
        return self.ctx.options.contact_imports_in_flight

    def succeeded(self, report: Any) -> bool:
        return bool(report.succeeded)

    def failures(self, report: Any) -> Mapping[Any, Any]:
        return contact_failures(report)

    def too_large(self, size: int) -> Outcome:
        return Outcome("rejected", "too_large",
                       f"the contact serialises to {size} bytes, more than one import may "
                       f"carry ({self.ctx.options.import_max_bytes})")

    def settle(self, outcomes: Sequence[Settled]) -> None:
        settle_contacts(self.ctx, cast(Sequence[tuple[ContactItem, Outcome]], outcomes))

    def settle_finished(self, import_id: str | None, failures: Mapping[Any, Any],
                        rows: list[dict[str, Any]]) -> list[ContactItem]:
        """Settle one slice; returns the contacts refused only for their mobile number
        (another contact holds it), to be sent again without it."""
        outcome: list[tuple[ContactItem, Outcome]] = []
        refused: list[ContactItem] = []
        for row in rows:
            item = cast(ContactItem, row)
            failure = failures.get(item.get("identity"))
            if failure is None:
                outcome.append((item, Outcome("synced", reference=import_id)))
            elif item.get("has_mobile") and mobile_failure(*failure):
                refused.append(item)
            else:
                code, description = failure
                outcome.append((item, Outcome(
                    "rejected", code, f"Dotdigital rejected the contact: {code}"
                    + (f" ({description})" if description else ""),
                    field=contact_problem_field(code, description), reference=import_id)))
        settle_contacts(self.ctx, outcome)
        self.ctx.progress(len(rows) - len(refused))
        return refused
