"""The products step: changed products into their stores' catalogue collections.

Per store, an account-scoped insight collection of type ``catalog``, ``catalog_<store>``
(or ``DOTSYNC_CATALOG_COLLECTION``; :mod:`dotsync.sync.catalog_plan` makes the names),
created before its first write when the account lacks it: a new account has no
collections, and a ``deleteRecords`` call into a missing one is refused. Enabled
products go in through bulk imports keyed by SKU (:class:`CatalogImport`); disabled and
deleted ones come out through ``deleteRecords`` (:class:`Removals`), so a catalogue never
keeps what the shop no longer sells; a product enabled again is imported again.

The ledger keeps one row per product (``store`` U+001F ``sku``) with the fingerprint of
what Dotdigital holds for it (the record's hash, or ``removed``): a product whose
record is what was last sent is settled without a call, so a re-run sends nothing.
A product the contract refuses, or whose store cannot name a valid collection of its
own, is rejected naming the store, the SKU and the field; the others still go.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.dotdigital import errors as dd
from dotsync.store import Store, schema
from dotsync.store import keys as record_keys
from dotsync.sync import payloads
from dotsync.sync.catalog_plan import (
    CATALOG_SCOPE,
    CATALOG_TYPE,
    REMOVED_STATUSES,
    CollectionNameError,
    collection_name,
    product_record,
)
from dotsync.sync.steps.catalog_import import REMOVED, CatalogImport, Removals, settle_products
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import describe, records

ENTITY = "products"


def staged_stores(store: Store) -> list[str]:
    """Every store with staged products (one pass over the primary key's first column)."""
    table = schema.STAGING_TABLES[ENTITY]
    with store.engine.connect() as conn:
        return sorted(str(s) for (s,) in conn.execute(sa.select(table.c.store).distinct()))


def store_collections(stores: Iterable[str], override: str | None
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """Each store's collection, and why a store has none: its name cannot be made
    valid, or it would share its collection with another store (two catalogues are
    never merged into one)."""
    names: dict[str, str] = {}
    problems: dict[str, str] = {}
    for store in sorted(set(stores)):
        try:
            names[store] = collection_name(store, override)
        except CollectionNameError as exc:
            problems[store] = str(exc)
    owners: dict[str, list[str]] = {}
    for store, name in names.items():
        owners.setdefault(name, []).append(store)
    for name, shared in owners.items():
        if len(shared) > 1:
            why = ("DOTSYNC_CATALOG_COLLECTION names one collection for stores "
                   if override is not None else f"the collection name {name!r} is made by "
                   "stores ")
            for store in shared:
                problems[store] = (why + ", ".join(repr(s) for s in shared)
                                   + "; each store needs its own catalogue")
                del names[store]
    return names, problems


class Products:
    """Validates one run's changed products and loads them into the catalogues."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._names: dict[str, str] | None = None
        self._name_problems: dict[str, str] = {}
        #: Collections known to exist (listed or created this run), and their scope.
        self._existing: dict[str, str | None] | None = None
        #: Collections that cannot take the catalogue, with the reason.
        self._unusable: dict[str, str] = {}
        self._ready: set[str] = set()

    # -- collections ------------------------------------------------------------------

    def collections(self) -> tuple[dict[str, str], dict[str, str]]:
        """Every staged store's collection, decided once a run over all the stores (so a
        clash between two stores is seen whichever of them changed)."""
        if self._names is None:
            self._names, self._name_problems = store_collections(
                staged_stores(self.ctx.store), self.ctx.settings.catalog_collection)
        return self._names, self._name_problems

    def ready(self, collection: str) -> str | None:
        """Make sure ``collection`` exists as an account-scoped catalogue before its first
        write this run; None when it does, else why its products cannot go."""
        if collection in self._ready:
            return None
        if collection in self._unusable:
            return self._unusable[collection]
        api = self.ctx.api
        if self._existing is None:
            self._existing = {c.name: c.scope for c in api.list_insight_collections()}
        why: str | None = None
        if collection not in self._existing:
            try:
                created = api.create_insight_collection(collection, scope=CATALOG_SCOPE,
                                                        type=CATALOG_TYPE)
            except dd.AuthenticationError:
                raise
            except dd.DotdigitalError as exc:
                why = f"the catalogue collection {collection!r} could not be created: " \
                      f"{describe(exc)}"
            else:
                if created:
                    self.ctx.report.notes.append(
                        f"created the catalogue collection {collection!r} (account scope, "
                        "type catalog)")
        elif self._existing[collection] not in (None, CATALOG_SCOPE):
            why = (f"the collection {collection!r} exists with scope "
                   f"{self._existing[collection]!r}; a catalogue needs an account-scoped "
                   "collection (set DOTSYNC_CATALOG_COLLECTION to another name)")
        if why is not None:
            self._unusable[collection] = why
            return why
        self._ready.add(collection)
        return None

    # -- validation -------------------------------------------------------------------

    def validate(self, pending: pd.DataFrame) -> pd.DataFrame:
        """The valid products of ``pending`` (rejects and warnings recorded, keyed by the
        ledger's ``store`` U+001F ``sku``), with ``_hash`` and ``_key`` kept."""
        from dotsync.data_contracts.products import validate_products

        ctx = self.ctx
        if pending.empty:
            return pending
        text_keys = record_keys.of_frame(ENTITY, pending)
        by_shown = {f"{st} / {sku}": key for st, sku, key in zip(
            pending["store"].tolist(), pending["sku"].tolist(), text_keys.tolist(),
            strict=True)}
        result = validate_products(pending.drop(columns=["_hash"], errors="ignore"),
                                   strict=ctx.settings.strict_fields)
        rejects = result.rejects.assign(
            key=[by_shown.get(k, k) for k in result.rejects["key"].tolist()])
        ctx.record_rejects(ENTITY, pending, rejects, None)
        warnings = result.warnings.assign(
            key=[by_shown.get(k, k) for k in result.warnings["key"].tolist()])
        ctx.record_warnings(ENTITY, text_keys.astype(str), warnings)
        valid = result.valid.copy()
        valid["_hash"] = pending.loc[valid.index, "_hash"]
        valid["_key"] = text_keys.loc[valid.index]
        return valid

    # -- planning ---------------------------------------------------------------------

    def plan(self, valid: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The products that need a call: (records to import, products to remove). Those
        whose catalogue is what was last sent are settled here, and so are those whose
        store has no usable collection (rejected, naming the store)."""
        ctx = self.ctx
        names, problems = self.collections()
        rows = [r for r in records(valid) if r["_key"] not in ctx.settled[ENTITY]]
        prior = ctx.ledger.lookup(ENTITY, [r["_key"] for r in rows],
                                  ("state", "payload_hash"))
        imports: list[dict[str, Any]] = []
        removals: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        refused: list[tuple[dict[str, Any], Outcome]] = []
        for row in rows:
            store = str(row["store"])
            item: dict[str, Any] = {"key": row["_key"], "sku": str(row["sku"]),
                                    "_hash": row["_hash"], "collection": names.get(store)}
            if item["collection"] is None:
                refused.append((item, Outcome("rejected", "collection_name",
                                              problems.get(store, "no collection"),
                                              field="store")))
                continue
            if str(row.get("status") or "enabled") in REMOVED_STATUSES:
                item["_payload_hash"] = REMOVED
                target = removals
            else:
                record = {"key": item["sku"], "json": product_record(row)}
                item["_payload"] = record
                item["_payload_hash"] = payloads.payload_hash(record)
                target = imports
            before = prior.get(item["key"])
            if before is not None and before[0] == "synced" \
                    and before[1] == item["_payload_hash"]:
                unchanged.append(item)
            else:
                target.append(item)
        if refused and not ctx.options.dry_run:
            settle_products(ctx, refused)
        elif refused:
            ctx.report.counts[ENTITY].rejected += len(refused)
        ctx.report.counts[ENTITY].unchanged += len(unchanged)
        ctx.settled[ENTITY].update(r["key"] for r in unchanged)
        if unchanged and not ctx.options.dry_run:
            ctx.ledger.record(ENTITY, [{"key": r["key"], "state": "synced",
                                        "source_hash": r["_hash"]} for r in unchanged],
                              run_id=ctx.run_id)
        return imports, removals

    # -- the step ---------------------------------------------------------------------

    def sync(self, chunks: Iterable[pd.DataFrame]) -> None:
        """Every changed product, chunk by chunk: validated, planned, then imported (all
        the chunks' records stream through one pipeline, so imports stay full) or
        removed (batches of up to 5000 keys)."""
        ctx = self.ctx
        removals = Removals(ctx)

        def to_import() -> Iterator[dict[str, Any]]:
            for pending in chunks:
                imports, removing = self.plan(self.validate(pending))
                del pending
                if ctx.options.dry_run:
                    ctx.report.counts[ENTITY].sent += len(imports) + len(removing)
                    continue
                for item in removing:
                    if self._usable(item):
                        removals.add(item)
                for item in imports:
                    if self._usable(item):
                        yield item

        if ctx.options.dry_run:
            for _ in to_import():
                pass
            return
        CatalogImport(ctx).run(to_import())
        removals.flush()

    def _usable(self, item: dict[str, Any]) -> bool:
        """Whether the item's collection is ready; if not, the item fails (tried again
        by the next run) with the reason."""
        why = self.ready(item["collection"])
        if why is None:
            return True
        settle_products(self.ctx, [(item, Outcome("failed", "collection_unavailable", why))])
        return False
