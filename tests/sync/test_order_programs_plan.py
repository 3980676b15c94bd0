"""Programs started by order events (DOTSYNC_PROGRAMS): which (event, order) enrols."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync import order_programs_plan as plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def order(order_id: str, email: str = "jo@example.com", status: str = "Shipped",
          hours: int = 0, refunded: float = 0.0) -> plan.OrderEvent:
    return plan.OrderEvent(order_id, email, status, T0 + timedelta(hours=hours), refunded)


PROGRAMS = {"first_order": 1, "order_status:shipped": 2, "refunded": 3}


def _plan(orders, **kw):
    args = dict(programs=PROGRAMS, first_order_ids=plan.first_orders(orders),
                enrolled=set(), marketable={"jo@example.com": True, "ann@example.com": True},
                contact_ids={"jo@example.com": 10, "ann@example.com": 11}) | kw
    return plan.plan_event_enrolments(orders, **args)


def test_each_configured_event_enrols_once() -> None:
    orders = [order("O1"), order("O2", hours=1, refunded=5.0, status="complete")]
    decided = {(d.event, d.order_id): d for d in _plan(orders)}
    assert sorted(decided) == [("first_order", "O1"), ("order_status:shipped", "O1"),
                               ("refunded", "O2")]
    assert all(d.enrol and d.contact_id == 10 for d in decided.values())
    assert decided[("refunded", "O2")].program_id == 3
    again = _plan(orders, enrolled={plan.enrolment_key("first_order", "O1")})
    assert [d.reason for d in again if d.event == "first_order"] == [plan.ALREADY_ENROLLED]


def test_consent_and_contact_ids_are_required() -> None:
    orders = [order("O1"), order("O9", email="ann@example.com")]
    decided = _plan(orders, marketable={"jo@example.com": False, "ann@example.com": True},
                    contact_ids={"jo@example.com": 10})
    assert {(d.order_id, d.reason) for d in decided} == {
        ("O1", plan.NO_CONSENT), ("O9", plan.NO_CONTACT_ID)}


def test_a_later_order_is_not_a_first_order() -> None:
    everything = [order("O1"), order("O2", hours=5)]
    run = [everything[1]]  # only the later order changed this run
    decided = plan.plan_event_enrolments(
        run, programs={"first_order": 1}, first_order_ids=plan.first_orders(everything),
        enrolled=set(), marketable={"jo@example.com": True},
        contact_ids={"jo@example.com": 10})
    assert decided == []


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["a", "b", "c"])),
                min_size=1, max_size=30))
def test_exactly_one_first_order_per_contact(rows) -> None:
    orders = [order(f"O{i}", email=f"{who}@example.com", hours=h)
              for i, (h, who) in enumerate(rows)]
    firsts = plan.first_orders(orders)
    assert set(firsts) == {o.email for o in orders}
    for email, order_id in firsts.items():
        mine = [o for o in orders if o.email == email]
        first = next(o for o in mine if o.order_id == order_id)
        assert all((first.placed_at, first.order_id) <= (o.placed_at, o.order_id)
                   for o in mine)


def test_contacts_are_grouped_per_program_once() -> None:
    orders = [order("O1"), order("O2", hours=1), order("O3", email="ann@example.com")]
    grouped = plan.by_program(_plan(orders))
    assert grouped == {1: [10, 11], 2: [10, 11]}
