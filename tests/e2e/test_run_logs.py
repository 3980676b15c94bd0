"""dotsync.* records reach the Prefect run's logs: a 429 wait is visible in the UI."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.e2e.helpers import customer, stage


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """An account allowing 3 calls per 8 s window: a run that starts with the budget
    spent meets a 429 and waits for the reset."""
    config = EmulatorConfig(import_delay=0.05, random_seed=1, rate_limit_per_minute=3,
                            rate_limit_window=8.0)
    with EmulatorServer(config) as server:
        yield server


def _run_logs(run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
    return [f"{log.name} {log.message}" for log in logs]


def test_a_429_wait_is_in_the_runs_logs(env):
    stage(env.store, "customers", [customer(i) for i in range(3)])
    config = env.emulator.config
    with httpx.Client(base_url=env.emulator.url, auth=(config.user, config.password)) as http:
        answers = [http.get("/v2/account-info").status_code for _ in range(4)]
    assert answers[-1] == 429  # another client spent the budget just before the run
    state = env.sync(entities=["contacts"])
    assert state.is_completed(), state.message
    lines = _run_logs(state.state_details.flow_run_id)
    waits = [line for line in lines if "rate limited" in line]
    assert waits, "\n".join(lines)
    assert waits[0].startswith("dotsync.dotdigital ") and "waiting" in waits[0]
