"""Seeing why: ``dotsync rejects`` lists waiting records and names the right field.

Against the bundled emulator seeded as a new Dotdigital account: no insight
collection, and only Dotdigital's default data fields (FIRSTNAME, LASTNAME, FULLNAME,
GENDER, POSTCODE), so a contact carrying ``STORE`` or a custom data field is refused
with a 400 whose details name the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger, Store
from tests.e2e.helpers import certificate, customer, order, stage
from tests.reliability.harness import settings_for, sync_once

pytestmark = pytest.mark.e2e

DEFAULT_FIELDS = ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"]


@pytest.fixture
def new_account() -> Iterator[EmulatorServer]:
    seed = {"collections": [], "dataFields": DEFAULT_FIELDS}
    with EmulatorServer(EmulatorConfig(random_seed=5, seed=seed)) as server:
        yield server


def test_rejects_lists_waiting_records_and_the_field_each_problem_is_about(
        new_account, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'why.db'}"
    store = Store(url)
    stage(store, "customers", [
        customer(1, store="uk-shop"),                       # STORE is not in the account
        customer(2, data_fields='{"TIER": "gold"}'),        # nor is TIER
        customer(3),
    ])
    stage(store, "orders", [order(1, "customer1@example.com")])
    stage(store, "certificates", [certificate(2, "customer2@example.com")])
    report = sync_once(store, settings_for(new_account, url))
    assert report.counts["contacts"].rejected == 2

    ledger = Ledger(store)
    customers = ledger.frame("customers").set_index("key")
    assert customers.loc["C1", "error_field"] == "store"
    assert customers.loc["C2", "error_field"] == "data_fields"
    assert [p.field for p in report.problems if p.entity == "contacts"] == ["store",
                                                                           "data_fields"]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["rejects", "--json"])
    assert result.exit_code == 0, result.output
    listed = {(r["entity"], r["id"]): r for r in json.loads(result.output)["rejects"]}
    assert listed[("customers", "C1")]["field"] == "store"
    waiting_order = listed[("orders", "O1")]
    assert waiting_order["state"] == "waiting"
    assert waiting_order["field"] == "customer_email"
    assert "contact c***@example.com rejected" in waiting_order["reason"]
    assert listed[("certificates", "G2")]["state"] == "waiting"
    assert ("customers", "C3") not in listed

    text = CliRunner().invoke(main, ["rejects", "--entity", "orders"])
    assert "waiting" in text.output and "O1" in text.output
    store.dispose()


def test_a_replayed_record_is_not_listed_as_waiting(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    store = Store(url)
    ledger = Ledger(store)
    ledger.record("customers", [{"key": "C9", "state": "rejected", "error_code": "InvalidEmail",
                                 "error_field": "email", "error_message": "bad"}])
    ledger.replay("customers", ["C9"])
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["rejects", "--json"])
    assert json.loads(result.output)["count"] == 0
    store.dispose()
