"""The sync ledger: what dotsync knows about every record it has seen.

One row per (entity, key) with the record's state:

``pending``
    never sent, changed since it was last sent, or waiting (for its contact, a retry);
``synced``
    Dotdigital has it (``payload_hash`` is what was sent);
``rejected``
    invalid, by our contracts or Dotdigital's import report; not retried until the
    source record changes or someone replays it;
``failed``
    a failure worth retrying (transient API errors); picked up again by the next run;
``in_doubt``
    a send whose outcome is unknown (the process died or the connection dropped
    between the intent and the outcome). Never re-sent automatically.

Sends that must happen exactly once (certificates, order confirmations) are first
*claimed*: a compare-and-set to ``in_doubt`` that only one run can win, written and
committed before the API call. The outcome replaces it after the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.store import attempts, schema
from dotsync.store import keys as record_keys
from dotsync.store.db import Store, chunks
from dotsync.store.frames import object_frame
from dotsync.store.ledger_sql import insert_missing, upsert

STATES: tuple[str, ...] = ("pending", "synced", "rejected", "failed", "in_doubt")
#: Entities the ledger tracks beyond the staged ones.
DERIVED_ENTITIES: tuple[str, ...] = ("contacts", "confirmations", "erasures",
                                      "cart_enrolments", "program_enrolments")
#: A ``pending`` record whose ``error_code`` starts with this waits for something (its
#: ``error_message`` says what); ``dotsync rejects`` lists it as ``waiting``.
WAITING_PREFIX = "waiting"
#: Entities whose send must never repeat.
EXACTLY_ONCE: frozenset[str] = frozenset({"certificates", "confirmations", "cart_enrolments",
                                          "program_enrolments"})

LEDGER_COLUMNS: tuple[str, ...] = (
    "key",
    "state",
    "source_hash",
    "payload_hash",
    "attempts",
    "error_code",
    "error_field",
    "error_message",
    "dotdigital_ref",
    "detail",
    "run_id",
    "first_seen_at",
    "updated_at",
    "sent_at",
)
_WRITABLE = frozenset(LEDGER_COLUMNS) - {"key", "first_seen_at", "updated_at", "attempts"}


def now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """Reads and writes the ``ledger`` table of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = schema.ledger

    # -- reading ----------------------------------------------------------------------

    def frame(self, entity: str, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Ledger rows of ``entity`` (all, or those with ``keys``)."""
        t = self.table
        cols = [t.c[c] for c in LEDGER_COLUMNS]
        rows: list[Sequence[Any]] = []
        with self.store.engine.connect() as conn:
            base = sa.select(*cols).where(t.c.entity == entity)
            if keys is None:
                rows = list(conn.execute(base))
            else:
                for part in chunks(list(dict.fromkeys(keys)), 900):
                    rows += list(conn.execute(base.where(t.c.key.in_(part))))
        return object_frame(rows, LEDGER_COLUMNS)

    def states(self, entity: str, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{key: state}`` for ``entity``."""
        t = self.table
        out: dict[str, str] = {}
        with self.store.engine.connect() as conn:
            base = sa.select(t.c.key, t.c.state).where(t.c.entity == entity)
            if keys is None:
                out.update((k, s) for k, s in conn.execute(base))
                return out
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            # Through the driver: the contact gate asks this for every order of a backfill,
            # and SQLAlchemy's statement building and row objects doubled the cost.
            for part in chunks(list(dict.fromkeys(keys)), 900):
                sql = ('SELECT "key", "state" FROM ledger WHERE "entity" = ' + mark
                       + ' AND "key" IN (' + ", ".join([mark] * len(part)) + ")")
                out.update((k, s) for k, s in conn.exec_driver_sql(sql, (entity, *part)))
        return out

    def lookup(self, entity: str, keys: Iterable[str],
               columns: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """``{key: (values of columns)}`` for the keys of ``entity`` that have a row.

        Through the driver, text columns only (no timestamp parsing): what the sync
        compares for every record it reads.
        """
        unknown = set(columns) - set(LEDGER_COLUMNS)
        if unknown:
            raise ValueError(f"not ledger columns: {sorted(unknown)}")
        out: dict[str, tuple[Any, ...]] = {}
        selected = ", ".join(f'"{c}"' for c in columns)
        with self.store.engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            for part in chunks(list(dict.fromkeys(keys)), 900):
                sql = (f'SELECT "key", {selected} FROM ledger WHERE "entity" = {mark} '
                       f'AND "key" IN ({", ".join([mark] * len(part))})')
                out.update((row[0], tuple(row[1:]))
                           for row in conn.exec_driver_sql(sql, (entity, *part)))
        return out

    def pending(self, entity: str, staged: pd.DataFrame, source_hashes: pd.Series) -> pd.Series:
        """A boolean mask over ``staged``: which rows need processing this run.

        A set operation (one merge), not a loop: new keys, keys whose source changed
        since they were last processed, and keys left ``pending`` or ``failed``. A
        certificate already sent (or in doubt) is never pending again, whatever changes.
        """
        if staged.empty:
            return pd.Series([], dtype=bool, index=staged.index)
        staged_keys = record_keys.of_frame(entity, staged)  # products: store + sku
        # Look the keys up by key for a chunk; read the whole entity for a large table.
        if len(staged) > 200_000:
            ledger = self.frame(entity)
        else:
            found = self.lookup(entity, staged_keys.tolist(), ("state", "source_hash"))
            ledger = pd.DataFrame({
                "key": pd.Series(list(found), dtype=object),
                "state": pd.Series([v[0] for v in found.values()], dtype=object),
                "source_hash": pd.Series([v[1] for v in found.values()], dtype=object)})
        merged = pd.DataFrame({"key": staged_keys.to_numpy(), "h": source_hashes.to_numpy()})
        merged = merged.merge(
            ledger[["key", "state", "source_hash"]], on="key", how="left", sort=False
        )
        is_new = merged["state"].isna()
        changed = merged["source_hash"].astype(object) != merged["h"].astype(object)
        retry = merged["state"].isin(["pending", "failed"])
        if entity == "certificates":
            changed = changed & merged["state"].isin(["rejected"])
        mask = (is_new | retry | changed).to_numpy()
        return pd.Series(mask, index=staged.index, dtype=bool)

    def states_in(self, entity: str, states: Sequence[str]) -> list[tuple[str, str]]:
        """``(key, state)`` of every record of ``entity`` in one of ``states``."""
        t = self.table
        with self.store.engine.connect() as conn:
            return [(k, s) for k, s in conn.execute(
                sa.select(t.c.key, t.c.state).where(t.c.entity == entity,
                                                    t.c.state.in_(list(states))))]

    def ensure(self, entity: str, keys: Sequence[str]) -> None:
        """A ``pending`` row for each key that has none; existing rows are left alone."""
        if not keys:
            return
        stamp = now()
        with self.store.engine.begin() as conn:
            for part in chunks(list(dict.fromkeys(keys)), 2_000):
                insert_missing(conn, entity, list(part), stamp)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{entity: {state: n}}`` over the whole ledger (entities with rows only).

        One count per (entity, state) pair, each a range of the (entity, state, key)
        index: about half the time of one ``GROUP BY`` over millions of rows on SQLite,
        which compares both text columns of every row to form the groups.
        """
        t = self.table
        out: dict[str, dict[str, int]] = {}
        query = sa.select(sa.func.count()).select_from(t).where(
            t.c.entity == sa.bindparam("e"), t.c.state == sa.bindparam("s"))
        with self.store.engine.connect() as conn:
            # Products (the catalogue) are synced by a step of their own.
            for entity in (*schema.ENTITIES, "products", *DERIVED_ENTITIES):
                found = {s: int(conn.execute(query, {"e": entity, "s": s}).scalar_one())
                         for s in STATES}
                if any(found.values()):
                    out[entity] = found
        return out

    def problems(self, entity: str | None = None, *, waiting: bool = False,
                 states: Sequence[str] = ("rejected", "failed", "in_doubt")) -> pd.DataFrame:
        """Every rejected, failed or in-doubt record (or those in ``states``), with its
        reason; with ``waiting``, also the ``pending`` records that wait for something
        (an ``error_code`` starting with ``waiting``, e.g. ``waiting_for_contact``),
        their reason saying what. Read through the (entity, state, key) index, so the cost
        follows their number."""
        t = self.table
        cols = [
            "entity",
            "key",
            "state",
            "error_code",
            "error_field",
            "error_message",
            "attempts",
            "run_id",
            "updated_at",
        ]
        wanted = list(states)
        condition = t.c.state.in_(wanted)
        if waiting and "pending" not in wanted:
            # One IN over the states (not an OR of two conditions), so the (entity,
            # state) index still serves it; the other pending records are left out.
            condition = t.c.state.in_([*wanted, "pending"]) & (
                (t.c.state != "pending") | t.c.error_code.like(f"{WAITING_PREFIX}%"))
        query = sa.select(*[t.c[c] for c in cols]).where(condition)
        # Every entity named, so the (entity, state, key) index serves the query.
        query = query.where(t.c.entity.in_([entity] if entity else
                                           [*schema.ENTITIES, *DERIVED_ENTITIES]))
        with self.store.engine.connect() as conn:
            # Sorted here, not in SQL: an ORDER BY (entity, key) makes SQLite walk the
            # primary key over every record of each entity instead of the index.
            rows = sorted(conn.execute(query), key=lambda r: (r[0], r[1]))
        return object_frame(rows, cols)

    # -- writing ----------------------------------------------------------------------

    def record(
        self,
        entity: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        run_id: str | None = None,
        count_attempt: bool = False,
        protect_sent: bool = False,
        attempt: str | None = None,
    ) -> int:
        """Write the state of many records at once (insert or update by key).

        Each row has ``key`` and ``state`` and any of the other writable columns;
        columns a row leaves out keep their stored value. ``count_attempt`` adds one
        to ``attempts``. ``protect_sent`` leaves rows that are ``synced`` or
        ``in_doubt`` as they are: a run that merely looked at a record (to reject it,
        or to let it wait) must never reopen a send another run made meanwhile.
        ``attempt`` names the operation these outcomes settle (``attempts.CONTACT_IMPORT``
        ...): each row is also appended to the attempt log, in the same transaction.
        """
        stamp = now()
        # Rows are grouped by the columns they set (one statement per group); a group's
        # columns are checked once, not per row: a backfill writes millions of rows.
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        total = 0
        for row in rows:
            shape = tuple(row)
            fields = shapes.get(shape)
            if fields is None:
                unknown = set(shape) - _WRITABLE - {"key"}
                if unknown:
                    raise ValueError(f"not ledger columns: {sorted(unknown)}")
                if "key" not in shape:
                    raise ValueError("a ledger row needs its key")
                fields = tuple(sorted(set(shape) - {"key"}))
                shapes[shape] = fields
            if row.get("state") not in STATES:
                raise ValueError(f"invalid ledger state {row.get('state')!r}")
            groups.setdefault(fields, []).append(row)
            total += 1
        with self.store.engine.begin() as conn:
            for fields, items in groups.items():
                for part in chunks(items, 5_000):
                    upsert(conn, entity, fields, part, stamp, count_attempt, protect_sent,
                           run_id)
            if attempt is not None:
                for items in groups.values():
                    attempts.write(conn, entity, items, operation=attempt, run_id=run_id,
                                   at=stamp)
        return total

    def claim(
        self, entity: str, keys: Sequence[str], *, run_id: str, detail: str | None = None
    ) -> set[str]:
        """Record the intent to send, for each key no other run has sent or claimed.

        Returns the keys this run now owns: their state is ``in_doubt`` and committed
        before this returns, so a crash from here on can never lead to a second send.
        Keys already ``synced`` or ``in_doubt`` are not claimed.
        """
        t = self.table
        stamp = now()
        claimed: set[str] = set()
        unique = list(dict.fromkeys(keys))
        with self.store.engine.begin() as conn:
            existing: set[str] = set()
            for part in chunks(unique, 900):
                existing.update(
                    conn.execute(
                        sa.select(t.c.key).where(t.c.entity == entity, t.c.key.in_(part))
                    ).scalars()
                )
            fresh = [k for k in unique if k not in existing]
            for part in chunks(fresh, 2_000):
                insert_missing(conn, entity, list(part), stamp)
            for part in chunks(unique, 900):
                result = conn.execute(
                    t.update()
                    .where(
                        t.c.entity == entity,
                        t.c.key.in_(part),
                        t.c.state.notin_(["synced", "in_doubt"]),
                    )
                    .values(
                        state="in_doubt",
                        run_id=run_id,
                        updated_at=stamp,
                        attempts=t.c.attempts + 1,
                        detail=detail,
                        error_code=None,
                        error_field=None,
                        error_message="send started; outcome not yet recorded",
                    )
                    .returning(t.c.key)
                )
                claimed.update(result.scalars())
            # The claim itself is logged: a record left in doubt shows when and by
            # which run its send was started.
            attempts.write(conn, entity, [
                {"key": k, "state": "in_doubt", "error_message": "send started"}
                for k in unique if k in claimed], operation=attempts.CAMPAIGN_CLAIM,
                run_id=run_id, at=stamp)
        return claimed

    def forget(self, entity: str, keys: Sequence[str]) -> int:
        """Delete ledger rows: after an erasure, no e-mail may stay behind as a key."""
        t = self.table
        total = 0
        with self.store.engine.begin() as conn:
            for part in chunks(list(keys), 900):
                total += conn.execute(
                    t.delete().where(t.c.entity == entity, t.c.key.in_(part))).rowcount
            attempts.forget(conn, entity, keys)
        return total

    def replay(self, entity: str | None = None, keys: Sequence[str] | None = None) -> int:
        """Queue rejected and failed records again (not in-doubt sends: see resend).

        Each record queued again gets a ``replay`` entry in the attempt log, written by
        one ``INSERT ... SELECT`` over the same rows before they change."""
        t = self.table
        condition = t.c.state.in_(["rejected", "failed"]) & t.c.entity.in_(
            [entity] if entity else [*schema.ENTITIES, *DERIVED_ENTITIES, "products"])
        total = 0
        stamp = now()
        with self.store.engine.begin() as conn:
            parts = ([condition & t.c.key.in_(part) for part in chunks(list(keys), 900)]
                     if keys else [condition])
            for where in parts:
                self._log_replay(conn, where, stamp)
                total += conn.execute(t.update().where(where).values(
                    state="pending", source_hash=None, updated_at=stamp)).rowcount
        return total

    def _log_replay(self, conn: sa.Connection, where: Any, stamp: datetime) -> None:
        t = self.table
        a = schema.attempts
        query = sa.select(
            t.c.entity, t.c.key, sa.literal(stamp, a.c.at.type),
            sa.literal(None, a.c.run_id.type), sa.literal(attempts.REPLAY, a.c.operation.type),
            sa.literal("pending", a.c.outcome.type),
            # The state it leaves, as the code; the ledger's own reason stays unscrubbed
            # out of the log.
            t.c.state, sa.literal("queued again by `dotsync replay`", a.c.error_message.type),
            sa.literal(None, a.c.reference.type),
        ).where(where)
        conn.execute(a.insert().from_select(list(attempts.COLUMNS), query))
