"""The sync's steps are declared once, in an order that respects what each needs, and
the flow and the plain runner both run that declaration."""

from __future__ import annotations

import dataclasses

import pytest

from dotsync.sync import registry
from dotsync.sync.registry import ENTITIES, SYNC_STEPS, Step, check_order, plan


def names(steps: list[Step]) -> list[str]:
    return [s.name for s in steps]


def test_every_step_comes_after_the_steps_it_needs() -> None:
    order = names(plan())
    for step in plan():
        for need in step.needs:
            assert order.index(need) < order.index(step.name), (step.name, need)


def test_contacts_first_the_cap_before_any_send_confirmations_after_orders() -> None:
    order = names(plan())
    assert order[0] == "push-contacts"
    cap = order.index("check-send-cap")
    assert cap < order.index("send-order-confirmations")
    assert cap < order.index("send-certificates")
    assert order.index("push-orders") < order.index("send-order-confirmations")
    assert order.index("push-contacts") < order.index("prepare-certificates")


def test_orders_of_existing_contacts_overlap_the_contact_imports_and_the_rest_wait() -> None:
    """An order needs its contact to exist: the orders step runs once the contacts are
    submitted, before their imports are settled; what needs this run's contacts
    settled (orders of new contacts, certificates, confirmations) comes after."""
    order = names(plan())
    settled = order.index("settle-contacts")
    assert order.index("push-contacts") < order.index("push-orders") < settled
    assert SYNC_STEPS["push-orders"].needs == ("push-contacts",)
    for later in ("push-orders-of-new-contacts", "prepare-certificates",
                  "send-order-confirmations", "send-certificates", "enrol-order-events",
                  "push-carts"):
        assert order.index(later) > settled, later
    assert "settle-contacts" in SYNC_STEPS["push-orders-of-new-contacts"].needs


@pytest.mark.parametrize("chosen, expected", [
    (["contacts"], ["push-contacts", "settle-contacts", "check-send-cap"]),
    (["orders"], ["push-orders", "push-orders-of-new-contacts", "check-send-cap",
                  "send-order-confirmations", "enrol-order-events"]),
    (["certificates"], ["prepare-certificates", "check-send-cap", "send-certificates"]),
    (["carts"], ["check-send-cap", "push-carts"]),
])
def test_a_run_limited_to_some_entities_runs_only_their_steps_and_the_cap(
        chosen: list[str], expected: list[str]) -> None:
    assert names(plan(chosen)) == expected


def test_an_unknown_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entities"):
        plan(["baskets"])


def test_a_step_declared_before_what_it_needs_is_refused() -> None:
    steps = list(SYNC_STEPS.values())
    swapped = [steps[1], steps[0], *steps[2:]]
    with pytest.raises(ValueError, match="declared before"):
        check_order(swapped)
    with pytest.raises(ValueError, match="not declared"):
        check_order([dataclasses.replace(steps[0], needs=("push-wishlists",))])


def test_carts_come_after_the_contacts_and_the_orders_that_convert_them() -> None:
    order = names(plan())
    assert order.index("push-contacts") < order.index("push-carts")
    assert order.index("push-orders") < order.index("push-carts")


def test_the_runner_runs_the_declared_steps_in_order_and_closes_the_windows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    for name, step in list(SYNC_STEPS.items()):
        monkeypatch.setitem(SYNC_STEPS, name, dataclasses.replace(
            step, run=lambda _engine, _run, name=name: ran.append(name)))

    class Changes:
        abandoned = False

        def abandon(self) -> None:
            self.abandoned = True

    changes = Changes()
    run = registry.SyncRun(changes, ENTITIES)  # type: ignore[arg-type]
    registry.run_steps(None, run)  # type: ignore[arg-type]
    assert ran == names(plan())
    assert changes.abandoned


def test_the_flow_offers_the_registry_entities() -> None:
    from dotsync.flows.sync import ALL_ENTITIES

    assert ALL_ENTITIES == ENTITIES


def test_the_flow_has_one_task_per_declared_step() -> None:
    from dotsync.tasks.sync_steps import SYNC_TASKS

    assert list(SYNC_TASKS) == list(SYNC_STEPS)
    assert [t.name for t in SYNC_TASKS.values()] == list(SYNC_STEPS)
    retried = {name for name, t in SYNC_TASKS.items() if t.retries}
    assert retried == {s.name for s in SYNC_STEPS.values() if s.retried}
    assert "check-send-cap" not in retried


@pytest.mark.parametrize("certificates", [False, True])
def test_the_backfill_steps_are_declared_once_and_both_runners_follow_them(
        monkeypatch: pytest.MonkeyPatch, certificates: bool) -> None:
    """The plain runner and the flow's tasks run the same declared backfill steps,
    contacts first, certificates only when asked."""
    from dotsync.tasks import sync_steps

    from dotsync.sync import backfill, run

    expected = ["backfill-contacts", "backfill-orders"] + (
        ["backfill-certificates"] if certificates else [])
    assert [s.name for s in backfill.backfill_steps(certificates)] == expected
    assert [t.name for t in sync_steps.BACKFILL_TASKS.values()] == [
        s.name for s in backfill.BACKFILL_STEPS]

    ran: list[tuple[str, bool]] = []
    monkeypatch.setattr(backfill, "BACKFILL_STEPS", tuple(
        dataclasses.replace(s, run=lambda _job, c, name=s.name: ran.append((name, c)))
        for s in backfill.BACKFILL_STEPS))

    class Engine:
        store = None

        def connect(self) -> None:
            pass

        def finish(self) -> str:
            return "finished"

    monkeypatch.setattr(run, "Backfill", lambda engine, **_kw: object())
    assert run.run_backfill(Engine(), include_certificates=certificates) == "finished"  # type: ignore[arg-type]
    assert ran == [(name, certificates) for name in expected]
