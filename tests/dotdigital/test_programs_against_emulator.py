"""Programs, enrolments and record deletes: the client against the emulator over real
loopback HTTP, and the cart and catalogue plans' output accepted as sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dotsync.dotdigital import DotdigitalClient, NotFoundError
from dotsync.dotdigital.errors import ValidationError
from dotsync.dotdigital.models import INSIGHT_IMPORT_DONE
from dotsync.emulator import DEFAULT_PASSWORD, DEFAULT_USER, EmulatorConfig, EmulatorServer
from dotsync.sync import carts_plan, catalog_plan

SEED = {"programs": [{"id": 5, "name": "Abandoned cart"},
                     {"id": 6, "name": "Paused", "status": "Deactivated"}]}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=SEED, import_delay=0.05)) as srv:
        yield srv


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[DotdigitalClient]:
    with DotdigitalClient(DEFAULT_USER, DEFAULT_PASSWORD, endpoint=server.url,
                          backoff_base=0.01, backoff_max=0.05) as c:
        yield c


def _contact_id(client: DotdigitalClient, email: str) -> int:
    return int(client.upsert_contact({"identifiers": {"email": email}}).contact_id or 0)


def _finished(client: DotdigitalClient, enrolment_id: str):  # type: ignore[no-untyped-def]
    for _ in range(200):
        enrolment = client.get_enrolment(enrolment_id)
        if enrolment.finished:
            return enrolment
        time.sleep(0.01)
    raise AssertionError("the enrolment never finished")


def test_an_idle_cart_is_enrolled_and_its_faults_read_back(
        server: EmulatorServer, client: DotdigitalClient) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    line = {"name": "Mug", "quantity": 1, "unit_price": 4.5}
    carts = [carts_plan.Cart("K1", "jo@example.com", now - timedelta(hours=3),
                             now - timedelta(hours=2), (line,)),
             carts_plan.Cart("K2", "ann@example.com", now - timedelta(hours=3),
                             now - timedelta(hours=2), (line,))]
    ids = {c.email: _contact_id(client, c.email) for c in carts}
    server.state.add_suppression("ann@example.com")
    decisions = carts_plan.plan_enrolments(
        carts, now=now, idle_minutes=60, reenrol_hours=24,
        marketable=dict.fromkeys(ids, True), orders_placed={}, enrolled_carts=set(),
        last_enrolment={}, contact_ids=ids)
    due = [d.contact_id for d in decisions if d.enrol and d.contact_id is not None]
    for batch in carts_plan.enrolment_batches(due):
        enrolment = client.enrol_contacts(5, batch)
        assert _finished(client, enrolment.id).contacts == tuple(batch)
        faults = client.get_enrolment_faults(enrolment.id)
        assert [(f.contact_id, f.reason) for f in faults] == [
            (ids["ann@example.com"], "Unsubscribed")]
    with server.state.lock:
        assert server.state.programs.enrolled(5) == {ids["jo@example.com"]: 1}


def test_program_checks_for_preflight(client: DotdigitalClient) -> None:
    assert {(p.id, p.active) for p in client.list_programs()} == {(5, True), (6, False)}
    with pytest.raises(NotFoundError):
        client.get_program(404)
    jo = _contact_id(client, "jo@example.com")
    with pytest.raises(ValidationError) as caught:
        client.enrol_contacts(6, [jo])
    assert caught.value.error_code == "ERROR_PROGRAM_NOT_ACTIVE"


def test_a_catalogue_is_loaded_and_withdrawn_products_leave_it(
        server: EmulatorServer, client: DotdigitalClient) -> None:
    from dotsync.dotdigital import wait_for_import

    rows = [{"sku": f"S{i}", "store": "uk", "name": f"Item {i}", "price": "1.10",
             "currency": "GBP", "status": "enabled"} for i in range(3)]
    names = catalog_plan.collection_names(["uk"])
    first = catalog_plan.plan_catalog(rows, names)
    import_id = client.import_insight_data("catalog_uk", first.upserts["catalog_uk"],
                                           scope="account", type="catalog")
    report = wait_for_import(client, import_id, kind="insight", poll_interval=0.01,
                             min_poll=0.005, max_poll=0.05, timeout=30)
    assert report.status in INSIGHT_IMPORT_DONE and report.failures == ()
    stored = {r["key"]: r["json"] for r in server.state.insight_records("catalog_uk")}
    assert stored["S0"]["price_minor"] == 110 and stored["S0"]["price"] == 1.1
    later = catalog_plan.plan_catalog(
        [rows[0] | {"status": "deleted"}, rows[1] | {"status": "disabled"}], names)
    for keys in catalog_plan.delete_batches(later.removals["catalog_uk"]):
        assert client.delete_account_insight_records("catalog_uk", keys).not_found == ()
    assert [r["key"] for r in server.state.insight_records("catalog_uk")] == ["S2"]
