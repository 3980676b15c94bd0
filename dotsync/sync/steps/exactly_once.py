"""The exactly-once sender, written once: claim, send, settle.

Order confirmations and certificates are triggered-campaign e-mails a customer must
get once. Each batch is claimed in the ledger (``in_doubt``) before the call and
settled after it; a call whose outcome is unknown leaves its claims ``in_doubt``,
which no run repeats automatically (``dotsync resend`` does, deliberately).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.models import TriggeredSend
from dotsync.store import attempts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.outcome import SYNCED, Outcome
from dotsync.sync.steps.records import describe


@dataclass(frozen=True, slots=True)
class Send:
    """One triggered-campaign e-mail: the record it is for and what it says.

    ``source_hash`` is the staged record's fingerprint, written with the outcome when
    the record has one (certificates; a confirmation follows its order's).
    """

    key: str
    to: str
    campaign: int | None
    values: Mapping[str, str] = field(default_factory=dict)
    source_hash: str | None = None


def send_once(ctx: RunContext, entity: str, sends: Sequence[Send]) -> None:
    """Claim, send, settle each batch of ``sends`` (``options.send_batch_size`` a call)."""
    counts = ctx.report.counts[entity]
    by_key = {s.key: s for s in sends}
    size = max(1, ctx.options.send_batch_size)
    keys = list(by_key)
    for start in range(0, len(keys), size):
        batch_keys = keys[start : start + size]
        claimed = ctx.ledger.claim(entity, batch_keys, run_id=ctx.run_id)
        failpoints.hit("after_claim")
        counts.skipped += len(batch_keys) - len(claimed)
        batch = [by_key[k] for k in batch_keys if k in claimed]
        if batch:
            _send_batch(ctx, entity, batch)


def _send_batch(ctx: RunContext, entity: str, batch: list[Send]) -> None:
    try:
        results = _call(ctx, batch)
    except dd.SendOutcomeUnknown as exc:
        settle_sends(ctx, entity, batch, Outcome(
            "in_doubt", "SendOutcomeUnknown",
            "the connection dropped after the send was written; "
            f"it may or may not have been sent ({describe(exc)})"))
        return
    except dd.AuthenticationError:
        settle_sends(ctx, entity, batch, Outcome(
            "failed", "AuthenticationError", "credentials refused; nothing was sent"))
        raise
    except dd.DotdigitalError as exc:
        settle_sends(ctx, entity, batch, Outcome(
            "failed" if exc.transient else "rejected",
            exc.error_code or type(exc).__name__, describe(exc)))
        return
    # Anything else (a bug, an interrupt) propagates: the outcome is unknown, and the
    # claims stay in_doubt in the ledger, which is what we want.
    failpoints.hit("after_send")
    settle_sends(ctx, entity, [s for s, (code, _) in zip(batch, results, strict=True)
                               if code is None], SYNCED)
    for send, (code, reason) in zip(batch, results, strict=True):
        if code is not None:
            settle_sends(ctx, entity, [send], Outcome(
                "rejected", code, f"Dotdigital refused the send: {code}"
                + (f" ({reason})" if reason else "")))


def _call(ctx: RunContext, batch: list[Send]) -> list[tuple[str | None, str | None]]:
    """One call for the batch; ``(failure code, reason)`` per send (None: accepted)."""
    if len(batch) == 1:
        one = batch[0]
        # A real send always has its campaign (resolved when the run connected).
        ctx.api.send_triggered_campaign(cast(int, one.campaign), one.to, one.values)
        return [(None, None)]
    answer = ctx.api.send_triggered_campaign_batch([
        TriggeredSend(campaign_id=cast(int, s.campaign), to_address=s.to,
                      personalization=s.values)
        for s in batch])
    results: list[tuple[str | None, str | None]] = [(None, None)] * len(batch)
    for r in answer:
        if r.failure_code or r.failure_reason:
            results[r.index] = (r.failure_code or "Failed", r.failure_reason)
    return results


def settle_sends(ctx: RunContext, entity: str, batch: Sequence[Send], outcome: Outcome) -> None:
    """Write one outcome for each send of ``batch`` to the ledger and the report."""
    now = datetime.now(UTC)
    rows = []
    state = outcome.state
    for send in batch:
        row: dict[str, Any] = {"key": send.key, "state": state, "error_code": outcome.code,
                               "error_message": outcome.message,
                               "dotdigital_ref": f"campaign {send.campaign}"}
        if send.source_hash is not None:
            row["source_hash"] = send.source_hash
        if outcome.final:
            ctx.settled[entity].add(send.key)
        if state == "synced":
            row["sent_at"] = now
        ctx.tally(entity, state)
        if state != "synced":
            ctx.report.problem(entity, send.key, state, outcome.message or state,
                               email=send.to, code=outcome.code)
        rows.append(row)
    ctx.ledger.record(entity, rows, run_id=ctx.run_id, attempt=attempts.CAMPAIGN_SEND)
