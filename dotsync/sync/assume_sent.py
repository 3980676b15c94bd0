"""``dotsync sync --assume-sent-before DATE``: for a shop whose ledger is lost.

Without its ledger dotsync cannot know which gift certificates and order
confirmations it already sent, and would send them all again. This marks them as
sent, without sending anything:

* each staged certificate whose ``updated_at`` is before DATE;
* the order confirmation of each staged order placed (``placed_at``) or last updated
  (``updated_at``) before DATE: a confirmation goes out when its order is first
  synced, so an order placed before DATE had its e-mail then.

They are written to the ledger as ``synced`` with a ``detail`` saying so and no
``sent_at`` (dotsync did not see the send). Records the ledger already holds as
``synced`` or ``in_doubt`` are left as they are. Insight records and contacts are not
marked: sending them again is harmless (they are upserts), and it rebuilds the
ledger's view of them.

It reads the certificates and orders tables once, in chunks: a one-off repair, never
part of a scheduled run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from dotsync.store import Ledger, Store
from dotsync.store.status import source_hashes


@dataclass(frozen=True)
class AssumedSent:
    certificates: int
    confirmations: int


def parse_cutoff(text: str) -> datetime:
    """DATE as an instant (a date alone is midnight UTC); ValueError when unreadable."""
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not an ISO 8601 date") from None
    if pd.isna(stamp):
        raise ValueError(f"{text!r} is not an ISO 8601 date")
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    instant: datetime = stamp.to_pydatetime()
    return instant


def _before(values: pd.Series, cutoff: datetime) -> pd.Series:
    when = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    return (when < pd.Timestamp(cutoff)).fillna(False).astype(bool)


def assume_sent_before(store: Store, cutoff: datetime, *, run_id: str | None = None,
                       dry_run: bool = False, chunk_rows: int = 50_000) -> AssumedSent:
    """Mark certificates and order confirmations from before ``cutoff`` as sent."""
    ledger = Ledger(store)
    detail = (f"assumed sent before {cutoff.isoformat()} (--assume-sent-before): not sent "
              "by dotsync")
    marked = {"certificates": 0, "confirmations": 0}
    for staged in store.iter_staged("certificates", chunk_rows=chunk_rows):
        old = staged[_before(staged["updated_at"], cutoff)]
        marked["certificates"] += _mark(ledger, "certificates", old["certificate_id"].tolist(),
                                        dict(zip(old["certificate_id"],
                                                 source_hashes("certificates", old),
                                                 strict=True)) if not old.empty else {},
                                        detail, run_id, dry_run)
    for staged in store.iter_staged("orders", chunk_rows=chunk_rows):
        old = staged[_before(staged["placed_at"], cutoff) | _before(staged["updated_at"],
                                                                      cutoff)]
        marked["confirmations"] += _mark(ledger, "confirmations", old["order_id"].tolist(),
                                         {}, detail, run_id, dry_run)
    return AssumedSent(**marked)


def _mark(ledger: Ledger, entity: str, keys: list[str], hashes: dict[str, str], detail: str,
          run_id: str | None, dry_run: bool) -> int:
    """Record ``keys`` as sent unless the ledger already has them sent or in doubt."""
    if not keys:
        return 0
    states = ledger.states(entity, keys)
    todo = [k for k in keys if states.get(k) not in ("synced", "in_doubt")]
    if todo and not dry_run:
        rows = []
        for key in todo:
            row = {"key": key, "state": "synced", "detail": detail, "error_code": None,
                   "error_field": None, "error_message": None}
            if key in hashes:
                row["source_hash"] = hashes[key]
            rows.append(row)
        ledger.record(entity, rows, run_id=run_id, protect_sent=True)
    return len(todo)


def announce(store: Store, text: str, *, dry_run: bool, echo: Callable[..., None],
             to_stderr: bool = False,
             hold: Callable[[], AbstractContextManager[object]] = nullcontext) -> AssumedSent:
    """The CLI's ``--assume-sent-before``: mark, and say what was marked.

    ``hold`` is entered around the marking only, after DATE was read: the command passes
    the account's ledger lock, so a mistyped date is refused at once instead of after
    waiting for a running sync.
    """
    import click

    try:
        cutoff = parse_cutoff(text)
    except ValueError as exc:
        raise click.UsageError(f"--assume-sent-before {exc}") from None
    with hold():
        done = assume_sent_before(store, cutoff, dry_run=dry_run)
    verb = "would be marked" if dry_run else "marked"
    echo(f"--assume-sent-before {cutoff.isoformat()}: {done.certificates} certificates and "
         f"{done.confirmations} order confirmations {verb} as already sent (not sent).",
         err=to_stderr)
    return done
