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


def test_replay_waits_for_the_account_s_ledger_writer_and_says_so(runner, tmp_path,
                                                                  monkeypatch):
    """``dotsync replay`` is one of the ledger's writers (issue 17): while a run of the
    account holds the ledger, the command queues nothing and says why; once the run is
    done, it queues. The test holds the real lock itself and learns that the command is
    waiting from the lock's own first refusal, so no timing decides the outcome."""
    import threading

    from dotsync.store import writer

    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    ledger = Ledger(store)
    ledger.record("orders", [{"key": "o1", "state": "rejected", "error_message": "bad"}])
    refused = threading.Event()
    real = writer._holder_for

    def observed(engine):
        holder = real(engine)
        try_acquire = holder.try_acquire

        def attempt():
            got = try_acquire()
            if not got:
                refused.set()
            return got

        holder.try_acquire = attempt
        return holder

    result = {}
    with writer.ledger_writer(store.engine, flow="sync", run_id="run-42"):
        monkeypatch.setattr(writer, "_holder_for", observed)
        thread = threading.Thread(target=lambda: result.update(
            out=runner.invoke(main, ["replay"])))
        thread.start()
        assert refused.wait(120), "the command never tried the ledger lock"
        assert ledger.states("orders") == {"o1": "rejected"}  # nothing queued meanwhile
    thread.join(120)
    assert not thread.is_alive()
    out = result["out"]
    assert out.exit_code == 0, out.output
    assert "waiting for the ledger: sync run run-42" in out.output
    assert "1 records queued again" in out.output
    assert ledger.states("orders") == {"o1": "pending"}
    store.dispose()
