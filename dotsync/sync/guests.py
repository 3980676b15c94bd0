"""E-mail-only contacts: guests who ordered without a customer row, and certificate
recipients who are nobody's customer.

Both the backfill and the scheduled sync push them in the customers' contact stream
(so they fill the customers' last import instead of an import, and a poll, of their
own); what they share is here: which addresses qualify (valid once normalised as the
contracts do, held by no staged customer, not already in Dotdigital per the ledger)
and how the sync finds them among what changed without reading whole rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from dotsync.store.changes import ChangeFeed
from dotsync.sync.engine import SyncEngine
from dotsync.sync.steps.items import ContactItem

#: The e-mail column of each entity whose records may need an e-mail-only contact.
GUEST_COLUMNS: dict[str, str] = {"orders": "customer_email",
                                 "certificates": "recipient_email"}


def normalised(raw: Iterable[Any]) -> set[str]:
    """The valid addresses among raw e-mail values, trimmed and lower-cased as the
    contracts do: an address the contracts would reject gives no contact."""
    from dotsync.data_contracts import normalise_email

    out: set[str] = set()
    for value in raw:
        email, _reason = normalise_email(value)
        if email:
            out.add(email)
    return out


def items(engine: SyncEngine, emails: Iterable[str]) -> list[ContactItem]:
    """Contact items for the normalised ``emails`` that no staged customer holds (one
    indexed column is read to tell), unless Dotdigital has them already."""
    wanted = {e for e in emails if isinstance(e, str) and e}
    if not wanted:
        return []
    have = {e.strip().lower() for e in engine.store.customer_emails(wanted)
            if isinstance(e, str) and e.strip()}
    return engine.contacts.guest_items(wanted, have)


def changed_items(engine: SyncEngine, entities: Sequence[str],
                  chunk_rows: int) -> Iterator[ContactItem]:
    """The e-mail-only contacts the changed records of ``entities`` (those stamped
    since their mark, and those to retry) will need, page by page.

    Only the e-mail column of those records is read, ``chunk_rows`` values at a time,
    so the cost follows what changed, not the store. An address is handed over once
    (the guests already handed over are remembered: only they, not every e-mail
    read). Records stamped after this read, or whose contact could not be known here,
    get theirs from the steps that send them (:func:`dotsync.sync.changed.push_guests`).
    """
    feed = ChangeFeed(engine.store.engine)
    handed: set[str] = set()
    for entity in entities:
        column = GUEST_COLUMNS[entity]
        for values in feed.column_since_mark(entity, column, chunk_rows):
            found = items(engine, normalised(values) - handed)
            handed.update(i["key"] for i in found)
            yield from found
