"""Transactional e-mails only where they belong (README, "Transactional e-mails").

Order confirmations and gift certificates are triggered-campaign sends. This module
holds the rules that decide whether one is sent at all, apart from the exactly-once
protocol that sends it:

* an order confirmation only for an order placed within ``DOTSYNC_CONFIRMATION_MAX_AGE``
  and not before confirmations were first enabled for this store (a moment remembered
  in ``dotsync_meta`` the first time a run has an order campaign), never for a status
  in ``DOTSYNC_NO_CONFIRMATION_STATUSES``;
* a certificate never after its ``expires_at``;
* a run that would send more of both than ``DOTSYNC_MAX_SENDS_PER_RUN`` (or than
  ``--allow-sends N``) sends none and fails, saying how many and how to allow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync import failpoints
from dotsync.config import Settings
from dotsync.store import Store
from dotsync.store.schema import meta

#: ``dotsync_meta`` name of the moment confirmations were first enabled for this store.
ENABLED_AT = "confirmations_enabled_at"

#: Skip reasons, as counted in the run report.
TOO_OLD = "placed before DOTSYNC_CONFIRMATION_MAX_AGE"
BEFORE_ENABLED = "placed before confirmations were enabled"
NO_CONFIRMATION_STATUS = "status in DOTSYNC_NO_CONFIRMATION_STATUSES"
EXPIRED = "certificate expired"


def _utc(value: Any) -> pd.Timestamp | None:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def confirmations_enabled_at(store: Store) -> datetime | None:
    """When confirmations were first enabled for this store, if they ever were."""
    with store.engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.name == ENABLED_AT)).scalar()
    return datetime.fromisoformat(value) if value else None


def enable_confirmations(store: Store, now: datetime | None = None) -> datetime:
    """The moment confirmations were first enabled, written now if it never was.

    Written once (an insert that loses to a concurrent one reads the winner's moment);
    every later run reads it, so a store's history never gets confirmations.
    """
    known = confirmations_enabled_at(store)
    if known is not None:
        return known
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        with store.engine.begin() as conn:
            conn.execute(meta.insert().values(name=ENABLED_AT, value=moment.isoformat()))
    except sa.exc.IntegrityError:
        pass  # another run wrote it first: theirs holds
    failpoints.hit("after_confirmations_enabled")
    stamped = confirmations_enabled_at(store)
    assert stamped is not None
    return stamped


def confirmation_skip(status: Any, placed_at: Any, now: pd.Timestamp,
                      enabled_at: datetime | None, settings: Settings) -> str | None:
    """Why an order gets no confirmation e-mail, or None when it gets one."""
    if str(status or "").strip().lower() in settings.no_confirmation_statuses:
        return NO_CONFIRMATION_STATUS
    placed = _utc(placed_at)
    if placed is None:
        return TOO_OLD  # cannot be shown to be recent: never e-mail on a guess
    if enabled_at is not None and placed < pd.Timestamp(enabled_at):
        return BEFORE_ENABLED
    if placed < now - pd.Timedelta(settings.confirmation_max_age):
        return TOO_OLD
    return None


def certificate_expired(expires_at: Any, now: pd.Timestamp) -> bool:
    when = _utc(expires_at)
    return when is not None and when < now


@dataclass
class SendPlan:
    """What a run is about to send: counts, and skips by reason."""

    confirmations: int = 0
    certificates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.confirmations + self.certificates

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    def describe(self) -> str:
        text = (f"{self.confirmations} order confirmation{'s' * (self.confirmations != 1)} "
                f"and {self.certificates} certificate{'s' * (self.certificates != 1)}")
        if self.skipped:
            text += " (not sent: " + ", ".join(
                f"{n} {reason}" for reason, n in sorted(self.skipped.items())) + ")"
        return text


def cap_exceeded(plan: SendPlan, allowed: int, by_flag: bool) -> str | None:
    """The run's failure message when ``plan`` sends more than ``allowed``, else None."""
    if plan.total <= allowed:
        return None
    limit = (f"--allow-sends {allowed}" if by_flag
             else f"DOTSYNC_MAX_SENDS_PER_RUN ({allowed})")
    return (f"this run would send {plan.total} transactional e-mails ({plan.confirmations} "
            f"order confirmations, {plan.certificates} certificates), more than {limit} "
            f"allows; nothing was sent. If that is right, allow it for one run: "
            f"dotsync sync --allow-sends {plan.total} (or the sync flow's allow_sends "
            f"parameter in the Prefect UI)")
