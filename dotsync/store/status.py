"""What ``dotsync status`` and ``dotsync rejects`` report: every record accounted for."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dotsync.store import schema
from dotsync.store import warnings as field_warnings
from dotsync.store.db import Store
from dotsync.store.frames import row_hashes
from dotsync.store.ledger import DERIVED_ENTITIES, STATES, Ledger


def source_hashes(entity: str, staged: pd.DataFrame) -> pd.Series:
    """The fingerprint the ledger keeps of a staged row (all its SPEC columns)."""
    return row_hashes(staged, schema.ENTITY_COLUMNS[entity],
                      later=schema.LATER_COLUMNS.get(entity, ()))


def pending_mask(ledger: Ledger, entity: str, staged: pd.DataFrame) -> pd.Series:
    return ledger.pending(entity, staged, source_hashes(entity, staged))


def status(store: Store, chunk_rows: int = 200_000) -> dict[str, Any]:
    """Counts per entity and state, where a staged record that is new or changed
    counts as ``pending`` whatever the ledger last said of it."""
    ledger = Ledger(store)
    out: dict[str, Any] = {"entities": {}, "in_doubt": []}
    for entity in schema.ENTITIES:
        counts = dict.fromkeys(STATES, 0)
        staged_total = 0
        for staged in store.iter_staged(entity, chunk_rows=chunk_rows):
            staged_total += len(staged)
            mask = pending_mask(ledger, entity, staged)
            counts["pending"] += int(mask.sum())
            settled = staged.loc[~mask, schema.ENTITY_KEYS[entity]].tolist()
            for state in ledger.states(entity, settled).values():
                counts[state] += 1
        out["entities"][entity] = {"staged": staged_total, **counts}
    ledger_counts = ledger.counts()
    for entity in DERIVED_ENTITIES:
        if entity in ledger_counts:
            out["entities"][entity] = dict(ledger_counts[entity])
    problems = ledger.problems()
    doubt = problems[problems["state"] == "in_doubt"]
    out["in_doubt"] = [
        {"entity": r.entity, "key": r.key, "since": str(r.updated_at), "run_id": r.run_id}
        for r in doubt.itertuples()
    ]
    # Records sent with a field left out (SPEC §1), per entity: `rejects --warnings`.
    out["warnings"] = field_warnings.counts(store)
    return out


def rejects(store: Store, entity: str | None = None) -> list[dict[str, Any]]:
    """Every rejected, failed, in-doubt or waiting record with its field and reason.

    A waiting record (an order or certificate whose contact is not in Dotdigital) is
    ``pending`` in the ledger; it is listed with state ``waiting`` and, as its reason,
    what it waits for."""
    frame = Ledger(store).problems(entity, waiting=True)
    return [
        {
            "entity": r.entity,
            "id": r.key,
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
