"""dotsync load / status / rejects from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import Ledger, Store


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner()


def test_load_prints_counts_and_status_counts_pending(runner, tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,email,updated_at\nc1,jo@example.com,2024-01-01\nc2,sam@example.com,2024-01-01\n"
    )
    result = runner.invoke(main, ["load", "customers", "c.csv"])
    assert result.exit_code == 0, result.output
    assert "2 inserted, 0 updated, 0 unchanged, 0 rejected" in result.output
    again = runner.invoke(main, ["load", "customers", "c.csv", "--json"])
    assert json.loads(again.output)["unchanged"] == 2
    status = runner.invoke(main, ["status", "--json"])
    assert json.loads(status.output)["entities"]["customers"]["pending"] == 2
    table = runner.invoke(main, ["status"])
    assert "customers" in table.output and "pending" in table.output


def test_load_with_unknown_column_is_a_usage_error(runner, tmp_path):
    (tmp_path / "c.csv").write_text("customer_id,emial\nc1,jo@example.com\n")
    result = runner.invoke(main, ["load", "customers", "c.csv"])
    assert result.exit_code == 2
    assert "'emial'" in result.output


def test_rejects_lists_records_and_filters_by_entity(runner, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    Ledger(store).record(
        "customers",
        [
            {
                "key": "c9",
                "state": "rejected",
                "error_field": "email",
                "error_message": "email 'x@' is not valid",
            }
        ],
    )
    Ledger(store).record("orders", [{"key": "o1", "state": "failed", "error_message": "timeout"}])
    result = runner.invoke(main, ["rejects", "--entity", "customers", "--json"])
    payload = json.loads(result.output)
    assert payload["count"] == 1 and payload["rejects"][0]["id"] == "c9"
    text = runner.invoke(main, ["rejects"])
    assert "c9" in text.output and "o1" in text.output and "timeout" in text.output


def test_bad_configuration_exits_2_naming_the_setting(runner, monkeypatch):
    monkeypatch.setenv("DOTSYNC_CERTIFICATE_CAMPAIGN_ID", "abc")
    result = runner.invoke(main, ["status"])
    assert result.exit_code == 2
    assert "DOTSYNC_CERTIFICATE_CAMPAIGN_ID" in result.output
