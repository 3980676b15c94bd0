"""The read-back of earlier enrolments finds exactly the unfinished ones, through the
ledger's (entity, error_code) index rather than every synced record of the entity.

Every carts and order-programs run asks for them; a store keeps every cart ever
enrolled as a synced record, so a read through the (entity, state) indexes grew with
that history. The plans are asserted, not timed.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa

from dotsync.store import Ledger, Store
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.enrolment_reads import unfinished
from dotsync.sync.steps.enrolments import PROCESSING

ENTITY = "cart_enrolments"
INDEX = "ix_ledger_entity_error_code"


def _enrolled(key: str, enrolment: str, contact: int, code: str | None) -> dict[str, Any]:
    return {"key": key, "state": "synced", "error_code": code,
            "detail": json.dumps({"program": 7, "enrolment": enrolment, "contact": contact})}


def _ledger(store: Store) -> Ledger:
    """Many carts enrolled and read back long ago, a few still processing, and rows
    the read-back must leave alone (another entity's, a rejected one, a pending one)."""
    ledger = Ledger(store)
    ledger.record(ENTITY, [_enrolled(f"K{i:05d}", f"old{i // 25}", i, None)
                           for i in range(20_000)])
    ledger.record(ENTITY, [_enrolled("P1", "e1", 1, PROCESSING),
                           _enrolled("P2", "e1", 1, PROCESSING),
                           _enrolled("P3", "e1", 2, PROCESSING),
                           _enrolled("P4", "e2", 3, PROCESSING)])
    ledger.record(ENTITY, [{"key": "R1", "state": "rejected", "error_code": "enrolment_fault"},
                           {"key": "W1", "state": "pending", "error_code": PROCESSING}])
    ledger.record("order_enrolments", [_enrolled("O1", "e9", 9, PROCESSING)])
    return ledger


def _context(store: Store) -> RunContext:
    return cast(RunContext, SimpleNamespace(store=store))  # all unfinished() reads


def _as_sets(made: list[tuple[str, dict[int, list[str]]]]) -> dict[str, dict[int, set[str]]]:
    return {e: {c: set(keys) for c, keys in contacts.items()} for e, contacts in made}


def test_only_the_enrolments_still_processing_are_read_back(store: Store) -> None:
    ledger = _ledger(store)
    assert _as_sets(unfinished(_context(store), ENTITY)) == {
        "e1": {1: {"P1", "P2"}, 2: {"P3"}}, "e2": {3: {"P4"}}}
    assert _as_sets(unfinished(_context(store), "order_enrolments")) == {"e9": {9: {"O1"}}}
    # Read back and settled: gone from the next run's list.
    ledger.record(ENTITY, [{"key": "P4", "state": "synced", "error_code": None}])
    ledger.record(ENTITY, [{"key": "P3", "state": "rejected", "error_code": "enrolment_fault"}])
    assert _as_sets(unfinished(_context(store), ENTITY)) == {"e1": {1: {"P1", "P2"}}}


def test_the_read_back_probes_the_error_code_index(store: Store) -> None:
    _ledger(store)
    statements: list[tuple[str, Any]] = []

    def seen(_conn, _cursor, statement, params, *_args):  # type: ignore[no-untyped-def]
        if "FROM ledger" in statement:
            statements.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        unfinished(_context(store), ENTITY)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    (statement, params), = statements
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("ANALYZE ledger")  # as autovacuum would have
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            f"EXPLAIN {'QUERY PLAN ' if store.dialect == 'sqlite' else ''}{statement}",
            params))
    assert INDEX in plan, plan
