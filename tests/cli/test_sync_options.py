"""``dotsync sync --allow-sends N`` and what ``--dry-run`` prints about the next run."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from dotsync.deployments.cli import main
from prefect.states import Completed, Failed


@pytest.fixture
def flow_calls(tmp_path, monkeypatch) -> list[dict[str, Any]]:
    """The sync flow replaced by a recorder: the option's way into the flow is tested,
    the flow itself has end-to-end tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    calls: list[dict[str, Any]] = []
    report = {"run_id": "r1", "status": "completed", "dry_run": True, "duration_seconds": 0.1,
              "contacts": {}, "certificates": {"considered": 6000, "sent": 6000},
              "notes": ["dry run: 6000 contacts would be sent",
                        "dry run: the next run would send 0 order confirmations and 6000 "
                        "certificates; it would fail: this run would send 6000 ..."]}

    def fake(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if kwargs.get("allow_sends") == 1:
            return Failed(message="this run would send 6000 transactional e-mails")
        return Completed(data=report)

    import dotsync.flows.sync

    monkeypatch.setattr(dotsync.flows.sync, "sync", fake)
    return calls


def test_allow_sends_reaches_the_flow(flow_calls) -> None:
    result = CliRunner().invoke(main, ["sync", "--allow-sends", "6000"])
    assert result.exit_code == 0, result.output
    assert flow_calls[-1]["allow_sends"] == 6000
    result = CliRunner().invoke(main, ["sync"])
    assert flow_calls[-1]["allow_sends"] is None


def test_a_run_stopped_by_the_cap_exits_1_with_the_message(flow_calls) -> None:
    result = CliRunner().invoke(main, ["sync", "--allow-sends", "1"])
    assert result.exit_code == 1
    assert "would send 6000 transactional e-mails" in result.output


def test_allow_sends_must_be_a_count(flow_calls) -> None:
    result = CliRunner().invoke(main, ["sync", "--allow-sends", "-3"])
    assert result.exit_code == 2
    assert flow_calls == []


def test_dry_run_prints_what_the_next_run_would_send(flow_calls) -> None:
    result = CliRunner().invoke(main, ["sync", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "the next run would send 0 order confirmations and 6000 certificates" in (
        result.output)
    assert "6000 contacts would be sent" not in result.output
