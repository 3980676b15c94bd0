"""Optional fields never hold a record, shared mobile numbers, orders as shops export
them (SPEC §1, §2), end to end: Prefect + the emulator + a fresh store.

The emulator starts from an empty account: no insight collection and only Dotdigital's
default data fields (plus the custom fields these shops' data uses), so nothing passes
because the emulator is kinder than Dotdigital.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Ledger
from dotsync.store import warnings as field_warnings
from dotsync.store.status import status
from tests.e2e.helpers import certificate, customer, order, sends_by_code, stage, states

pytestmark = pytest.mark.e2e

DEFAULT_FIELDS = ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE"]
SHARED = "+44 7911 123456"


def _seed(**extra: object) -> dict:
    return {"collections": [], "dataFields": [*DEFAULT_FIELDS, "TIER", "NOTE"], **extra}


@pytest.fixture
def emulator(request) -> Iterator[EmulatorServer]:
    seed = getattr(request, "param", None) or _seed()
    with EmulatorServer(EmulatorConfig(import_delay=0.05, random_seed=1, seed=seed)) as server:
        yield server


def _records(env) -> dict[str, dict]:
    return {r["key"]: r for r in env.emulator.state.insight_records("Purchases")}


def test_a_data_field_with_control_characters_is_left_out_and_everything_goes_on(env):
    stage(env.store, "customers", [customer(1, data_fields={"TIER": "gold", "NOTE": "a\u0007b"})])
    stage(env.store, "orders", [order(1, "customer1@example.com"),
                                order(2, "customer1@example.com")])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    state = env.sync(bulk_threshold=1)
    assert state.is_completed(), state.message
    contact = env.emulator.state.contact("customer1@example.com")
    assert contact["dataFields"].get("TIER") == "gold"
    assert "NOTE" not in contact["dataFields"]
    assert sorted(_records(env)) == ["O1", "O2"]
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}
    assert states(env.store, "customers") == {"C1": "synced"}
    report = state.result()
    assert report["contacts"]["rejected"] == 0 and report["contacts"]["warned"] == 1
    [warning] = report["warnings"]
    assert (warning["key"], warning["field"], warning["check"]) == (
        "C1", "data_fields", "control_chars")
    assert "'NOTE'" in warning["reason"] and "a\u0007b" not in str(warning)
    # After the run: rejects --warnings and status read the same from the store.
    stored = field_warnings.frame(env.store)
    assert stored[["entity", "key", "field"]].values.tolist() == [
        ["customers", "C1", "data_fields"]]
    assert status(env.store)["warnings"] == {"customers": 1}
    listed = CliRunner().invoke(main, ["rejects", "--warnings", "--json"],
                                env={"DOTSYNC_DATABASE_URL": env.url})
    assert listed.exit_code == 0, listed.output
    [item] = json.loads(listed.output)["warnings"]
    assert (item["entity"], item["id"], item["field"]) == ("customers", "C1", "data_fields")
    shown = CliRunner().invoke(main, ["status"], env={"DOTSYNC_DATABASE_URL": env.url})
    assert "Sent with a field left out" in shown.output and "customers 1" in shown.output

    # A run with nothing changed sends nothing and keeps the one warning (not two).
    before = len(env.emulator.state.calls())
    again = env.sync(bulk_threshold=1)
    assert again.result()["write_calls"] == 0
    assert len(env.emulator.state.calls()) >= before
    assert len(field_warnings.frame(env.store)) == 1
    # Fixed at the source: the field goes out and the warning is gone.
    stage(env.store, "customers", [customer(1, data_fields={"TIER": "gold", "NOTE": "ab"},
                                            updated_at="2026-10-09T00:00:00Z")])
    assert env.sync(bulk_threshold=1).is_completed()
    assert env.emulator.state.contact("customer1@example.com")["dataFields"]["NOTE"] == "ab"
    assert field_warnings.frame(env.store).empty


def test_a_strict_field_rejects_the_record_and_its_dependants_wait(env, monkeypatch):
    monkeypatch.setenv("DOTSYNC_STRICT_FIELDS", "data_fields")
    stage(env.store, "customers", [customer(1, data_fields={"NOTE": "a\u0007b"})])
    stage(env.store, "orders", [order(1, "customer1@example.com")])
    state = env.sync(bulk_threshold=1)
    assert state.is_completed(), state.message
    assert states(env.store, "customers") == {"C1": "rejected"}
    assert states(env.store, "orders") == {"O1": "pending"}
    assert state.result()["warnings_total"] == 0


# Three contacts: single PATCHes up to a threshold of 3 (the four orders then go in an
# import), everything single at 200, imports for everything at 0.
@pytest.mark.parametrize("bulk_threshold", [200, 3, 0], ids=["single", "mixed", "bulk"])
def test_three_customers_sharing_a_mobile_give_three_contacts_the_number_on_one(
    env, bulk_threshold
):
    stage(env.store, "customers", [
        customer(1, mobile_number="07911 123456", updated_at="2026-10-01T10:00:00Z"),
        customer(2, mobile_number=SHARED, updated_at="2026-10-03T10:00:00Z"),
        customer(3, mobile_number="+447911123456", updated_at="2026-10-02T10:00:00Z"),
    ])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in (1, 2, 3)]
          + [order(4, "customer2@example.com")])
    state = env.sync(bulk_threshold=bulk_threshold)
    assert state.is_completed(), state.message
    contacts = {c["identifiers"]["email"]: c for c in env.emulator.state.contacts()}
    assert set(contacts) == {f"customer{i}@example.com" for i in (1, 2, 3)}
    holders = [e for e, c in contacts.items() if c["identifiers"].get("mobileNumber")]
    assert holders == ["customer2@example.com"]  # the most recently updated
    assert contacts["customer2@example.com"]["identifiers"]["mobileNumber"] == "447911123456"
    report = state.result()
    warned = sorted((w["key"], w["field"], w["check"]) for w in report["warnings"])
    assert warned == [("C1", "mobile_number", "shared"), ("C3", "mobile_number", "shared")]
    assert all("7911" not in w["reason"] for w in report["warnings"])
    assert states(env.store, "customers") == {f"C{i}": "synced" for i in (1, 2, 3)}
    assert sorted(_records(env)) == ["O1", "O2", "O3", "O4"]
    assert states(env.store, "orders") == {f"O{i}": "synced" for i in (1, 2, 3, 4)}


@pytest.mark.parametrize("emulator", [_seed(contacts=[
    {"email": "someone.else@example.com", "mobileNumber": "447911123456"}])], indirect=True)
@pytest.mark.parametrize("bulk_threshold", [1, 0], ids=["single-409", "import-failure"])
def test_a_number_dotdigital_says_is_taken_is_left_out_never_a_rejected_contact(
    env, bulk_threshold
):
    stage(env.store, "customers", [customer(1, mobile_number="07911 123456",
                                            sms_consent="subscribed")])
    stage(env.store, "orders", [order(1, "customer1@example.com"),
                                order(2, "customer1@example.com")])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    state = env.sync(bulk_threshold=bulk_threshold)
    assert state.is_completed(), state.message
    mine = env.emulator.state.contact("customer1@example.com")
    assert mine is not None and "mobileNumber" not in mine["identifiers"]
    other = env.emulator.state.contact("someone.else@example.com")
    assert other["identifiers"]["mobileNumber"] == "447911123456"
    assert states(env.store, "customers") == {"C1": "synced"}
    assert states(env.store, "orders") == {"O1": "synced", "O2": "synced"}
    assert sends_by_code(env.emulator.state.sends()) == {"CODE1": 1}
    report = state.result()
    assert report["contacts"]["rejected"] == 0
    assert [(w["key"], w["check"]) for w in report["warnings"]] == [
        ("C1", "duplicate_identifier")]
    assert field_warnings.frame(env.store)["check"].tolist() == ["duplicate_identifier"]
    # Nothing changed: the next run leaves the contact alone (no second refusal).
    again = env.sync(bulk_threshold=bulk_threshold)
    assert again.result()["write_calls"] == 0


def test_orders_as_shops_export_them(env):
    stage(env.store, "customers", [customer(1)])
    stage(env.store, "orders", [
        order(1, None, customer_id="C1"),  # only the customer's id
        order(2, "guest@example.org", currency="JPY", total="1500", subtotal="1500",
              lines=[{"name": "Tip", "quantity": 1, "unit_price": 200},
                     {"sku": "TEA", "name": "Tea", "quantity": 2, "unit_price": 650}]),
        order(3, None, customer_id="C404"),  # names nobody
        order(4, "customer1@example.com", currency="BHD", total="1.5", subtotal="1.5",
              tax="-1"),  # a bad optional amount
    ])
    stage(env.store, "certificates", [
        certificate(1, "customer1@example.com", amount="1500", currency="JPY"),
        certificate(2, "customer1@example.com", amount="1.5", currency="BHD"),
        certificate(3, "customer1@example.com", amount="12.5", currency="GBP"),
    ])
    state = env.sync(bulk_threshold=0)
    assert state.is_completed(), state.message
    records = _records(env)
    assert sorted(records) == ["O1", "O2", "O4"]
    assert records["O1"]["email"] == "customer1@example.com"
    o2 = records["O2"]["json"]
    assert o2["order_total"] == 1500 and isinstance(o2["order_total"], float)
    assert o2["products"][0] == {"name": "Tip", "qty": 1, "price": 200.0}
    assert o2["products"][1]["sku"] == "TEA"
    o4 = records["O4"]["json"]
    assert "tax_total" not in o4 and o4["order_total"] == 1.5
    rows = Ledger(env.store).frame("orders").set_index("key")
    assert rows.loc["O3", "state"] == "rejected"
    assert rows.loc["O3", "error_field"] == "customer_email"
    assert "names no staged customer" in rows.loc["O3", "error_message"]
    amounts = {s["personalizationValues"]["CERTIFICATE_CODE"]:
               s["personalizationValues"]["CERTIFICATE_AMOUNT"]
               for s in env.emulator.state.sends()}
    assert amounts == {"CODE1": "1500", "CODE2": "1.500", "CODE3": "12.50"}
    assert [(w["key"], w["field"]) for w in state.result()["warnings"]] == [("O4", "tax")]
