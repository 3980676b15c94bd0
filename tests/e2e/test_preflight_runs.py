"""Deployed runs (``preflight=True``) fail on preflight errors only (issue 12, point 7)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import customer, order, stage, states, write_calls

pytestmark = pytest.mark.e2e


def test_a_us_shop_selling_abroad_in_usd_runs_with_preflight_on(env, monkeypatch):
    countries = ["US", "GB", "DE", "CA", "AU"]
    stage(env.store, "customers", [customer(i, country=countries[i % 5]) for i in range(10)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com", currency="USD")
                                for i in range(10)])
    state = env.sync(preflight=True)
    assert state.is_completed(), state.message  # a warning never stops a run
    notes = state.result().get("notes", [])
    assert any(n.startswith("preflight order_currencies: warn:") for n in notes), notes
    assert set(states(env.store, "orders").values()) == {"synced"}

    monkeypatch.setenv("DOTSYNC_PREFLIGHT_ACCEPT", "order_currencies")
    # A scheduled run checks what changed since the last one: new customers abroad and
    # their USD orders show the same pattern again.
    stage(env.store, "customers", [customer(i, country=countries[i % 5])
                                   for i in range(10, 15)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com", currency="USD")
                                for i in range(10, 15)])
    state = env.sync(preflight=True)
    assert state.is_completed(), state.message
    assert any(n.startswith("preflight order_currencies: accepted:")
               for n in state.result().get("notes", []))


def test_a_data_field_the_account_lacks_stops_the_run_before_any_write(env):
    stage(env.store, "customers", [customer(1, store="uk-web")])
    state = env.sync(preflight=True)
    assert state.is_failed()
    assert "data_fields" in state.message and "STORE" in state.message
    assert write_calls(env.emulator.state.calls()) == []
    env.emulator.state.add_data_field("STORE")  # the shop creates it, as the fix says
    state = env.sync(preflight=True)
    assert state.is_completed(), state.message
    assert env.emulator.state.contact("customer1@example.com")["dataFields"]["STORE"] == "uk-web"
