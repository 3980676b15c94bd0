"""The sync's steps and what each needs, declared once.

The Prefect flow (:mod:`dotsync.flows.sync`, each step a task of :mod:`dotsync.tasks.sync_steps`)
and the plain runner (:mod:`dotsync.sync.run`) both iterate :func:`plan`, so the order
is written here only: contacts before the orders and certificates that need them;
the send cap decided once the orders and certificates are read, before any send;
confirmations after the orders that owe them.

An order needs its contact to *exist* in Dotdigital; a certificate's recipient and a
confirmation need *this run's* contact settled. So the contacts go in two steps:
``push-contacts`` reads, plans and submits them (the changed customers', then the
e-mail-only contacts of the changed orders and certificates; and the erasures), after which
every contact the ledger says is ``synced`` is in Dotdigital, whatever this run's
imports still in flight will change in it; ``settle-contacts`` waits for those imports.
``push-orders`` runs in between: the orders of contacts that already exist go while
the contact imports run; ``push-orders-of-new-contacts``, after ``settle-contacts``,
sends the rest (contacts new in this run, guests).

Adding an entity is one step module under :mod:`dotsync.sync.steps` and one
:class:`Step` here naming what it needs (``docs/ARCHITECTURE.md`` works an example).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from dotsync.sync.changed import (
    Changes,
    ContactsSubmitted,
    prepare_certificates,
    start_contacts,
    sync_carts,
    sync_certificates,
    sync_contacts,
    sync_orders_left,
    sync_orders_of_existing_contacts,
    sync_products,
)
from dotsync.sync.engine import SyncEngine
from dotsync.sync.entities import ENTITIES
from dotsync.sync.guests import GUEST_COLUMNS

#: The entities a run may be limited to: :data:`dotsync.sync.entities.ENTITIES`.
__all__ = ["ENTITIES", "SYNC_STEPS", "Step", "SyncRun", "check_order", "plan", "run_steps"]


class SyncRun:
    """What the steps of one sync hand each other besides the engine: the run's windows
    over the change stamps, the entities chosen, and the certificates the send cap is
    decided on. (A plain object, not a dataclass: Prefect hands task arguments over
    as they are, and a step's result must reach the next step in place.)"""

    def __init__(self, changes: Changes, entities: Iterable[str] = ENTITIES) -> None:
        self.changes = changes
        self.entities = frozenset(entities)
        self.valid_certificates: pd.DataFrame | None = None
        #: This run's contacts once submitted, until their imports are settled.
        self.contacts: ContactsSubmitted | None = None
        #: Whether ``push-orders`` left orders for after the contacts settle.
        self.orders_left = True


@dataclass(frozen=True)
class Step:
    """One step of the sync: its task name, what it runs, and the steps it needs."""

    name: str
    run: Callable[[SyncEngine, SyncRun], None]
    #: Steps that must have run first (when they run at all: a run limited to some
    #: entities leaves the others out).
    needs: tuple[str, ...] = ()
    #: The entity that must be chosen for the step to run (None: every run).
    entity: str | None = None
    #: Transient failures retried as a task (the send cap's answer would not change).
    retried: bool = True
    doc: str = field(default="", compare=False)


def _guests_of(run: SyncRun) -> tuple[str, ...]:
    """The entities of this run whose changed records may need an e-mail-only contact
    (pushed with the customers' contacts)."""
    return tuple(e for e in GUEST_COLUMNS if e in run.entities)


def _contacts(engine: SyncEngine, run: SyncRun) -> None:
    run.contacts = start_contacts(engine, run.changes, _guests_of(run))


def _settle_contacts(engine: SyncEngine, run: SyncRun) -> None:
    submitted, run.contacts = run.contacts, None
    if submitted is None or submitted.broken:
        # A retried task whose imports can no longer be followed: the whole push again
        # (contacts are idempotent; their mark has not moved).
        sync_contacts(engine, run.changes, _guests_of(run))
        return
    try:
        submitted.settle()
    except BaseException:
        run.contacts = submitted  # a retry finds it (broken when it cannot resume)
        raise


def _orders(engine: SyncEngine, run: SyncRun) -> None:
    run.orders_left = sync_orders_of_existing_contacts(engine, run.changes)


def _orders_left(engine: SyncEngine, run: SyncRun) -> None:
    sync_orders_left(engine, run.changes, run.orders_left)


def _prepare_certificates(engine: SyncEngine, run: SyncRun) -> None:
    run.valid_certificates = prepare_certificates(engine, run.changes)


def _send_cap(engine: SyncEngine, run: SyncRun) -> None:
    engine.check_send_cap(run.valid_certificates, confirmations="orders" in run.entities)


def _confirmations(engine: SyncEngine, run: SyncRun) -> None:
    engine.send_confirmations()


def _certificates(engine: SyncEngine, run: SyncRun) -> None:
    if run.valid_certificates is not None:
        sync_certificates(engine, run.changes, run.valid_certificates)


def _products(engine: SyncEngine, run: SyncRun) -> None:
    sync_products(engine, run.changes)


def _order_programs(engine: SyncEngine, run: SyncRun) -> None:
    engine.order_programs.enrol()


def _carts(engine: SyncEngine, run: SyncRun) -> None:
    sync_carts(engine, run.changes)


#: Every step of the sync by name, in the order they are declared (and run).
SYNC_STEPS: dict[str, Step] = {s.name: s for s in (
    Step("push-contacts", _contacts, entity="contacts",
         doc="Changed customers, merged by e-mail, read and submitted as contacts, then "
             "in the same stream the e-mail-only contacts of the changed orders' guests "
             "and certificates' recipients, and the erasures they ask for: before any "
             "order or certificate is sent. Their imports may still run when it ends."),
    Step("push-orders", _orders, needs=("push-contacts",), entity="orders",
         doc="Changed orders whose contact is already in Dotdigital, chunk by chunk, "
             "validated and sent while this run's contact imports run."),
    Step("settle-contacts", _settle_contacts, needs=("push-contacts",), entity="contacts",
         doc="This run's contact imports followed to their end and settled."),
    Step("push-orders-of-new-contacts", _orders_left,
         needs=("push-orders", "settle-contacts"), entity="orders",
         doc="The changed orders left waiting for a contact of this run (a customer's "
             "or a guest's), once the contacts are settled; a guest the contacts step "
             "could not know is pushed first."),
    Step("prepare-certificates", _prepare_certificates, needs=("settle-contacts",),
         entity="certificates",
         doc="Changed certificates, validated, their recipients' contacts pushed when "
             "the contacts step did not: what the send cap is decided on."),
    Step("check-send-cap", _send_cap,
         needs=("push-orders-of-new-contacts", "prepare-certificates"),
         retried=False,
         doc="How many confirmations and certificates this run would send; more than the "
             "cap fails the run before the first one."),
    Step("send-order-confirmations", _confirmations,
         needs=("push-orders-of-new-contacts", "check-send-cap"),
         entity="orders", doc="The confirmations owed, exactly once."),
    Step("send-certificates", _certificates,
         needs=("prepare-certificates", "check-send-cap"), entity="certificates",
         doc="The prepared certificates, exactly once."),
    Step("push-products", _products, entity="products",
         doc="Changed products into their stores' catalogue collections: enabled ones "
             "imported, disabled and deleted ones removed. Needs no contact."),
    Step("enrol-order-events", _order_programs, needs=("push-orders-of-new-contacts",),
         entity="orders",
         doc="The programs (DOTSYNC_PROGRAMS) the orders sent this run start, once per "
             "event and order."),
    Step("push-carts", _carts, needs=("settle-contacts", "push-orders-of-new-contacts"),
         entity="carts",
         doc="Changed carts as CartInsight records, after their contacts and the orders "
             "that may have converted them; idle carts enrolled, exactly once."),
)}


def check_order(steps: Iterable[Step]) -> None:
    """Fail when a step is declared before one it needs, or needs one that is not
    declared: the declaration order is the run order."""
    seen: set[str] = set()
    declared = {s.name for s in steps}
    for step in steps:
        for need in step.needs:
            if need not in declared:
                raise ValueError(f"step {step.name!r} needs {need!r}, which is not declared")
            if need not in seen:
                raise ValueError(f"step {step.name!r} is declared before {need!r}, "
                                 "which it needs")
        seen.add(step.name)


def plan(entities: Iterable[str] = ENTITIES) -> list[Step]:
    """The steps a sync limited to ``entities`` runs, in order."""
    chosen = set(entities)
    unknown = sorted(chosen - set(ENTITIES))
    if unknown:
        raise ValueError(f"unknown entities {unknown}; use {', '.join(ENTITIES)}")
    steps = list(SYNC_STEPS.values())
    check_order(steps)
    return [s for s in steps if s.entity is None or s.entity in chosen]


def run_steps(engine: SyncEngine, run: SyncRun,
              call: Callable[[Step, SyncEngine, SyncRun], None] | None = None) -> None:
    """Run the planned steps of ``run.entities`` in order, each through ``call`` (the
    flow makes each a Prefect task; plain Python calls the step); the windows over
    the change stamps that a failed step left open are closed, marks unmoved."""
    try:
        for step in plan(run.entities):
            if call is None:
                step.run(engine, run)
            else:
                call(step, engine, run)
    finally:
        run.changes.abandon()
