"""Settling contacts: the contact's outcome, and the outcome of every customer row
behind it, in the ledger, the attempt log and the report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dotsync.masking import mask_email
from dotsync.store import attempts
from dotsync.sync import consent_policy
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.items import ContactItem
from dotsync.sync.steps.outcome import Outcome

SettledContact = tuple[ContactItem, Outcome]


def settle_contacts(
    ctx: RunContext, outcomes: Sequence[SettledContact], count: bool = True,
    operation: str | None = attempts.CONTACT_IMPORT,
) -> None:
    """Write each contact's outcome, and the outcome of the customer rows behind it;
    ``operation`` (None: nothing was sent) goes in the attempt log, against the
    customers behind each contact (a guest contact under its e-mail)."""
    if not outcomes:
        return
    counts = ctx.report.counts["contacts"]
    now = datetime.now(UTC)
    contact_rows: list[dict[str, Any]] = []
    customer_rows: list[dict[str, Any]] = []
    for item, outcome in outcomes:
        state = outcome.state
        row = _contact_row(item, outcome)
        if state == "synced":
            row.update(payload_hash=item["payload_hash"], sent_at=now, error_code=None,
                       error_field=None, error_message=None)
            mark = item.get("mark")
            if mark == "set":
                row["detail"] = consent_policy.CREATED_NOT_MARKETABLE
                counts.created_not_marketable += 1
            elif mark == "clear":
                row["detail"] = None
        contact_rows.append(row)
        customer_rows += _customer_rows(item, outcome)
        if state in ("synced", "rejected"):
            ctx.settled["contacts"].add(item["key"])
        if count:
            ctx.tally("contacts", state)
        if state in ("rejected", "failed"):
            _note_problem(ctx, item, outcome)
    ctx.ledger.record("contacts", contact_rows, run_id=ctx.run_id, count_attempt=count)
    if customer_rows:
        ctx.ledger.record("customers", customer_rows, run_id=ctx.run_id, attempt=operation)
    guests = [row for row, (item, _) in zip(contact_rows, outcomes, strict=True)
              if not item["customers"]]
    if operation is not None and guests:
        attempts.log(ctx.store, "contacts", guests, operation=operation, run_id=ctx.run_id)


def _contact_row(item: ContactItem, outcome: Outcome) -> dict[str, Any]:
    row: dict[str, Any] = {"key": item["key"], "state": outcome.state}
    if outcome.state != "synced":
        row.update(error_code=outcome.code, error_message=outcome.message)
    if outcome.field is not None:
        row["error_field"] = outcome.field
    if outcome.reference is not None:
        row["dotdigital_ref"] = outcome.reference
    return row


def _customer_rows(item: ContactItem, outcome: Outcome) -> list[dict[str, Any]]:
    state = outcome.state
    rows = []
    for customer_id, source_hash, merged_into in item["customers"]:
        rows.append({
            "key": customer_id, "state": state,
            "source_hash": None if state == "failed" else source_hash,
            "error_code": outcome.code,
            "error_field": (outcome.field or "email") if state == "rejected" else None,
            "error_message": outcome.message, "dotdigital_ref": outcome.reference,
            "detail": f"merged into customer {merged_into} (same e-mail)"
            if merged_into else None})
    return rows


def _note_problem(ctx: RunContext, item: ContactItem, outcome: Outcome) -> None:
    """A contact that is not in Dotdigital: the reason its dependants will wait, and a
    problem in the report (against the first customer row behind it)."""
    state = outcome.state
    if item.get("email"):
        ctx.contact_reasons[str(item["email"])] = (
            f"contact {mask_email(str(item['email']))} {state}: "
            f"{outcome.message or outcome.code or ''}".strip())
    ctx.report.problem("contacts", item["key"] if item["customers"] == [] else
                       item["customers"][0][0], state, outcome.message or state,
                       field=outcome.field or "email", email=item.get("email"),
                       code=outcome.code)
