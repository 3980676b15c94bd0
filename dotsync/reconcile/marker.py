"""When the last reconciliation started, kept in the store's ``dotsync_meta`` table.

The next reconciliation reads back what was modified in Dotdigital since then. Kept in
the store (not in Prefect) so ``dotsync reconcile`` and the deployed flow share it and
``dotsync migrate`` carries it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from dotsync.store import Store
from dotsync.store.schema import meta

KEY = "last_reconciliation"


def last_reconciliation(store: Store) -> datetime | None:
    with store.engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.name == KEY)).scalar()
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def set_last_reconciliation(store: Store, moment: datetime) -> None:
    text = moment.astimezone(UTC).isoformat()
    with store.engine.begin() as conn:
        done = conn.execute(meta.update().where(meta.c.name == KEY).values(value=text))
        if done.rowcount == 0:
            conn.execute(meta.insert().values(name=KEY, value=text))
