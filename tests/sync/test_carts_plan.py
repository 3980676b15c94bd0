"""The cart plan (pure functions): CartInsight records and phases, and which carts
enrol their contact into the abandoned-cart program."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync import carts_plan as plan

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINE = {"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": 4.5, "categories": []}


def cart(cart_id: str = "K1", email: str = "jo@example.com", updated: datetime = T0,
         created: datetime | None = None, lines: tuple = (LINE,),
         **extra: object) -> plan.Cart:
    return plan.Cart(cart_id, email, created or updated - timedelta(minutes=5), updated,
                     lines, **extra)  # type: ignore[arg-type]


def row(**overrides: object) -> dict:
    base = {"cart_id": "K1", "customer_email": "Jo@Example.com", "currency": "JPY",
            "lines": [LINE | {"unit_price": 1500.4}], "subtotal": 3000.8, "total": 3000.8,
            "url": "https://shop.example/cart/K1", "created_at": "2026-03-01T11:00:00Z",
            "updated_at": "2026-03-01T11:30:00+01:00"}
    return base | overrides


def test_cart_record_has_dotdigitals_cart_insight_shape() -> None:
    record = plan.cart_record(row(), plan.PHASE_PENDING)
    assert record == {
        "cartId": "K1", "cartUrl": "https://shop.example/cart/K1",
        "createdDate": "2026-03-01T11:00:00.000Z", "modifiedDate": "2026-03-01T10:30:00.000Z",
        "currency": "JPY", "subTotal": 3001.0, "grandTotal": 3001.0,
        "lineItems": [{"sku": "MUG", "name": "Mug", "unitPrice": 1500.0, "quantity": 2.0,
                       "totalPrice": 3001.0}],
        "cartPhase": "ORDER_PENDING"}


def test_cart_record_leaves_absent_values_out() -> None:
    record = plan.cart_record(row(url=None, subtotal=None, created_at=None,
                                  lines=[{"name": "Tip", "quantity": 1, "unit_price": 2}]),
                              plan.PHASE_COMPLETE)
    assert "cartUrl" not in record and "subTotal" not in record
    assert "createdDate" not in record
    assert record["lineItems"] == [{"name": "Tip", "unitPrice": 2.0, "quantity": 1.0,
                                    "totalPrice": 2.0}]
    assert record["cartPhase"] == "ORDER_COMPLETE"


def test_cart_from_row_normalises_the_email_and_times() -> None:
    c = plan.cart_from_row(row())
    assert c.email == "jo@example.com"
    assert c.updated_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert not c.empty
    assert plan.cart_from_row(row(lines=[])).empty


def test_converted_by_the_source_or_by_a_later_order() -> None:
    c = cart(created=T0)
    assert not plan.is_converted(c, {})
    assert plan.is_converted(cart(converted_order_id="O1"), {})
    assert plan.is_converted(cart(converted_at=T0), {})
    # An order placed before the cart existed is not this cart's conversion.
    assert not plan.is_converted(c, {"jo@example.com": [T0 - timedelta(seconds=1)]})
    assert plan.is_converted(c, {"jo@example.com": [T0]})
    assert not plan.is_converted(c, {"other@example.com": [T0]})
    assert plan.cart_phase(c, {"jo@example.com": [T0]}) == plan.PHASE_COMPLETE


def test_only_carts_with_lines_of_marketable_contacts_become_records() -> None:
    assert plan.wants_insight(cart(), marketable=True)
    assert not plan.wants_insight(cart(), marketable=False)
    assert not plan.wants_insight(cart(lines=()), marketable=True)
    assert not plan.wants_insight(cart(lines=(LINE | {"quantity": 0},)), marketable=True)


def _decide(c: plan.Cart, now: datetime = T0 + timedelta(hours=2), **kw: object):
    args = dict(now=now, idle=timedelta(minutes=60), reenrol=timedelta(hours=24),
                marketable=True, converted=False, cart_enrolled=False,
                last_contact_enrolment=None, contact_id=11) | kw
    return plan.decide_enrolment(c, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("c", "kw", "reason"),
    [
        (cart(), {}, None),
        (cart(), {"cart_enrolled": True}, plan.ALREADY_ENROLLED),
        (cart(lines=()), {}, plan.EMPTY),
        (cart(), {"converted": True}, plan.CONVERTED),
        (cart(), {"now": T0 + timedelta(minutes=59)}, plan.NOT_IDLE),
        (cart(), {"marketable": False}, plan.NO_CONSENT),
        (cart(), {"last_contact_enrolment": T0}, plan.RECENTLY_ENROLLED),
        (cart(), {"contact_id": None}, plan.NO_CONTACT_ID),
    ],
)
def test_each_rule_of_enrolment(c, kw, reason) -> None:
    decision = _decide(c, **kw)
    assert (decision.enrol, decision.reason) == (reason is None, reason)
    assert decision.contact_id == (11 if reason is None else None)


@settings(max_examples=200)
@given(idle=st.integers(1, 60 * 24 * 30), age_s=st.integers(-3600, 60 * 60 * 24 * 40))
def test_a_cart_is_idle_exactly_from_the_idle_time(idle: int, age_s: int) -> None:
    now = T0 + timedelta(seconds=age_s)
    decision = _decide(cart(), now=now, idle=timedelta(minutes=idle))
    assert decision.enrol == (timedelta(seconds=age_s) >= timedelta(minutes=idle))


@settings(max_examples=200)
@given(window_h=st.integers(0, 24 * 366), since_s=st.integers(0, 60 * 60 * 24 * 400))
def test_no_second_enrolment_within_the_window(window_h: int, since_s: int) -> None:
    now = T0 + timedelta(days=500)
    decision = _decide(cart(updated=T0), now=now, reenrol=timedelta(hours=window_h),
                       last_contact_enrolment=now - timedelta(seconds=since_s))
    assert decision.enrol == (timedelta(seconds=since_s) >= timedelta(hours=window_h))


def test_plan_enrols_a_contact_once_per_run_by_its_latest_cart() -> None:
    now = T0 + timedelta(hours=3)
    carts = [cart("K1", updated=T0), cart("K2", updated=T0 + timedelta(minutes=30)),
             cart("K3", "ann@example.com", updated=T0),
             cart("K4", "bo@example.com", updated=T0),
             cart("K5", "cy@example.com", updated=T0 + timedelta(hours=1))]
    decisions = plan.plan_enrolments(
        carts, now=now, idle_minutes=60, reenrol_hours=24,
        marketable={"jo@example.com": True, "ann@example.com": True,
                    "cy@example.com": True},
        orders_placed={"cy@example.com": [T0 + timedelta(hours=2)]},
        enrolled_carts=set(), last_enrolment={},
        contact_ids={"jo@example.com": 1, "ann@example.com": 2, "cy@example.com": 3})
    by_id = {d.cart_id: d for d in decisions}
    assert [k for k, d in sorted(by_id.items()) if d.enrol] == ["K2", "K3"]
    assert by_id["K1"].reason == plan.RECENTLY_ENROLLED
    assert by_id["K4"].reason == plan.NO_CONSENT
    assert by_id["K5"].reason == plan.CONVERTED


@settings(max_examples=100)
@given(st.lists(st.integers(1, 10**9), max_size=200), st.integers(1, 25))
def test_enrolment_batches(ids: list[int], size: int) -> None:
    batches = list(plan.enrolment_batches(ids, size))
    assert all(1 <= len(b) <= size for b in batches)
    flat = [i for b in batches for i in b]
    assert flat == list(dict.fromkeys(ids))


def test_batches_refuse_more_than_the_spec_allows() -> None:
    with pytest.raises(ValueError, match="1 to 25"):
        list(plan.enrolment_batches([1], 26))


def test_history_counts_sent_and_in_doubt_enrolments() -> None:
    rows = [{"key": "K1", "state": "synced", "sent_at": T0},
            {"key": "K2", "state": "in_doubt", "sent_at": None,
             "updated_at": "2026-03-02T00:00:00Z"},
            {"key": "K3", "state": "failed", "updated_at": T0 + timedelta(days=9)},
            {"key": "K4", "state": "synced", "sent_at": T0 - timedelta(days=1)}]
    emails = {"K1": "jo@example.com", "K2": "jo@example.com", "K3": "ann@example.com",
              "K4": "bo@example.com"}
    enrolled, last = plan.enrolment_history(rows, emails)
    assert enrolled == {"K1", "K2", "K4"}
    assert last == {"jo@example.com": datetime(2026, 3, 2, tzinfo=UTC),
                    "bo@example.com": T0 - timedelta(days=1)}
    # Fed back into the plan: neither jo's cart nor a new one of jo's enrols again.
    decisions = plan.plan_enrolments(
        [cart("K1"), cart("K5", updated=T0 + timedelta(hours=1))],
        now=T0 + timedelta(hours=3), idle_minutes=60, reenrol_hours=24,
        marketable={"jo@example.com": True}, orders_placed={}, enrolled_carts=enrolled,
        last_enrolment=last, contact_ids={"jo@example.com": 1})
    assert [(d.cart_id, d.reason) for d in decisions] == [
        ("K5", plan.RECENTLY_ENROLLED), ("K1", plan.ALREADY_ENROLLED)]
