"""What ``dotsync status`` and ``dotsync rejects`` report: every record accounted for."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import keys as record_keys
from dotsync.store import schema
from dotsync.store import warnings as field_warnings
from dotsync.store.changes import NO_END, ChangeFeed, Window
from dotsync.store.db import Store
from dotsync.store.frames import row_hashes
from dotsync.store.ledger import DERIVED_ENTITIES, STATES, Ledger


def source_hashes(entity: str, staged: pd.DataFrame) -> pd.Series:
    """The fingerprint the ledger keeps of a staged row (all its SPEC columns)."""
    return row_hashes(staged, schema.ENTITY_COLUMNS[entity],
                      later=schema.LATER_COLUMNS.get(entity, ()))


def pending_mask(ledger: Ledger, entity: str, staged: pd.DataFrame) -> pd.Series:
    return ledger.pending(entity, staged, source_hashes(entity, staged))


def status(store: Store, chunk_rows: int = 20_000) -> dict[str, Any]:
    """Counts per entity and state, where a staged record that is new or changed
    counts as ``pending`` whatever the ledger last said of it (as do records the ledger
    has as ``failed``: the next run retries them).

    Computed from aggregates over the ledger's (entity, state, key) index, corrected by the
    records stamped since each entity's mark (read and fingerprinted in chunks) and
    the ledger rows whose staged row is gone: the cost follows what changed since the
    last run, not the size of the store.
    """
    ledger = Ledger(store)
    feed = ChangeFeed(store.engine)
    ledger_counts = ledger.counts()
    out: dict[str, Any] = {"entities": {}, "in_doubt": []}
    for entity in _counted(store, ledger_counts):
        known = dict.fromkeys(STATES, 0)
        known.update(ledger_counts.get(entity, {}))
        for state, n in _gone(store, entity).items():
            known[state] -= n
        counts = dict.fromkeys(STATES, 0)
        window = Window(entity=entity, low=feed.mark(entity), high=NO_END,
                        safe=0, reader_id="")
        for staged in feed.changed(window, chunk_rows):
            mask = pending_mask(ledger, entity, staged)
            keys = record_keys.of_frame(entity, staged).tolist()
            for state in ledger.states(entity, keys).values():
                known[state] -= 1
            counts["pending"] += int(mask.sum())
            settled = record_keys.of_frame(entity, staged.loc[~mask]).tolist()
            for state in ledger.states(entity, settled).values():
                counts[state] += 1
        # Every other staged record is in the ledger as its last run left it.
        counts["pending"] += known.pop("pending") + known.pop("failed")
        for state, n in known.items():
            counts[state] += n
        out["entities"][entity] = {"staged": store.count_staged(entity), **counts}
    for entity in DERIVED_ENTITIES:
        if entity in ledger_counts:
            out["entities"][entity] = dict(ledger_counts[entity])
    doubt = ledger.problems(states=("in_doubt",))
    out["in_doubt"] = [
        {"entity": r.entity, "key": r.key, "since": str(r.updated_at), "run_id": r.run_id}
        for r in doubt.itertuples()
    ]
    # Records sent with a field left out (SPEC §1), per entity: `rejects --warnings`.
    out["warnings"] = field_warnings.counts(store)
    return out


def _counted(store: Store, ledger_counts: dict[str, Any]) -> list[str]:
    """The entities ``status`` counts: the synced ones, and the products (the catalogue)
    once any are staged or in the ledger."""
    out = list(schema.ENTITIES)
    if "products" not in ledger_counts:
        with store.engine.connect() as conn:
            if not conn.execute(sa.select(sa.exists().select_from(schema.products))).scalar():
                return out
    return [*out, "products"]


def _gone(store: Store, entity: str) -> dict[str, int]:
    """Ledger states of the records whose staged row was deleted (few, found through
    the index on deleted change stamps)."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # CROSS JOIN fixes SQLite's join order: from the few deleted stamps into
            # the ledger, not through every ledger row of the entity.
            rows = conn.execute(sa.text(
                "SELECT l.state, count(*) FROM dotsync_changes AS ch CROSS JOIN ledger AS l "
                "ON l.entity = ch.entity AND l.key = ch.key "
                "WHERE ch.entity = :entity AND ch.deleted = 1 GROUP BY l.state"),
                {"entity": entity})
        else:
            ch, led = schema.changes, schema.ledger
            rows = conn.execute(
                sa.select(led.c.state, sa.func.count())
                .select_from(ch.join(led, sa.and_(led.c.entity == ch.c.entity,
                                                  led.c.key == ch.c.key)))
                .where(ch.c.entity == entity, ch.c.deleted == 1).group_by(led.c.state))
        return {state: int(n) for state, n in rows}


def rejects(store: Store, entity: str | None = None) -> list[dict[str, Any]]:
    """Every rejected, failed, in-doubt or waiting record with its field and reason.

    A waiting record (an order or certificate whose contact is not in Dotdigital) is
    ``pending`` in the ledger; it is listed with state ``waiting`` and, as its reason,
    what it waits for."""
    frame = Ledger(store).problems(entity, waiting=True)
    return [
        {
            "entity": r.entity,
            "id": record_keys.display(r.key),
            "state": "waiting" if r.state == "pending" else r.state,
            "field": r.error_field,
            "code": r.error_code,
            "reason": r.error_message,
            "attempts": int(r.attempts or 0),
        }
        for r in frame.itertuples()
    ]


def warnings(store: Store, entity: str | None = None) -> list[dict[str, Any]]:
    """Every field left out of what was sent, per record, with the reason (SPEC §1)."""
    frame = field_warnings.frame(store, entity)
    return [
        {"entity": r.entity, "id": r.key, "field": r.field, "check": r.check,
         "value": r.value, "reason": r.reason, "run_id": r.run_id}
        for r in frame.itertuples()
    ]
