"""Consent read-back: who Dotdigital has as unsubscribed or suppressed.

People unsubscribe in Dotdigital (a link in an e-mail, a complaint, a bounce), not in
the shop. :func:`read_back` pulls those contacts since the last watermark (paging
through all of them) into the ``suppressions`` table of the staging store, where the
source system can read them, and where the sync looks before it sends a consent:
it never sends ``email_consent = subscribed`` for such a contact unless the source's
consent (the customer row's ``updated_at``) is newer than the suppression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import Ledger, Store
from dotsync.store.db import chunks
from dotsync.store.schema import meta, suppressions

WATERMARK = "consent_watermark"
#: Read a little before the last watermark: Dotdigital's clock and ours may differ.
OVERLAP = timedelta(hours=1)
#: Where the first read-back starts when there is no watermark yet.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: An unsubscribe this close to dotsync creating the contact non-marketable is its own.
OWN_UNSUBSCRIBE_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class ReadBack:
    since: datetime
    suppressed: int
    unsubscribed: int
    recorded: int


def watermark(store: Store) -> datetime | None:
    with store.engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.name == WATERMARK)).scalar()
    return datetime.fromisoformat(value) if value else None


def _set_watermark(conn: sa.Connection, moment: datetime) -> None:
    done = conn.execute(meta.update().where(meta.c.name == WATERMARK)
                        .values(value=moment.isoformat()))
    if done.rowcount == 0:
        conn.execute(meta.insert().values(name=WATERMARK, value=moment.isoformat()))


def read_back(client: Any, store: Store, since: datetime | None = None) -> ReadBack:
    """Pull suppressed and unsubscribed contacts since the watermark into the store."""
    started = datetime.now(UTC)
    mark = watermark(store)
    start = since or ((mark - OVERLAP) if mark else EPOCH)
    suppressed = client.suppressed_since(start)
    unsubscribed = client.unsubscribed_since(start)
    rows: dict[str, dict[str, Any]] = {}
    for kind, items in (("suppressed", suppressed), ("unsubscribed", unsubscribed)):
        for item in items:
            if not item.email:
                continue
            email = item.email.strip().lower()
            when = item.date_removed or started
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            known = rows.get(email)
            if known is None or when > known["date_removed"]:
                rows[email] = {"email": email, "kind": kind, "reason": item.reason,
                               "date_removed": when, "recorded_at": started}
    for email in _own_unsubscribes(store, rows):
        del rows[email]
    with store.engine.begin() as conn:
        for part in chunks(list(rows.values()), 500):
            emails = [r["email"] for r in part]
            conn.execute(suppressions.delete().where(suppressions.c.email.in_(emails)))
            conn.execute(suppressions.insert(), list(part))
        _set_watermark(conn, started)
    return ReadBack(since=start, suppressed=len(suppressed), unsubscribed=len(unsubscribed),
                    recorded=len(rows))


def _own_unsubscribes(store: Store, rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ``unsubscribed`` entries that are dotsync's own: the status it gave a contact
    it created without consent (README, "Consent"), not a contact's choice. The source
    system is not told those; an unsubscribe after that moment is recorded as usual."""
    from dotsync.sync.consent_policy import CREATED_NOT_MARKETABLE

    # Dotdigital lists an unsubscribe under suppressed-since too (reason Unsubscribed).
    candidates = [e for e, r in rows.items() if r["kind"] == "unsubscribed"
                  or str(r.get("reason") or "").lower() == "unsubscribed"]
    if not candidates:
        return []
    ledger = Ledger(store).frame("contacts", candidates)
    own = []
    for email, detail, sent_at in zip(ledger["key"], ledger["detail"], ledger["sent_at"],
                                      strict=True):
        if detail != CREATED_NOT_MARKETABLE or sent_at is None or pd.isna(sent_at):
            continue
        created = pd.Timestamp(sent_at)
        created = created.tz_localize("UTC") if created.tzinfo is None else created
        if rows[email]["date_removed"] <= created.to_pydatetime() + OWN_UNSUBSCRIBE_SLACK:
            own.append(email)
    return own


def suppressed_at(store: Store, emails: Iterable[str]) -> dict[str, datetime]:
    """``{email: when Dotdigital suppressed it}`` for the given normalised e-mails."""
    out: dict[str, datetime] = {}
    wanted = sorted({e for e in emails if e})
    with store.engine.connect() as conn:
        for part in chunks(wanted, 900):
            for email, when in conn.execute(
                sa.select(suppressions.c.email, suppressions.c.date_removed)
                .where(suppressions.c.email.in_(part))
            ):
                if when is not None and when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                out[email] = when
    return out


def keep_unsubscribed(
    item: Mapping[str, Any], source_updated: Any, suppressed_when: datetime | None
) -> bool:
    """Whether a contact's ``subscribed`` must not be sent: Dotdigital has it suppressed
    and the source's consent is not newer than that."""
    if suppressed_when is None:
        return False
    status = (item.get("payload", {}).get("channelProperties", {}).get("email", {})
              .get("status"))
    if status != "subscribed":
        return False
    if source_updated is None or pd.isna(source_updated):
        return True
    consent = pd.Timestamp(source_updated)
    consent = consent.tz_localize("UTC") if consent.tzinfo is None else consent
    newer: bool = consent.to_pydatetime() <= suppressed_when
    return newer
