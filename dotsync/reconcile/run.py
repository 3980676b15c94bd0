"""One reconciliation: read back, compare, report (see the package docstring).

What is read, in this order, each call counted against ``max_calls``:

1. the insight collections with their record counts (1 call): the collection's count is
   compared with the orders the ledger has ``synced``;
2. contacts and insight records modified since the last reconciliation, in pages
   (``~modified``); with ``full``, every contact and record;
3. when the collection's count disagrees with the ledger (records deleted in Dotdigital
   do not show as modified), every record of the collection, to name the missing ones;
4. a random sample of ``sample`` records per entity not read above, one call each;
   when reading every record of an entity back takes no more calls than its sample
   would (a small store), every record is read instead.

A record is *missing* when the ledger says ``synced`` and Dotdigital has none, *extra*
when the collection holds a key the ledger does not know (contacts are not reported
extra: forms and other integrations add them), *different* when a field dotsync owns
differs from what it would send (:mod:`.compare`, :mod:`.expected`).

The last reconciliation's start is saved only when the run read all it meant to: an
incomplete run (budget reached) is read again from the same moment next time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dotsync.config import Settings
from dotsync.reconcile.budget import BudgetExhausted, CallBudget
from dotsync.reconcile.compare import contact_differences, record_differences
from dotsync.reconcile.expected import Expected, expected_contacts, expected_orders
from dotsync.reconcile.marker import last_reconciliation, set_last_reconciliation
from dotsync.reconcile.result import Finding, ReconcileResult
from dotsync.store import Store
from dotsync.sync.engine import Options, SyncEngine

ENTITIES: tuple[str, ...] = ("contacts", "orders")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReconcileOptions:
    full: bool = False
    #: Records per entity read back one by one, among those not read in pages.
    sample: int = 100
    max_calls: int = 1000
    page_size: int = 1000
    entities: tuple[str, ...] = ENTITIES
    rng: random.Random = field(default_factory=random.Random)
    now: Callable[[], datetime] = _now
    #: Told the records checked so far, before each API call and at the end (the
    #: ``dotsync reconcile`` progress line).
    on_progress: Callable[[int], None] | None = None


def reconcile(store: Store, settings: Settings, client: Any,
              options: ReconcileOptions | None = None) -> ReconcileResult:
    """Compare the ledger with the account ``client`` reaches; writes only the moment."""
    options = options or ReconcileOptions()
    unknown = set(options.entities) - set(ENTITIES)
    if unknown:
        raise ValueError(f"reconcile: unknown entities {sorted(unknown)}; use "
                         f"{', '.join(ENTITIES)}")
    if options.sample < 0:
        raise ValueError(f"reconcile: sample must be 0 or more, got {options.sample}")
    started = options.now()
    since = None if options.full else last_reconciliation(store)
    result = ReconcileResult(started_at=started, mode="full" if options.full else "incremental",
                             since=since, sample=options.sample, max_calls=options.max_calls)
    if since is None and not options.full:
        result.notes.append("first reconciliation: collection counts and a sample only; "
                            "from now on, records modified since are read back")
    on_progress = options.on_progress

    def progress() -> None:
        if on_progress is not None:
            on_progress(sum(t.checked for t in result.tallies.values()))

    budget = CallBudget(client, options.max_calls, on_take=progress)
    calls_before = dict(client.stats.calls)
    engine = SyncEngine(store, settings, None, options=Options(dry_run=True), flow="reconcile")
    run = _Run(engine, client, budget, options, since, result)
    try:
        for entity in ("orders", "contacts"):
            if entity in options.entities:
                getattr(run, entity)()
    except BudgetExhausted as exc:
        result.complete = False
        result.incomplete_reason = str(exc)
    progress()
    result.api_calls = budget.used
    result.calls = {k: v - calls_before.get(k, 0) for k, v in client.stats.calls.items()
                    if v - calls_before.get(k, 0)}
    result.finished_at = options.now()
    if result.complete:
        set_last_reconciliation(store, started)
    return result


class _Run:
    def __init__(self, engine: SyncEngine, client: Any, budget: CallBudget,
                 options: ReconcileOptions, since: datetime | None,
                 result: ReconcileResult) -> None:
        self.engine = engine
        self.client = client
        self.budget = budget
        self.options = options
        self.since = since
        self.result = result
        self.collection = engine.settings.insight_collection

    def _before(self, what: str) -> Callable[[], None]:
        return lambda: self.budget.take(what)

    def _compare(self, entity: str, held: dict[str, dict[str, Any]], expected: Expected,
                 how: dict[str, str], differ: Callable[[Any, Any], list[str]]) -> None:
        tally = self.result.tally(entity)
        for key, remote in held.items():
            if key in expected.changed:
                tally.changed_since_sent += 1
                continue
            sent = expected.payloads.get(key)
            if sent is None:
                continue
            tally.checked += 1
            fields = differ(sent, remote)
            if fields:
                self.result.add(Finding(entity, key, "different", fields, how.get(key, "")))

    def _listing_is_cheaper(self, records: int, page_size: int) -> bool:
        """Reading every record back costs no more calls than the sample would: then it
        is read whole (a small store), which checks everything, missing records too."""
        pages = max(1, -(-records // page_size))
        return 0 < pages <= min(self.options.sample, records)

    def _sample(self, candidates: Iterable[str]) -> list[str]:
        pool = sorted(candidates)
        return self.options.rng.sample(pool, min(self.options.sample, len(pool)))

    # ------------------------------------------------------------------ orders
    def orders(self) -> None:
        ledger = self.engine.ledger
        synced = {k for k, _ in ledger.states_in("orders", ["synced"])}
        self.result.tally("orders")
        self.budget.take("listing the insight collections")
        counts = {c.name: c.record_count for c in self.client.list_insight_collections()}
        remote_count = counts.get(self.collection)
        self.result.collections.append({"collection": self.collection,
                                        "remote": remote_count, "ledger": len(synced)})
        if remote_count is None:
            for key in sorted(synced):
                self.result.add(Finding("orders", key, "missing", [], "count"))
            if synced:
                self.result.notes.append(f"collection {self.collection} does not exist in "
                                         "Dotdigital")
            return
        listing = (self.options.full or remote_count != len(synced)
                   or self._listing_is_cheaper(len(synced), min(self.options.page_size, 1000)))
        # Compared page by page (only the keys are kept), so a full read-back of
        # millions of records holds one page of them at a time.
        seen: set[str] = set()
        since = None if listing else self.since
        if listing or since is not None:
            label = "listing" if listing else "modified"
            pages = self.client.insight_pages(self.collection, since,
                                              limit=min(self.options.page_size, 1000),
                                              before_call=self._before(f"{label} of orders"))
            for page in pages:
                keys = [str(r.get("key")) for r in page]
                known = ledger.states("orders", keys)
                held: dict[str, dict[str, Any]] = {}
                for key, record in zip(keys, page, strict=True):
                    state = known.get(key)
                    if state is None:
                        self.result.add(Finding("orders", key, "extra", [], label))
                    elif state == "synced":
                        held[key] = record
                seen.update(held)
                self._compare("orders", held, expected_orders(self.engine, held),
                              dict.fromkeys(held, label), record_differences)
        if listing:
            for key in sorted(synced - seen):
                self.result.add(Finding("orders", key, "missing", [], "listing"))
            return
        picked = self._sample(synced - seen)
        expected = expected_orders(self.engine, picked)
        sampled: dict[str, dict[str, Any]] = {}
        for key in picked:
            sent = expected.payloads.get(key)
            if sent is None:
                if key in expected.changed:
                    self.result.tally("orders").changed_since_sent += 1
                continue
            self.budget.take("the sample of orders")
            email = sent["contactIdentity"]["value"]
            remote = self.client.get_contact_insight(self.collection, email, key)
            if remote is None:
                self.result.tally("orders").checked += 1
                self.result.add(Finding("orders", key, "missing", [], "sample"))
            else:
                sampled[key] = remote
        self._compare("orders", sampled, expected, dict.fromkeys(sampled, "sample"),
                      record_differences)

    # ------------------------------------------------------------------ contacts
    def contacts(self) -> None:
        ledger = self.engine.ledger
        synced = {k for k, _ in ledger.states_in("contacts", ["synced"])}
        self.result.tally("contacts")
        seen: set[str] = set()
        listing = self.options.full or self._listing_is_cheaper(len(synced),
                                                                self.options.page_size)
        since = None if listing else self.since
        if listing or since is not None:
            label = "listing" if listing else "modified"
            pages = self.client.contact_pages(since, limit=self.options.page_size,
                                              before_call=self._before(f"{label} of contacts"))
            for page in pages:
                held = {key: contact for contact in page
                        if (key := _contact_key(contact)) in synced}
                seen.update(held)
                self._compare("contacts", held, expected_contacts(self.engine, held),
                              dict.fromkeys(held, label), contact_differences)
        if listing:
            for key in sorted(synced - seen):
                self.result.add(Finding("contacts", key, "missing", [], "listing"))
            return
        picked = self._sample(k for k in synced - seen if not k.startswith("mobile:"))
        sampled: dict[str, dict[str, Any]] = {}
        for key in picked:
            self.budget.take("the sample of contacts")
            remote = self.client.find_contact("email", key)
            if remote is None:
                self.result.tally("contacts").checked += 1
                self.result.add(Finding("contacts", key, "missing", [], "sample"))
            else:
                sampled[key] = remote
        expected = expected_contacts(self.engine, sampled)
        self._compare("contacts", sampled, expected, dict.fromkeys(sampled, "sample"),
                      contact_differences)


def _contact_key(contact: dict[str, Any]) -> str:
    """The ledger key of a contact Dotdigital returned (see ``payloads.contact_key``)."""
    ids = contact.get("identifiers") or {}
    email = ids.get("email")
    if isinstance(email, str) and email:
        return email.strip().lower()
    mobile = ids.get("mobileNumber")
    return f"mobile:+{str(mobile).lstrip('+')}" if mobile else ""
