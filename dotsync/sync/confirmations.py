"""Order confirmations owed, read from the ledger a chunk at a time.

A store whose order campaign was just set, or a run after a long outage, may owe
confirmations for many orders. Reading every owed key, its staged order and its
personalisation at once made a run's memory follow the number owed; here they are
read ``chunk`` keys at a time (by key, a page of the ledger's index each), planned,
and sent before the next page is read. The send cap still sees the whole number
(:meth:`SyncEngine.check_send_cap` counts chunk by chunk), and the send step never
sends more than that count: what appeared meanwhile waits for the next run.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from dotsync.store import schema

#: Owed confirmations read (and their staged orders validated) at a time.
CHUNK = 2_000

OWED = ("pending", "failed")


def owed_keys(engine: sa.Engine, chunk: int = CHUNK) -> Iterator[list[str]]:
    """Keys of the confirmations owed (``pending`` or ``failed`` in the ledger), ``chunk``
    at a time in key order. Each page is its own query after the last key seen, so a
    page's sends (which move keys out of these states) never shift the next page."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    t = schema.ledger
    base = (sa.select(t.c.key).where(t.c.entity == "confirmations", t.c.state.in_(OWED))
            .order_by(t.c.key).limit(chunk))
    after: str | None = None
    while True:
        query = base if after is None else base.where(t.c.key > after)
        with engine.connect() as conn:
            keys = [str(k) for (k,) in conn.execute(query)]
        if not keys:
            return
        yield keys
        if len(keys) < chunk:
            return
        after = keys[-1]
