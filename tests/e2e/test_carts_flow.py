"""The ``carts`` flow as its deployment runs it: preflight (the cart program exists and
is Active) and the carts step as a Prefect task, from an empty account."""

from __future__ import annotations

from dotsync.store import Ledger
from dotsync.sync.carts_plan import CART_COLLECTION, LEDGER_ENTITY
from tests.e2e.helpers import customer, stage

PROGRAM = 4343


def _enrolled(env) -> list[int]:
    """How many times each contact was enrolled, every enrolment processed (the emulator
    processes one when it is read; this account's took ``import_delay``)."""
    state = env.emulator.state
    with state.lock:
        state.programs.complete_all()
        for enrolment in state.programs.enrolments.values():
            state.programs.settle(state, enrolment)
    return sorted(state.programs.enrolled(PROGRAM).values())


def _cart(i: int, email: str) -> dict:
    # Idle for months: due at the first run.
    return {"cart_id": f"K{i}", "customer_email": email, "currency": "GBP", "total": "9.50",
            "created_at": "2026-01-02T08:00:00Z", "updated_at": "2026-01-02T08:10:00Z",
            "lines": [{"sku": "TEA", "name": "Tea", "quantity": 1, "unit_price": 9.5}]}


def test_the_carts_flow_enrols_an_idle_cart_after_the_sync_pushed_its_contact(
        env, monkeypatch) -> None:
    from dotsync.flows.carts import carts

    env.emulator.state.add_program(PROGRAM, "Abandoned cart")
    monkeypatch.setenv("DOTSYNC_CART_PROGRAM_ID", str(PROGRAM))
    stage(env.store, "customers", [customer(1)])
    stage(env.store, "carts", [_cart(1, "customer1@example.com")])

    first = carts.with_options(retries=0)(poll_interval=0.02, preflight=True,
                                           return_state=True)
    assert first.is_completed(), first.message
    assert Ledger(env.store).states("carts") == {"K1": "pending"}, "waits for its contact"
    assert _enrolled(env) == []

    assert env.sync(entities=["contacts"]).is_completed()
    second = carts.with_options(retries=0)(poll_interval=0.02, preflight=True,
                                            return_state=True)
    assert second.is_completed(), second.message
    records = env.emulator.state.insight_records(CART_COLLECTION)
    assert [r["key"] for r in records] == ["K1"]
    assert Ledger(env.store).states(LEDGER_ENTITY) == {"K1": "synced"}
    assert _enrolled(env) == [1]


def test_the_carts_flow_fails_before_any_write_when_the_program_is_not_active(
        env, monkeypatch) -> None:
    from dotsync.flows.carts import carts

    env.emulator.state.add_program(PROGRAM, "Abandoned cart", status="Draft")
    monkeypatch.setenv("DOTSYNC_CART_PROGRAM_ID", str(PROGRAM))
    stage(env.store, "customers", [customer(1)])
    stage(env.store, "carts", [_cart(1, "customer1@example.com")])
    state = carts.with_options(retries=0)(poll_interval=0.02, preflight=True,
                                          return_state=True)
    assert state.is_failed()
    assert "programs" in state.message and "Draft" in state.message
    assert Ledger(env.store).states("carts") == {}
