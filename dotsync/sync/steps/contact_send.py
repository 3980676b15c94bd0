"""Sending contacts: single calls when few, the bulk pipeline when many.

What is identical to what Dotdigital already has is settled ``synced`` without a
call; a contact Dotdigital refuses only because another contact holds its mobile
number goes again without the number (SPEC §1), with a warning.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import pandas as pd

from dotsync.dotdigital import errors as dd
from dotsync.masking import mask_phone
from dotsync.store import attempts
from dotsync.sync import consent_policy, payloads
from dotsync.sync.consent_census import Census
from dotsync.sync.failure_fields import field_of_error
from dotsync.sync.steps.bulk_import import InFlight
from dotsync.sync.steps.contact_import import ContactImport, mobile_conflict
from dotsync.sync.steps.contact_settle import settle_contacts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.items import ContactItem
from dotsync.sync.steps.outcome import SYNCED, Outcome
from dotsync.sync.steps.records import describe

#: Contact items looked up in the ledger at a time.
LOOKUP_BATCH = 5_000


class Pushing:
    """Contacts sent or submitted, whose imports may still be in flight.

    Between :meth:`ContactSender.start` and :meth:`finish`, every contact Dotdigital
    held before stays there (an import only adds or updates); a contact new in this
    push exists only once ``finish()`` has returned.
    """

    def __init__(self, imports: InFlight[ContactItem] | None = None,
                 refused: Callable[[Sequence[ContactItem]], None] | None = None) -> None:
        self.imports = imports
        self._refused = refused

    @property
    def settled(self) -> bool:
        """Whether every import has ended and been settled (the contacts refused for
        their number are sent again by :meth:`finish`, which must still be called)."""
        return self.imports is None or self.imports.settled

    @property
    def broken(self) -> bool:
        """Whether the imports can no longer be followed (the push failed midway)."""
        return self.imports is not None and self.imports.broken

    def finish(self) -> None:
        """Wait for the imports in flight and settle them; contacts refused for their
        mobile number go again without it."""
        if self.imports is None:
            return
        refused = self.imports.finish()
        if refused and self._refused is not None:
            self._refused(refused)
            self._refused = None  # sent again once, even if finish() is called again


class ContactSender:
    """Pushes contact items; ``rebuild(emails)`` builds contacts afresh from the store
    (the contacts step's planner), for those sent again without their number."""

    def __init__(self, ctx: RunContext, mobile_refused: set[str],
                 rebuild: Callable[[set[str]], list[ContactItem]]) -> None:
        self.ctx = ctx
        self.mobile_refused = mobile_refused
        self.rebuild = rebuild
        #: Who is in the Dotdigital account, read once per run when a bulk push needs it.
        self.census: Census | None = None

    def unsent(self, items: Iterable[ContactItem]) -> Iterator[ContactItem]:
        """The contact items that need a call: not settled this run, and not identical
        to what Dotdigital already has (those are recorded as unchanged right away)."""
        ctx = self.ctx
        batch: list[ContactItem] = []

        def flush() -> Iterator[ContactItem]:
            known = ctx.ledger.lookup("contacts", [i["key"] for i in batch],
                                      ("state", "payload_hash", "sent_at", "detail"))
            unchanged: list[tuple[ContactItem, Outcome]] = []
            for item in batch:
                row = known.get(item["key"])  # (state, payload hash, sent at, detail)
                if (row is not None and not item.get("recreate") and row[0] == "synced"
                        and row[1] == item["payload_hash"]):
                    unchanged.append((item, SYNCED))
                    continue
                # Pushed before: it exists, so no status is added. Never pushed (or gone
                # from Dotdigital): a status for a contact this call creates.
                item["first_push"] = bool(item.get("recreate") or row is None
                                          or row[2] is None)
                item["ours"] = row is not None and (
                    row[3] == consent_policy.CREATED_NOT_MARKETABLE)
                yield item
            ctx.report.counts["contacts"].unchanged += len(unchanged)
            if not ctx.options.dry_run:
                settle_contacts(ctx, unchanged, count=False, operation=None)
            batch.clear()

        for item in items:
            if item["key"] in ctx.settled["contacts"]:
                continue
            batch.append(item)
            if len(batch) >= LOOKUP_BATCH:
                yield from flush()
        if batch:
            yield from flush()

    def push(self, to_send: Iterator[ContactItem], bulk: bool | None = None) -> None:
        """Send the unsent items: single upserts when few, bulk imports when many (or
        when ``bulk`` says so). A dry run only counts them."""
        self.start(to_send, bulk).finish()

    def start(self, to_send: Iterator[ContactItem], bulk: bool | None = None) -> Pushing:
        """:meth:`push` up to the point where every item has been sent or submitted:
        what is returned settles the imports still in flight (``finish()``)."""
        ctx = self.ctx
        if ctx.options.dry_run:
            count = 0
            for item in to_send:
                ctx.dry_run_contacts.add(item["key"])
                count += 1
            ctx.report.counts["contacts"].sent += count
            ctx.report.notes.append(f"dry run: {count} contacts would be sent")
            return Pushing()
        if bulk is None:
            first = list(itertools.islice(to_send, ctx.options.bulk_threshold + 1))
            bulk = len(first) > ctx.options.bulk_threshold
            to_send = itertools.chain(first, to_send)
        if bulk:
            return self.start_bulk(to_send)
        self.single(list(to_send))
        return Pushing()

    def bulk(self, items: Iterable[ContactItem]) -> None:
        """Bulk imports over a (possibly endless) stream of items, 25 in flight."""
        self.start_bulk(items).finish()

    def start_bulk(self, items: Iterable[ContactItem]) -> Pushing:
        """:meth:`bulk`, returning once every item is submitted."""
        return Pushing(ContactImport(self.ctx, self._outgoing_bulk).start(items),
                       self._retry_without_mobile)

    def single(self, items: Sequence[ContactItem]) -> None:
        """One call per contact: a create (POST) for one never pushed, else an upsert."""
        for item in items:
            if item.get("first_push") and item.get("create"):
                left = self._create(item)
                if left is None:
                    continue
                item = left
            try:
                try:
                    self.ctx.api.upsert_contact(self.outgoing(item))
                except dd.ConflictError as exc:
                    if not mobile_conflict(item["payload"], exc.error_code, describe(exc)):
                        raise
                    item = self.without_mobile(item)
                    self.ctx.api.upsert_contact(self.outgoing(item))
            except (dd.ValidationError, dd.ConflictError, dd.NotFoundError) as exc:
                self._settle_one(item, Outcome(
                    "rejected", exc.error_code or type(exc).__name__, describe(exc),
                    field=field_of_error(exc)), attempts.CONTACT_UPSERT)
            except dd.DotdigitalError as exc:
                if isinstance(exc, dd.AuthenticationError):
                    raise
                self._settle_one(item, Outcome(
                    "failed", exc.error_code or type(exc).__name__, describe(exc)),
                    attempts.CONTACT_UPSERT)
            else:
                self._settle_one(item, SYNCED, attempts.CONTACT_UPSERT)

    def _create(self, item: ContactItem) -> ContactItem | None:
        """Create a contact never pushed, with its creation statuses, and settle it
        (None). When it exists already (or an identifier is taken) the item is handed
        back, as it now stands, for a plain upsert."""
        try:
            try:
                self.ctx.api.create_contact(
                    consent_policy.for_creation(item["payload"], item["create"] or {}))
            except dd.ConflictError as exc:
                if not mobile_conflict(item["payload"], exc.error_code, describe(exc)):
                    raise
                # Another contact holds the number (SPEC §1): created without it.
                item = self.without_mobile(item)
                self.ctx.api.create_contact(
                    consent_policy.for_creation(item["payload"], item["create"] or {}))
        except dd.ConflictError:
            return item
        except dd.DotdigitalError as exc:
            if isinstance(exc, dd.AuthenticationError):
                raise
            self._settle_one(item, Outcome(
                "failed" if exc.transient else "rejected",
                exc.error_code or type(exc).__name__, describe(exc)), attempts.CONTACT_CREATE)
            return None
        item["mark"] = "set"
        self._settle_one(item, SYNCED, attempts.CONTACT_CREATE)
        return None

    def _settle_one(self, item: ContactItem, outcome: Outcome, operation: str) -> None:
        settle_contacts(self.ctx, [(item, outcome)], operation=operation)

    def without_mobile(self, item: ContactItem) -> ContactItem:
        """The contact item without its mobile number (Dotdigital said another contact
        holds it), and the warning that says so, recorded against the customer behind it."""
        payload = payloads.without_mobile(item["payload"])
        number = str(item["payload"].get("identifiers", {}).get("mobileNumber") or "")
        if item.get("email"):
            self.mobile_refused.add(str(item["email"]))
        if item["customers"]:
            masked = mask_phone(number)
            self.ctx.record_warnings("customers", [], pd.DataFrame([{
                "key": item["customers"][0][0], "field": "mobile_number",
                "check": "duplicate_identifier", "value": masked,
                "reason": f"Dotdigital refused mobile_number {masked!r}: another contact in "
                          "Dotdigital holds it (Duplicate identifier detected for "
                          "mobileNumber)"}]), replace=False)
        out = cast(ContactItem, {**item, "payload": payload,
                                 "payload_hash": payloads.payload_hash(payload)})
        if item.get("create"):  # no number, no SMS channel to create
            out["create"] = {k: v for k, v in (item["create"] or {}).items() if k != "sms"}
        return out

    def _retry_without_mobile(self, items: Sequence[ContactItem]) -> None:
        """Contacts an import refused for a mobile number another contact holds: built
        again from the staging store without it, and sent again (SPEC §1)."""
        emails = {str(i["email"]) for i in items if i.get("email")}
        self.mobile_refused |= emails
        counts = self.ctx.report.counts["contacts"]
        before = (counts.merged, counts.kept_unsubscribed)
        again = [i for i in self.rebuild(emails) if i["key"] in emails]
        counts.merged, counts.kept_unsubscribed = before
        # Guests have no number to refuse; anything left is settled as Dotdigital said.
        built = {i["key"] for i in again}
        settle_contacts(self.ctx, [(i, Outcome(
            "rejected", "Duplicate",
            "Dotdigital rejected the contact: a duplicate identifier"))
            for i in items if i["key"] not in built])
        if again:
            if len(again) > self.ctx.options.bulk_threshold:
                self.bulk(iter(again))
            else:
                self.single(again)

    def outgoing(self, item: ContactItem,
                 exists: Callable[[], bool] | None = None) -> dict[str, Any]:
        """What a contact item sends (README, "Consent"); sets ``item["mark"]``.

        A contact dotsync created non-marketable that the source now says is subscribed
        is resubscribed; one never pushed that ``exists()`` says is not in Dotdigital
        gets the non-marketable statuses. Without ``exists`` (single calls) creation is
        :meth:`_create`'s ``POST``.
        """
        payload = item["payload"]
        if item.get("ours") and consent_policy.says_subscribed(payload):
            item["mark"] = "clear"
            return consent_policy.for_resubscribe(payload)
        if (exists is not None and item.get("first_push") and item.get("create")
                and not exists()):
            item["mark"] = "set"
            return consent_policy.for_creation(payload, item["create"] or {})
        return payload

    def _outgoing_bulk(self, item: ContactItem) -> dict[str, Any]:
        """:meth:`outgoing` for an import: whether a contact exists is asked of the
        account's census (read once per run, only when a contact needs it)."""
        from dotsync.sync.steps.contact_import import identity

        who = identity(item["payload"])
        return self.outgoing(item, exists=lambda: self._census().holds(who))

    def _census(self) -> Census:
        if self.census is None:
            self.census = Census.of_account(self.ctx.api)
        return self.census
