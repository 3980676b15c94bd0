"""``dotsync reconcile`` runs the ``reconcile`` flow: report, artifacts, repair, budget."""

from __future__ import annotations

import json

from click.testing import CliRunner
from dotsync.deployments.cli import main

from tests.e2e.helpers import customer, order, stage


def _reconcile(*args: str) -> dict:
    result = CliRunner().invoke(main, ["reconcile", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])


def test_reconcile_command_finds_repairs_and_publishes(env) -> None:
    from prefect.client.orchestration import get_client

    stage(env.store, "customers", [customer(i) for i in range(8)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in range(8)])
    assert env.sync().is_completed()
    assert _reconcile()["total"] == 0
    state = env.emulator.state
    assert state.delete_insight("Purchases", "O1")
    assert state.alter_insight("Purchases", "O2", {"order_total": 3.0})
    assert state.alter_contact("customer3@example.com", {"LASTNAME": "Other"})

    found = _reconcile("--repair", "--sample", "2", "--max-calls", "50", "--page-size", "2")
    assert found["complete"] and found["total"] == 3
    assert [f["key"] for f in found["findings"]["orders"]["missing"]] == ["O1"]
    assert found["findings"]["orders"]["different"] == [
        {"key": "O2", "fields": ["order_total"], "how": "listing"}]  # count differed
    assert found["findings"]["contacts"]["different"][0]["fields"] == ["dataFields.LASTNAME"]
    assert found["queued"] == {"orders": 2, "contacts": 1, "customers": 1}
    assert 0 < found["api_calls"] <= 50

    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
    keys = {a.key for a in artifact}
    assert {"dotsync-reconcile-report", "dotsync-reconcile-findings"} <= keys

    assert env.sync().is_completed()
    assert _reconcile()["total"] == 0

    plain = CliRunner().invoke(main, ["reconcile", "--full", "--max-calls", "1"])
    assert plain.exit_code == 0, plain.output
    assert "incomplete: call budget of 1 reached" in plain.output
    assert "API calls: 1 (budget 1)" in plain.output
