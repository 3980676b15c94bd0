"""Customers deleted at the source (``deleted_at`` set), and their erasure.

With DOTSYNC_PROPAGATE_DELETES the contact is deleted from Dotdigital (unless
another live customer row shares its e-mail); without, nothing is sent. Either way
the ledger keeps the fact, not the personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dotsync.dotdigital import errors as dd
from dotsync.masking import mask_email
from dotsync.sync.imports import run_imports
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.records import describe, norm_email

#: (customer id, normalised e-mail, source fingerprint) of a contact to erase.
Erasure = tuple[str, str, Any]
#: Contacts a bulk delete request may name.
DELETE_BATCH = 5000


class Erasures:
    """The erasures a run's customers asked for: queued while planning, sent once."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: Customers deleted at the source whose contact is to be erased this run.
        self.pending: list[Erasure] = []

    def queue(self, deleted: pd.DataFrame, live_emails: set[str]) -> None:
        """Queue (or, when they are not to be erased, settle) deleted customer rows."""
        if deleted.empty:
            return
        ctx = self.ctx
        emails = norm_email(deleted["email"])
        for customer_id, email, source_hash in zip(deleted["customer_id"], emails,
                                                   deleted["_hash"], strict=True):
            if email:
                ctx.contact_reasons[email] = (
                    f"contact {mask_email(email)} was deleted at the source (deleted_at)")
            if ctx.settings.propagate_deletes and email and email not in live_emails:
                self.pending.append((str(customer_id), email, source_hash))
            else:
                why = ("another customer row with this e-mail is live" if email in live_emails
                       else "DOTSYNC_PROPAGATE_DELETES is off")
                ctx.report.counts["contacts"].unchanged += 1
                if not ctx.options.dry_run:
                    ctx.ledger.record("customers", [{
                        "key": str(customer_id), "state": "synced", "source_hash": source_hash,
                        "error_code": None, "error_message": None,
                        "detail": f"deleted at the source; not erased in Dotdigital ({why})"}],
                        run_id=ctx.run_id)

    def erase(self) -> None:
        """Delete the queued contacts from Dotdigital: one call each when few, bulk
        deletes (at most 5000 a request) when many."""
        queued, self.pending = self.pending, []
        if not queued:
            return
        ctx = self.ctx
        counts = ctx.report.counts["contacts"]
        if ctx.options.dry_run:
            counts.erased += len(queued)
            return
        if len(queued) <= ctx.options.bulk_threshold:
            done, failed = self._one_by_one(queued)
        else:
            done, failed = self._in_bulk(queued)
        counts.erased += len(done)
        counts.failed += len(failed)
        ctx.ledger.forget("contacts", [email for _, email, _ in done])
        # No e-mail stays behind as a key: the contact's last cart enrolment goes too.
        ctx.ledger.forget("cart_contacts", [email for _, email, _ in done])
        ctx.ledger.record("erasures", [
            {"key": cid, "state": "synced", "detail": "contact erased from Dotdigital",
             "sent_at": datetime.now(UTC)} for cid, _, _ in done], run_id=ctx.run_id)
        ctx.ledger.record("customers", [
            {"key": cid, "state": "synced", "source_hash": h, "error_code": None,
             "error_message": None, "detail": "deleted at the source; erased in Dotdigital"}
            for cid, _, h in done]
            + [{"key": cid, "state": "failed", "source_hash": None, "error_code": "erasure",
                "error_message": f"erasure failed: {why}"} for (cid, _, _), why in failed],
            run_id=ctx.run_id)
        for (cid, email, _), why in failed:
            ctx.report.problem("contacts", cid, "failed", f"erasure failed: {why}",
                               field="deleted_at", email=email, code="erasure")

    def _one_by_one(self, queued: list[Erasure]
                    ) -> tuple[list[Erasure], list[tuple[Erasure, str]]]:
        done: list[Erasure] = []
        failed: list[tuple[Erasure, str]] = []
        for entry in queued:
            try:
                self.ctx.api.delete_contact("email", entry[1], missing_ok=True)
                done.append(entry)
            except dd.DotdigitalError as exc:
                if isinstance(exc, dd.AuthenticationError):
                    raise
                failed.append((entry, describe(exc)))
        return done, failed

    def _in_bulk(self, queued: list[Erasure]
                 ) -> tuple[list[Erasure], list[tuple[Erasure, str]]]:
        api = self.ctx.api
        done: list[Erasure] = []
        failed: list[tuple[Erasure, str]] = []
        parts = [queued[i:i + DELETE_BATCH] for i in range(0, len(queued), DELETE_BATCH)]
        for finished in run_imports(
            parts,
            submit=lambda part: api.delete_contacts([{"email": email} for _, email, _ in part]),
            status=api.get_contact_delete,
            max_in_flight=1,
            poll_interval=self.ctx.options.poll_interval,
        ):
            if isinstance(finished.error, dd.AuthenticationError):
                raise finished.error
            report = finished.report
            if report is not None and report.succeeded:
                done.extend(finished.chunk)
            else:
                why = (describe(finished.error) if finished.error is not None or report is None
                       else f"bulk delete ended {report.status}")
                failed.extend((entry, why) for entry in finished.chunk)
        return done, failed
