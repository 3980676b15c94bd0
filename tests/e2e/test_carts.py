"""Carts end to end against the emulator, from an empty account (no collection, no
program enrolment): the CartInsight record and its phase, and the abandoned-cart
enrolment exactly once (issue 16's acceptance).

Runs go through :func:`dotsync.sync.run.run_sync` (the flow's steps without Prefect);
the clock the cart plan reads is the run's ``Options.now``, so "an hour later" is a
parameter, not a sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dotsync import failpoints
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.carts_plan import CART_COLLECTION, LEDGER_ENTITY
from dotsync.sync.engine import SyncEngine
from dotsync.sync.run import run_sync
from tests.e2e.helpers import customer, order, stage
from tests.reliability.harness import make_client, settings_for, sync_options

PROGRAM = 4242
CREATED = "2026-10-05T09:00:00Z"
UPDATED = "2026-10-05T09:30:00Z"
SOON = pd.Timestamp("2026-10-05T09:45:00Z")   # 15 minutes idle: not yet
LATER = pd.Timestamp("2026-10-05T11:00:00Z")  # 90 minutes idle: enrol
NEXT_DAY = pd.Timestamp("2026-10-06T12:00:00Z")


def cart(i: int, email: str, **over: Any) -> dict[str, Any]:
    row = {"cart_id": f"K{i}", "customer_email": email, "currency": "GBP",
           "subtotal": "24.00", "total": "24.00", "url": f"https://shop.example.com/c/{i}",
           "created_at": CREATED, "updated_at": UPDATED,
           "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": 12.0}]}
    row.update(over)
    return row


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(random_seed=5)) as server:
        server.state.add_program(PROGRAM, "Abandoned cart")
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'carts.db'}")
    yield s
    s.dispose()


def run(store: Store, emulator: EmulatorServer, now: pd.Timestamp,
        entities: tuple[str, ...] = ("contacts", "orders", "carts"), *,
        calls_in_flight: int | None = None, **settings: Any) -> Any:
    settings.setdefault("cart_program_id", PROGRAM)
    config = settings_for(emulator, store.url, **settings)
    over = {} if calls_in_flight is None else {"calls_in_flight": calls_in_flight}
    with make_client(config) as client:
        engine = SyncEngine(store, config, client,
                            options=sync_options(now=lambda: now, poll_interval=0.01, **over))
        return run_sync(engine, entities)


def enrolled(emulator: EmulatorServer) -> dict[str, int]:
    """How many times each contact (by e-mail) was enrolled into the cart program."""
    by_id = {c["contactId"]: c["identifiers"]["email"] for c in emulator.state.contacts()}
    return {by_id[i]: n for i, n in emulator.state.programs.enrolled(PROGRAM).items()}


def enrolment_calls(emulator: EmulatorServer) -> int:
    return sum(1 for c in emulator.state.calls()
               if c["method"] == "POST" and c["path"] == "/v2/programs/enrolments")


def cart_records(emulator: EmulatorServer) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in emulator.state.insight_records(CART_COLLECTION)}


def test_an_idle_cart_enrols_its_contact_once_across_reruns(store, emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com")])

    report = run(store, emulator, SOON)
    records = cart_records(emulator)
    assert records["K1"]["json"]["cartPhase"] == "ORDER_PENDING"
    assert emulator.state.insight()[CART_COLLECTION]["type"] == "cartInsight"
    assert enrolled(emulator) == {}, "15 minutes idle is not abandoned yet"
    assert report.counts["carts"].sent == 1

    run(store, emulator, LATER)  # the cart did not change: found by its due moment
    assert enrolled(emulator) == {"customer1@example.com": 1}
    ledger = Ledger(store).frame(LEDGER_ENTITY)
    row = ledger.set_index("key").loc["K1"]
    assert row["state"] == "synced" and row["dotdigital_ref"].startswith("enrolment ")
    assert row["error_code"] == "enrolment_processing", "read back by the next run"

    for _ in range(2):
        run(store, emulator, LATER)
    row = Ledger(store).frame(LEDGER_ENTITY).set_index("key").loc["K1"]
    assert row["error_code"] is None, "the next run read the enrolment back as finished"
    run(store, emulator, NEXT_DAY)
    assert enrolled(emulator) == {"customer1@example.com": 1}
    assert enrolment_calls(emulator) == 1


def test_a_cart_converted_before_the_idle_time_never_enrols(store, emulator) -> None:
    stage(store, "customers", [customer(1), customer(2)])
    stage(store, "carts", [cart(1, "customer1@example.com"),
                           cart(2, "customer2@example.com")])
    run(store, emulator, SOON)
    # Cart 1 says it converted; cart 2's contact placed an order the cart does not name.
    stage(store, "carts", [cart(1, "customer1@example.com", converted_order_id="O9",
                                updated_at="2026-10-05T09:40:00Z")])
    stage(store, "orders", [order(7, "customer2@example.com",
                                  placed_at="2026-10-05T09:35:00Z")])
    run(store, emulator, SOON)
    records = cart_records(emulator)
    assert records["K1"]["json"]["cartPhase"] == "ORDER_COMPLETE"
    assert records["K2"]["json"]["cartPhase"] == "ORDER_COMPLETE"
    run(store, emulator, LATER)
    run(store, emulator, NEXT_DAY)
    assert enrolled(emulator) == {}
    assert enrolment_calls(emulator) == 0


def test_a_cart_converting_after_its_enrolment_is_updated_to_complete(store, emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com")])
    run(store, emulator, LATER)
    assert enrolled(emulator) == {"customer1@example.com": 1}
    stage(store, "orders", [order(3, "customer1@example.com",
                                  placed_at="2026-10-05T11:30:00Z")])
    run(store, emulator, NEXT_DAY)
    assert cart_records(emulator)["K1"]["json"]["cartPhase"] == "ORDER_COMPLETE"
    assert enrolled(emulator) == {"customer1@example.com": 1}


def test_an_empty_cart_creates_no_contact(store, emulator) -> None:
    stage(store, "carts", [cart(1, "guest@example.com", lines=[]),
                           cart(2, "guest2@example.com", lines=[])])
    stage(store, "customers", [customer(3)])
    stage(store, "carts", [cart(3, "customer3@example.com", lines="[]")])
    report = run(store, emulator, LATER)
    emails = {c["identifiers"]["email"] for c in emulator.state.contacts()}
    assert emails == {"customer3@example.com"}
    assert cart_records(emulator) == {}
    assert enrolled(emulator) == {}
    assert report.counts["carts"].skipped_because == {"empty": 3}


def test_a_contact_without_consent_is_never_enrolled(store, emulator) -> None:
    stage(store, "customers", [customer(1, email_consent="unsubscribed"),
                               customer(2, email_consent=None),
                               customer(3)])
    stage(store, "carts", [cart(1, "customer1@example.com"),
                           cart(2, "customer2@example.com"),
                           cart(3, "customer3@example.com")])
    run(store, emulator, SOON)
    # Customer 3 unsubscribes in Dotdigital before the cart is idle: the staged consent
    # still says subscribed, Dotdigital's own status wins.
    with emulator.state.lock:
        emulator.state.find("email", "customer3@example.com").email_status = "unsubscribed"
    run(store, emulator, LATER)
    run(store, emulator, NEXT_DAY)
    assert enrolled(emulator) == {}
    assert enrolment_calls(emulator) == 0
    assert set(cart_records(emulator)) == {"K3"}
    row = Ledger(store).frame(LEDGER_ENTITY).set_index("key").loc["K3"]
    assert (row["state"], row["error_code"]) == ("rejected", "no_marketing_consent")


def test_a_second_cart_within_the_window_waits_for_it(store, emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com")])
    run(store, emulator, LATER)
    stage(store, "carts", [cart(2, "customer1@example.com", created_at="2026-10-05T11:10:00Z",
                                updated_at="2026-10-05T11:10:00Z")])
    run(store, emulator, pd.Timestamp("2026-10-05T13:00:00Z"))
    assert enrolled(emulator) == {"customer1@example.com": 1}, "within 24 hours"
    run(store, emulator, NEXT_DAY)
    assert enrolled(emulator) == {"customer1@example.com": 2}, "after 24 hours, by cart 2"


def test_a_lost_enrolment_answer_stays_in_doubt_and_is_never_repeated(store,
                                                                      emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com")])
    run(store, emulator, SOON)
    emulator.state.set_faults(script=[{"kind": "drop_after", "method": "POST",
                                       "path": "/v2/programs/enrolments"}])
    report = run(store, emulator, LATER)
    assert report.counts[LEDGER_ENTITY].in_doubt == 1
    assert enrolled(emulator) == {"customer1@example.com": 1}
    for now in (LATER, NEXT_DAY):
        run(store, emulator, now)
    assert Ledger(store).states(LEDGER_ENTITY) == {"K1": "in_doubt"}
    assert enrolment_calls(emulator) == 1


@pytest.mark.parametrize("width", [1, 8])
def test_a_lost_answer_among_calls_made_at_once_leaves_only_its_batch_in_doubt(
        store, emulator, width: int) -> None:
    # 60 contacts: three enrolment calls (25 + 25 + 10), made at once with width 8. The
    # one whose answer is lost (whichever reaches the emulator first) stays in doubt;
    # the others are settled; nobody is enrolled twice by the runs after.
    stage(store, "customers", [customer(i) for i in range(60)])
    stage(store, "carts", [cart(i, f"customer{i}@example.com") for i in range(60)])
    run(store, emulator, SOON)
    emulator.state.set_faults(script=[{"kind": "drop_after", "method": "POST",
                                       "path": "/v2/programs/enrolments"}])
    report = run(store, emulator, LATER, calls_in_flight=width)
    doubt = report.counts[LEDGER_ENTITY].in_doubt
    assert doubt in (25, 10), "one whole batch"
    assert report.counts[LEDGER_ENTITY].sent == 60 - doubt
    assert enrolled(emulator) == {f"customer{i}@example.com": 1 for i in range(60)}
    states = Ledger(store).states(LEDGER_ENTITY)
    for now in (LATER, NEXT_DAY):
        run(store, emulator, now, calls_in_flight=width)
    after = Ledger(store).states(LEDGER_ENTITY)
    assert sorted(after.values()).count("in_doubt") == doubt
    assert {k for k, s in after.items() if s == "in_doubt"} == {
        k for k, s in states.items() if s == "in_doubt"}
    assert enrolled(emulator) == {f"customer{i}@example.com": 1 for i in range(60)}
    assert enrolment_calls(emulator) == 3


def test_two_overlapping_runs_never_enrol_twice(store, emulator) -> None:
    stage(store, "customers", [customer(i) for i in range(6)])
    stage(store, "carts", [cart(i, f"customer{i}@example.com") for i in range(6)])
    run(store, emulator, SOON)
    # Run B starts and plans while run A has claimed and not yet enrolled.
    started = threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            run(store, emulator, LATER)
        except BaseException as exc:
            errors.append(exc)

    def at_claim() -> None:
        if not started.is_set():
            started.set()
            thread = threading.Thread(target=other)
            thread.start()
            thread.join(timeout=120)

    failpoints.hooks["after_enrol_claim"] = at_claim
    try:
        run(store, emulator, LATER)
    finally:
        failpoints.hooks.pop("after_enrol_claim", None)
    assert not errors
    assert started.is_set()
    assert enrolled(emulator) == {f"customer{i}@example.com": 1 for i in range(6)}


def test_status_rejects_and_trace_tell_a_carts_story(store, emulator) -> None:
    from dotsync.store.status import rejects, status
    from dotsync.trace import trace

    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com"),
                           cart(2, "customer1@example.com", currency="XXQ")])
    run(store, emulator, LATER)
    entities = status(store)["entities"]
    assert entities["carts"]["staged"] == 2
    assert entities["carts"]["synced"] == 1 and entities["carts"]["rejected"] == 1
    assert entities[LEDGER_ENTITY]["synced"] == 1
    problem = next(r for r in rejects(store, "carts") if r["id"] == "K2")
    assert "currency" in problem["field"]
    story = trace(store, settings_for(emulator, store.url), "carts", "K1")
    assert story["state"] == "synced"
    assert story["enrolment"]["ledger"]["state"] == "synced"
    assert story["staged"]["customer_email"] != "customer1@example.com", "masked"


def test_an_enrolment_still_processing_is_read_back_by_the_next_run(store, tmp_path) -> None:
    with EmulatorServer(EmulatorConfig(random_seed=5, import_delay=0.3)) as slow:
        slow.state.add_program(PROGRAM, "Abandoned cart")
        stage(store, "customers", [customer(1)])
        stage(store, "carts", [cart(1, "customer1@example.com")])
        run(store, slow, LATER)
        row = Ledger(store).frame(LEDGER_ENTITY).set_index("key").loc["K1"]
        assert (row["state"], row["error_code"]) == ("synced", "enrolment_processing")
        slow.state.programs.complete_all()
        run(store, slow, LATER)
        row = Ledger(store).frame(LEDGER_ENTITY).set_index("key").loc["K1"]
        assert (row["state"], row["error_code"]) == ("synced", None)
        assert enrolment_calls(slow) == 1


def test_a_contact_the_fault_report_names_is_settled_rejected_with_its_reason(
        store, emulator) -> None:
    stage(store, "customers", [customer(1), customer(2)])
    stage(store, "carts", [cart(1, "customer1@example.com"), cart(2, "customer2@example.com")])
    run(store, emulator, SOON)
    # Suppressed between the contact's read and the enrolment: Dotdigital's report says so.
    failpoints.hooks["after_enrol_claim"] = lambda: emulator.state.add_suppression(
        "customer2@example.com", "HardBounced")
    try:
        run(store, emulator, LATER)
    finally:
        failpoints.hooks.pop("after_enrol_claim", None)
    assert set(Ledger(store).frame(LEDGER_ENTITY)["error_code"]) == {"enrolment_processing"}
    run(store, emulator, LATER)  # reads the report back
    rows = Ledger(store).frame(LEDGER_ENTITY).set_index("key")
    assert (rows.loc["K1", "state"], rows.loc["K1", "error_code"]) == ("synced", None)
    assert (rows.loc["K2", "state"], rows.loc["K2", "error_code"]) == ("rejected",
                                                                        "enrolment_fault")
    assert "Suppressed" in rows.loc["K2", "error_message"]
    run(store, emulator, NEXT_DAY)
    assert enrolment_calls(emulator) == 1, "a fault is not retried by the next run"


def test_many_contacts_are_resolved_by_listing_not_one_call_each(store, emulator,
                                                                 monkeypatch) -> None:
    from dotsync.sync.steps import enrolments

    monkeypatch.setattr(enrolments, "BULK_RESOLVE", 3)
    stage(store, "customers", [customer(i) for i in range(8)])
    stage(store, "carts", [cart(i, f"customer{i}@example.com") for i in range(8)])
    report = run(store, emulator, LATER)
    assert len(enrolled(emulator)) == 8
    assert report.api_calls.get("contacts_modified_since") == 1
    assert "get_contact" not in report.api_calls


def test_an_in_doubt_enrolment_is_only_repeated_by_resend(store, emulator) -> None:
    stage(store, "customers", [customer(1)])
    stage(store, "carts", [cart(1, "customer1@example.com")])
    run(store, emulator, SOON)
    emulator.state.set_faults(script=[{"kind": "drop_before", "method": "POST",
                                       "path": "/v2/programs/enrolments"}])
    config = settings_for(emulator, store.url, cart_program_id=PROGRAM)
    with make_client(config, max_retries=0) as client:
        engine = SyncEngine(store, config, client,
                            options=sync_options(now=lambda: LATER, poll_interval=0.01))
        run_sync(engine, ("carts",))
    assert Ledger(store).states(LEDGER_ENTITY) == {"K1": "in_doubt"}
    assert enrolled(emulator) == {}
    run(store, emulator, NEXT_DAY)
    assert enrolled(emulator) == {}, "in doubt: never repeated by a run"
    with make_client(config) as client:
        engine = SyncEngine(store, config, client, flow="resend",
                            options=sync_options(now=lambda: NEXT_DAY))
        engine.carts.resend("K1")
    assert enrolled(emulator) == {"customer1@example.com": 1}
    assert Ledger(store).states(LEDGER_ENTITY) == {"K1": "synced"}


def test_a_failing_step_stops_its_background_read_back_and_the_next_run_reads(
        store, emulator) -> None:
    stage(store, "customers", [customer(i) for i in range(3)])
    stage(store, "carts", [cart(i, f"customer{i}@example.com") for i in range(3)])
    run(store, emulator, LATER)  # three contacts enrolled, read back by the next run
    stage(store, "carts", [cart(0, "customer0@example.com", updated_at="2026-10-05T10:55:00Z")])

    def boom() -> None:
        raise RuntimeError("the step fails while its import is read")

    failpoints.hooks["after_import_report"] = boom
    try:
        with pytest.raises(RuntimeError, match="the step fails"):
            run(store, emulator, LATER)
    finally:
        failpoints.hooks.pop("after_import_report", None)
    assert not [t for t in threading.enumerate() if t.name.startswith("dotsync-read-back")]
    codes = Ledger(store).frame(LEDGER_ENTITY).set_index("key")["error_code"]
    assert set(codes) == {"enrolment_processing"}, "nothing settled by the failed run"
    run(store, emulator, LATER)
    codes = Ledger(store).frame(LEDGER_ENTITY).set_index("key")["error_code"]
    assert codes.isna().all(), "read back by the next run"
    assert enrolment_calls(emulator) == 1, "one call for the three contacts, never repeated"
