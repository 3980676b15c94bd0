"""Refused credentials: one clear line, exit 1, no traceback, never retried.

The traceback is kept in the debug log (``DOTSYNC_DEBUG_LOG``) instead of the
terminal, the command answers before any flow run starts, and a flow run that meets
refused credentials (a deployed run, or credentials revoked half-way) fails without
its flow-level retry.
"""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from dotsync.deployments.cli import main

from tests.e2e.helpers import certificate, customer, order, stage

pytestmark = pytest.mark.e2e


@pytest.fixture
def debug_log(tmp_path, monkeypatch):
    path = tmp_path / "debug.log"
    monkeypatch.setenv("DOTSYNC_DEBUG_LOG", str(path))
    return path


@pytest.mark.parametrize("command", [["sync"], ["backfill"], ["consent"], ["sync", "--json"]])
def test_a_wrong_password_is_one_line_and_exit_1_before_any_run(emulator, tmp_path,
                                                               monkeypatch, debug_log,
                                                               command):
    for key, value in {"DOTDIGITAL_API_ENDPOINT": emulator.url,
                       "DOTDIGITAL_API_USER": emulator.config.user,
                       "DOTDIGITAL_API_PASSWORD": "not-the-password",
                       "DOTSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOTSYNC_CREDENTIALS_BLOCK", raising=False)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    if "--json" in command:
        assert json.loads(result.stdout)["status"] == "failed"
    else:
        assert len(lines) == 1, result.output
        assert lines[0].startswith("dotsync: run failed: Dotdigital refused the API "
                                   "credentials (HTTP 401)")
    assert "Traceback" not in result.output and "not-the-password" not in result.output
    kept = debug_log.read_text()
    assert "Traceback (most recent call last)" in kept and "AuthenticationError" in kept
    assert "not-the-password" not in kept
    assert [c["path"] for c in emulator.state.calls()] == ["/v2/account-info"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Records that print a traceback (how Prefect shows a task's exception)."""
        return [r.getMessage() for r in self.records
                if r.levelno >= logging.INFO and r.exc_info and r.exc_info[0]]


@pytest.fixture
def prefect_records():
    """Everything Prefect's loggers emit (its console handler prints the same); its run
    loggers do not propagate, so the handler goes on each."""
    from prefect.logging.configuration import setup_logging

    setup_logging(incremental=False)  # as a flow run's start may: attach after it
    handler = Records()
    names = ["prefect", "prefect.flow_runs", "prefect.task_runs"]
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)


def test_a_flow_run_with_refused_credentials_is_not_retried(env, monkeypatch, debug_log,
                                                            prefect_records):
    from dotsync.flows.sync import sync
    from prefect.client.orchestration import get_client

    stage(env.store, "customers", [customer(1)])
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", "not-the-password")
    state = sync(poll_interval=0.02, return_state=True)  # the flow's own retries=1
    assert state.is_failed()
    assert state.message.startswith("Dotdigital refused the API credentials (HTTP 401)")
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.run_count == 1 and run.empirical_policy.retries == 0
    assert any("run failed" in r.getMessage() for r in prefect_records.records)
    assert prefect_records.tracebacks() == []
    assert "Traceback (most recent call last)" in debug_log.read_text()


def test_credentials_revoked_mid_run_fail_it_once_with_one_message(env, monkeypatch,
                                                                   debug_log, prefect_records):
    from dotsync.flows.sync import sync
    from prefect.client.orchestration import get_client

    stage(env.store, "customers", [customer(1)])
    stage(env.store, "orders", [order(1, "customer1@example.com")])
    stage(env.store, "certificates", [certificate(1, "customer1@example.com")])
    import dataclasses

    from dotsync.sync.registry import SYNC_STEPS

    real = SYNC_STEPS["push-orders"]

    def revoke_then_push(engine, run):  # the contacts went out; now the key is revoked
        env.emulator.state.config.password = "revoked"
        return real.run(engine, run)

    monkeypatch.setitem(SYNC_STEPS, "push-orders",
                        dataclasses.replace(real, run=revoke_then_push))
    state = sync(poll_interval=0.02, return_state=True)
    assert state.is_failed()
    assert "refused the API credentials during the run" in state.message
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.run_count == 1
    assert any("run failed" in r.getMessage() for r in prefect_records.records)
    assert prefect_records.tracebacks() == []
    assert env.emulator.state.sends() == []


def test_resend_with_a_wrong_password_is_one_line_and_exit_1(emulator, tmp_path, monkeypatch,
                                                             debug_log):
    for key, value in {"DOTDIGITAL_API_ENDPOINT": emulator.url,
                       "DOTDIGITAL_API_USER": emulator.config.user,
                       "DOTDIGITAL_API_PASSWORD": "not-the-password",
                       "DOTSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOTSYNC_CREDENTIALS_BLOCK", raising=False)
    result = CliRunner().invoke(main, ["resend", "certificate", "G1"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "refused the API credentials" in lines[0]
    assert "Traceback" in debug_log.read_text()
    assert emulator.state.sends() == []
