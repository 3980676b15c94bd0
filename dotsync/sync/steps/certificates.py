"""The certificates step: gift certificates e-mailed exactly once, after the contacts
step pushed their recipients and the send cap was decided.

A certificate past its ``expires_at`` is not sent; one whose recipient's contact is
not in Dotdigital waits (``pending``, with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from dotsync.store import attempts
from dotsync.store.status import source_hashes
from dotsync.sync import payloads
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.errors import RunFailed
from dotsync.sync.steps.exactly_once import Send, send_once
from dotsync.sync.steps.items import CertificateRow, certificate_rows
from dotsync.sync.steps.records import keys_in, records
from dotsync.sync.transactional import EXPIRED, certificate_expired


@dataclass
class CertificatePlan:
    """Valid pending certificates sorted: ready to send, waiting for their contact
    (``gate`` says why), or expired."""

    ready: list[CertificateRow] = field(default_factory=list)
    waiting: list[CertificateRow] = field(default_factory=list)
    expired: list[CertificateRow] = field(default_factory=list)
    gate: dict[str, str | None] = field(default_factory=dict)


def certificate_send(row: CertificateRow) -> Send:
    """The e-mail a valid certificate row sends."""
    return Send(str(row["certificate_id"]), row["recipient_email"], int(row["campaign_id"]),
                payloads.certificate_personalisation(row), source_hash=row["_hash"])


class Certificates:
    """Validates, plans and sends one run's certificates."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def validate(self, pending: pd.DataFrame) -> pd.DataFrame:
        from dotsync.data_contracts import validate_certificates

        ctx = self.ctx
        if pending.empty:
            return pending
        result = validate_certificates(pending.drop(columns=["_hash"]),
                                       ctx.settings.certificate_campaign_id,
                                       ctx.settings.strict_fields)
        ctx.record_rejects("certificates", pending, result.rejects, "recipient_email")
        ctx.record_warnings("certificates", pending["certificate_id"].astype(str),
                            result.warnings)
        valid = result.valid.copy()
        valid["_hash"] = pending.loc[valid.index, "_hash"]
        return valid

    def plan(self, valid: pd.DataFrame | None) -> CertificatePlan:
        """Sort the valid certificates not settled this run."""
        ctx = self.ctx
        if valid is None or valid.empty:
            return CertificatePlan()
        valid = valid[~keys_in(valid["certificate_id"], ctx.settled["certificates"])]
        if valid.empty:
            return CertificatePlan()
        now = ctx.options.now()
        rows = certificate_rows(records(valid))
        expired = [r for r in rows if certificate_expired(r.get("expires_at"), now)]
        rows = [r for r in rows if not certificate_expired(r.get("expires_at"), now)]
        gate = ctx.contact_gate([r["recipient_email"] for r in rows])
        return CertificatePlan(ready=[r for r in rows if not gate.get(r["recipient_email"])],
                               waiting=[r for r in rows if gate.get(r["recipient_email"])],
                               expired=expired, gate=gate)

    def send(self, valid: pd.DataFrame) -> None:
        ctx = self.ctx
        if valid.empty:
            return
        plan = self.plan(valid)
        self._skip_expired(plan.expired)
        ctx.wait_for_contact("certificates", plan.waiting, plan.gate, "recipient_email")
        if ctx.options.dry_run:
            ctx.report.counts["certificates"].sent += len(plan.ready)
            ctx.report.notes.append(f"dry run: {len(plan.ready)} certificates would be sent")
            return
        send_once(ctx, "certificates", [certificate_send(r) for r in plan.ready])

    def _skip_expired(self, expired: Sequence[CertificateRow]) -> None:
        """Certificates past their ``expires_at`` are not sent: ``rejected`` in the ledger
        with the reason (a later ``expires_at`` makes them pending again), counted as
        skipped in the report."""
        if not expired:
            return
        ctx = self.ctx
        ctx.count_skips("certificates", [(str(r["certificate_id"]), EXPIRED) for r in expired])
        ctx.settled["certificates"].update(str(r["certificate_id"]) for r in expired)
        for r in expired:
            ctx.report.problem("certificates", r["certificate_id"], "skipped",
                               f"not sent: expired at {payloads.iso_utc(r['expires_at'])}",
                               field="expires_at", email=r["recipient_email"],
                               code="expired")
        if not ctx.options.dry_run:
            ctx.ledger.record("certificates", [
                {"key": str(r["certificate_id"]), "state": "rejected",
                 "source_hash": r["_hash"], "error_code": "expired",
                 "error_field": "expires_at",
                 "error_message": f"not sent: the certificate expired at "
                                  f"{payloads.iso_utc(r['expires_at'])}"}
                for r in expired], run_id=ctx.run_id, protect_sent=True)

    def resend(self, certificate_id: str) -> None:
        """Deliberately send a certificate again (``dotsync resend certificate ID``)."""
        from dotsync.data_contracts import validate_certificates

        ctx = self.ctx
        staged = ctx.store.read_staged("certificates", [certificate_id])
        if staged.empty:
            raise RunFailed(f"no staged certificate {certificate_id!r}")
        result = validate_certificates(staged, ctx.settings.certificate_campaign_id,
                                       ctx.settings.strict_fields)
        if result.valid.empty:
            reasons = "; ".join(result.rejects["reason"].astype(str))
            raise RunFailed(f"certificate {certificate_id!r} is invalid: {reasons}")
        row = certificate_rows(records(result.valid))[0]
        row["_hash"] = source_hashes("certificates", staged).iloc[0]
        ctx.ledger.record("certificates", [{
            "key": certificate_id, "state": "pending", "error_code": None,
            "error_message": "resend requested", "detail": "resend requested"}],
            run_id=ctx.run_id, attempt=attempts.RESEND)
        send_once(ctx, "certificates", [certificate_send(row)])
