"""Which orders start a program (``DOTSYNC_PROGRAMS``), decided by pure functions.

Events (SPEC §3): ``first_order`` (a contact's first order: no earlier order of the
contact is staged, and none was enrolled for this event before), ``order_status:<status>``
(the order's status, compared lower-cased) and ``refunded`` (any amount refunded). Each
(event, order) enrols at most once: its ledger key is :func:`enrolment_key`, and the
caller passes the keys already enrolled (or in doubt). The consent rule is the cart's: a
contact without marketing consent is never enrolled. Contact ids come from Dotdigital;
an order whose contact has none yet waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

FIRST_ORDER = "first_order"
REFUNDED = "refunded"
STATUS_PREFIX = "order_status:"

NO_CONSENT = "no_marketing_consent"
ALREADY_ENROLLED = "already_enrolled"
NO_CONTACT_ID = "waiting_for_contact_id"


@dataclass(frozen=True)
class OrderEvent:
    """The parts of a validated order the plan looks at."""

    order_id: str
    email: str
    status: str
    placed_at: datetime
    refunded: float = 0.0


@dataclass(frozen=True)
class EventEnrolment:
    event: str
    order_id: str
    program_id: int
    email: str
    enrol: bool
    reason: str | None = None
    contact_id: int | None = None

    @property
    def key(self) -> str:
        return enrolment_key(self.event, self.order_id)


def enrolment_key(event: str, order_id: str) -> str:
    """The ledger key of one (event, order) enrolment."""
    return f"{event}|{order_id}"


def events_of(order: OrderEvent, first_order_ids: Mapping[str, str]) -> list[str]:
    """The events an order raises; ``first_order_ids`` as :func:`first_orders` gives."""
    events = [f"{STATUS_PREFIX}{order.status.strip().lower()}"]
    if order.refunded > 0:
        events.append(REFUNDED)
    if first_order_ids.get(order.email) == order.order_id:
        events.append(FIRST_ORDER)
    return events


def first_orders(orders: Iterable[OrderEvent]) -> dict[str, str]:
    """Each contact's first order id: earliest ``placed_at``, then smallest id."""
    best: dict[str, tuple[datetime, str]] = {}
    for order in orders:
        seen = best.get(order.email)
        if seen is None or (order.placed_at, order.order_id) < seen:
            best[order.email] = (order.placed_at, order.order_id)
    return {email: order_id for email, (_, order_id) in best.items()}


def plan_event_enrolments(
    orders: Iterable[OrderEvent],
    *,
    programs: Mapping[str, int],
    first_order_ids: Mapping[str, str],
    enrolled: frozenset[str] | set[str],
    marketable: Mapping[str, bool],
    contact_ids: Mapping[str, int],
) -> list[EventEnrolment]:
    """One decision per (configured event, order) the orders raise.

    ``first_order_ids`` is :func:`first_orders` over every staged order of the contacts
    (not only this run's): an order is a first order only if it is the contact's first.
    """
    out: list[EventEnrolment] = []
    for order in orders:
        for event in events_of(order, first_order_ids):
            program_id = programs.get(event)
            if program_id is None:
                continue

            reason: str | None = None
            if enrolment_key(event, order.order_id) in enrolled:
                reason = ALREADY_ENROLLED
            elif not marketable.get(order.email, False):
                reason = NO_CONSENT
            elif order.email not in contact_ids:
                reason = NO_CONTACT_ID
            out.append(EventEnrolment(
                event, order.order_id, program_id, order.email, reason is None, reason,
                contact_ids[order.email] if reason is None else None))
    return out


def by_program(decisions: Iterable[EventEnrolment]) -> dict[int, list[int]]:
    """Contact ids to enrol per program (each contact once per program per run), ready
    for :func:`dotsync.sync.carts_plan.enrolment_batches`."""
    out: dict[int, list[int]] = {}
    for d in decisions:
        if d.enrol and d.contact_id is not None:
            ids = out.setdefault(d.program_id, [])
            if d.contact_id not in ids:
                ids.append(d.contact_id)
    return out
