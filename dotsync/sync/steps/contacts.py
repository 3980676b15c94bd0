"""The contacts step: customers (merged by e-mail) and e-mail-only guests, as contacts.

Planning is here: customer rows are validated, merged by e-mail and built into
contact items; rows deleted at the source are queued for erasure
(:mod:`.erasures`); guests and certificate recipients without a customer row get an
e-mail-only contact. Sending is :mod:`.contact_send`'s. Every order and certificate
depends on this step: one whose contact is not ``synced`` waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from dotsync.store.status import source_hashes
from dotsync.sync import consent, consent_policy, payloads
from dotsync.sync.consent_records import COLUMNS as CONSENT_RECORD_COLUMNS
from dotsync.sync.consent_records import consent_record, given_columns
from dotsync.sync.steps.contact_send import ContactSender, Pushing
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.erasures import Erasures
from dotsync.sync.steps.items import ContactItem
from dotsync.sync.steps.records import is_set, keys_in, records


class Contacts:
    """Plans and pushes one run's contacts."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: Contacts (by e-mail) whose mobile number Dotdigital said another contact holds:
        #: sent again without it (SPEC §1), with a warning.
        self.mobile_refused: set[str] = set()
        self.erasures = Erasures(ctx)
        self.sender = ContactSender(ctx, self.mobile_refused, self.for_emails)

    # -- planning -------------------------------------------------------------------

    def items(self, group: pd.DataFrame, pending_ids: set[str]) -> list[ContactItem]:
        """Validate a group of customer rows (every row sharing an e-mail with a pending
        row must be in it), record the rejects, merge by e-mail and build one item per
        contact that a pending row belongs to.

        ``group`` holds staged columns plus ``_hash`` (source fingerprint).
        """
        from dotsync.data_contracts import merge_customers, validate_customers
        from dotsync.data_contracts.mobiles import share_mobile_numbers

        ctx = self.ctx
        if group.empty:
            return []
        group, took = self._take_deleted(group, pending_ids)
        if took and group.empty:
            return []
        staged_cols = [c for c in group.columns if not c.startswith("_")]
        result = validate_customers(group[staged_cols], ctx.settings.default_region,
                                    ctx.settings.strict_fields)
        rejects = result.rejects[keys_in(result.rejects["key"], pending_ids)]
        ctx.record_rejects("customers", group, rejects, "email")
        contacts, merged = merge_customers(result.valid)
        contacts, shared = share_mobile_numbers(contacts, self.mobile_refused)
        # Only the fields of the row a contact is built from are sent: its warnings count.
        senders = set(contacts["customer_id"].astype(str))
        warned = result.warnings[keys_in(result.warnings["key"], senders)]
        if not shared.empty:
            warned = pd.concat([warned, shared], ignore_index=True)
        ctx.record_warnings("customers", group["customer_id"].astype(str), warned)
        hash_of = dict(zip(group["customer_id"], group["_hash"], strict=True))
        merged_into: dict[str, list[str]] = {}
        for row in records(merged):
            merged_into.setdefault(str(row["merged_into"]), []).append(str(row["customer_id"]))
        rows = [r for r in records(contacts)
                if pending_ids.intersection([str(r["customer_id"]),
                                             *merged_into.get(str(r["customer_id"]), [])])]
        items = self._build(rows, merged_into, hash_of)
        ctx.report.counts["contacts"].merged += sum(
            1 for item in items for (_, _, into) in item["customers"] if into)
        return items

    def _take_deleted(self, group: pd.DataFrame, pending_ids: set[str]
                      ) -> tuple[pd.DataFrame, bool]:
        """The rows not deleted at the source, and whether any was; the deleted ones
        are queued for erasure, and a ``deleted_at`` that is not a timestamp is
        rejected (never taken for an erasure)."""
        marked = is_set(group["deleted_at"])
        when = pd.to_datetime(group["deleted_at"].where(marked), utc=True, errors="coerce",
                              format="ISO8601")
        garbage = marked & when.isna()
        if garbage.any():
            self.ctx.record_rejects("customers", group, pd.DataFrame({
                "key": group.loc[garbage & group["customer_id"].isin(pending_ids),
                                 "customer_id"].tolist(),
                "field": "deleted_at", "check": "iso8601",
                "reason": "deleted_at is not an ISO 8601 timestamp"}), "email")
            group = group[~garbage]
            marked = marked[~garbage]
        if not marked.any():
            return group, False
        live_emails = set(group.loc[~marked, "_email_norm"].dropna()) if (
            "_email_norm" in group) else set()
        self.erasures.queue(group[marked & group["customer_id"].isin(pending_ids)],
                            live_emails)
        return group[~marked], True

    def _build(self, rows: list[dict[str, Any]], merged_into: Mapping[str, list[str]],
               hash_of: Mapping[Any, Any]) -> list[ContactItem]:
        """One item per contact row: its payload, consent decided, and its members."""
        ctx = self.ctx
        suppressed = consent.suppressed_at(
            ctx.store, [r["email"] for r in rows
                        if r.get("email") and r.get("email_consent") == "subscribed"])
        consent_warnings: list[dict[str, Any]] = []
        items: list[ContactItem] = []
        for row in rows:
            customer_id = str(row["customer_id"])
            members = [customer_id, *merged_into.get(customer_id, [])]
            payload = payloads.contact_payload(row, ctx.settings.address_book_id)
            when = suppressed.get(row.get("email") or "")
            if when is not None and consent.keep_unsubscribed({"payload": payload},
                                                              row.get("updated_at"), when):
                del payload["channelProperties"]["email"]["status"]
                ctx.report.counts["contacts"].kept_unsubscribed += 1
                ctx.report.problem(
                    "contacts", customer_id, "kept_unsubscribed",
                    f"source says subscribed (updated {payloads.iso_utc(row['updated_at'])}) "
                    f"but Dotdigital has had the contact suppressed since "
                    f"{when.isoformat()}: its status was not sent",
                    field="email_consent", email=row.get("email"), code="suppressed")
            consent_warnings += self._consent_record_warnings(customer_id, row)
            items.append({
                "key": payloads.contact_key(row),
                "payload": payload,
                "payload_hash": payloads.payload_hash(payload),
                "customers": [(m, hash_of.get(m), m != customer_id and customer_id)
                              for m in members],
                "email": row.get("email"),
                "create": consent_policy.creation_channels(payload, row),
            })
        if consent_warnings:  # after the group's own warnings, which replaced older ones
            ctx.record_warnings("customers", [], pd.DataFrame(consent_warnings),
                                replace=False)
        return items

    def _consent_record_warnings(self, customer_id: str, row: Mapping[str, Any]
                                 ) -> list[dict[str, Any]]:
        """A consent record that cannot be sent (some column missing or invalid) is left
        out and the contact still goes (SPEC §1: an optional field never holds a record).
        Returns one warning per field at fault; the value is not repeated (IP addresses
        and browser strings are personal data)."""
        _record, problems = consent_record(row)
        if not problems:
            return []
        self.ctx.report.counts["contacts"].consent_records_left_out += 1
        # Each warning is about a value that was given: a column that is missing is said
        # in the reason of the columns that are there (they are what was left out).
        given = given_columns(row)
        missing = [f for f, _ in problems if f not in given]
        wrong = {f: reason for f, reason in problems if f in given}
        out = []
        for column in given:
            reasons = [wrong[column]] if column in wrong else []
            if missing:
                reasons.append("a consent record needs all of "
                               f"{', '.join(CONSENT_RECORD_COLUMNS)}; missing: "
                               f"{', '.join(missing)}")
            if reasons:
                out.append({"key": customer_id, "field": column, "check": "consent_record",
                            "value": None,
                            "reason": "; ".join(reasons) + "; the consent record was left out"})
        return out

    def guest_items(self, emails: Iterable[str], with_customer: set[str]) -> list[ContactItem]:
        """E-mail-only contacts for guests and certificate recipients with no customer row
        (and not already in Dotdigital).

        A guest is pushed once a run: the contacts step pushes those of the changed
        records, and the orders and certificates steps push only what it could not
        know. So one this run already counted (a dry run) or settled without success
        is not handed over again; one settled ``synced`` is in Dotdigital.
        """
        ctx = self.ctx
        wanted = sorted({e for e in emails if e} - with_customer - ctx.dry_run_contacts)
        if not wanted:
            return []
        known = ctx.ledger.lookup("contacts", wanted, ("state", "run_id"))
        items: list[ContactItem] = []
        for email in wanted:
            state, run_id = known.get(email, (None, None))
            if state == "synced" or (run_id == ctx.run_id
                                     and state in ("rejected", "failed")):
                continue
            payload = payloads.contact_payload({"email": email})
            items.append({"key": email, "payload": payload,
                          "payload_hash": payloads.payload_hash(payload),
                          "customers": [], "email": email,
                          "create": consent_policy.creation_channels(payload, {})})
        return items

    def for_emails(self, emails: set[str]) -> list[ContactItem]:
        """Contact items built afresh from every staged customer holding these e-mails."""
        return self._for_emails(emails)[0]

    def _for_emails(self, emails: set[str]) -> tuple[list[ContactItem], pd.DataFrame]:
        holders = self.ctx.customers_with_emails(emails)
        if holders.empty:
            return [], holders
        holders = holders.assign(_hash=source_hashes("customers", holders))
        return self.items(holders, set(holders["customer_id"])), holders

    def pending_items(self, pending: pd.DataFrame) -> list[ContactItem]:
        """The contact items of pending customer rows, each with every staged row that
        shares its e-mail (they merge into one contact)."""
        emails = set(pending["_email_norm"].dropna())
        holders = self.ctx.customers_with_emails(emails)
        alone = pending[~pending["customer_id"].isin(holders["customer_id"])]
        group = pd.concat([holders, alone.drop(columns=["_hash"], errors="ignore")],
                          ignore_index=True)
        group = group.assign(_hash=source_hashes("customers", group))
        return self.items(group, set(pending["customer_id"]))

    # -- sending --------------------------------------------------------------------

    def push(self, items: Iterable[ContactItem], bulk: bool | None = None) -> None:
        """Send contact items: single upserts when few, bulk imports when many (or when
        ``bulk`` says so; a stream is always sent in bulk); the queued erasures first."""
        self.start(items, bulk).finish()

    def start(self, items: Iterable[ContactItem], bulk: bool | None = None) -> Pushing:
        """:meth:`push`, returning once every item is sent or submitted; ``finish()``
        on the result settles the imports still in flight."""
        to_send = self.sender.unsent(items)
        self.erasures.erase()
        return self.sender.start(to_send, bulk)

    def repush(self, emails: set[str]) -> None:
        """Dotdigital says it has no contact with these e-mails: create them again."""
        ctx = self.ctx
        ctx.ledger.record("contacts", [
            {"key": e, "state": "pending", "payload_hash": None,
             "error_code": "ContactEmailDoesNotExist",
             "error_message": "Dotdigital has no contact with this e-mail; pushing it again"}
            for e in emails
        ], run_id=ctx.run_id)
        items, holders = self._for_emails(emails)
        planned = {i["key"] for i in items}
        holder_emails = set(holders["_email_norm"].dropna()) if not holders.empty else set()
        items += self.guest_items(emails, planned | holder_emails)
        for item in items:  # Dotdigital says it has no such contact: it is created again
            item["recreate"] = True
        self.push(items)
