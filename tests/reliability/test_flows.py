"""The same guarantees through Prefect: the sync flow (tasks, task retries, artifacts,
run logger) under faults, and what it leaves in Prefect's own API (logs, artifacts,
flow-run states) searched for the password.

One temporary Prefect backend serves the module (``prefect_backend``, ~15 s to start);
each flow call then costs about a second, so the flow tests are few and do a lot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from dotsync.store import Ledger
from tests.e2e.conftest import Env
from tests.reliability.harness import PASSWORD, ShopSize, stage_shop
from tests.reliability.invariants import check_consistent, check_invariants, dump_store
from tests.reliability.test_secrets import FORMS, assert_no_secret

pytestmark = pytest.mark.e2e


class Capture(logging.Handler):
    """Keeps every record of the loggers it is attached to (Prefect's do not propagate)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            self.lines.append("".join(traceback.format_exception(record.exc_info[1])))


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flows' client with millisecond back-off: a 5xx storm must not cost seconds
    per retry here (the waits are not what is under test)."""
    from dotsync.flows import common

    from tests.reliability.harness import make_client

    monkeypatch.setattr(common, "make_client", make_client)


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    names = ["", "prefect", "prefect.flow_runs", "prefect.task_runs", "dotsync", "httpx",
             "httpcore"]
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(levels[name])


def _prefect_api_text(run_ids: list[Any]) -> dict[str, str]:
    """Logs, artifacts and states of ``run_ids`` as stored by the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the logs still queued for the API, sent now
    with get_client(sync_client=True) as client:
        logs: list[Any] = []
        while True:  # the API serves at most 200 a page
            page = client.read_logs(log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=run_ids)), limit=200, offset=len(logs))
            logs += page
            if len(page) < 200:
                break
        artifacts: list[Any] = []
        while True:
            more = client.read_artifacts(limit=200, offset=len(artifacts))
            artifacts += more
            if len(more) < 200:
                break
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)))
        return {
            "prefect logs": "\n".join(f"{log.level} {log.message}" for log in logs),
            "prefect artifacts": "\n".join(
                f"{a.key} {a.type} {a.description} {json.dumps(a.data, default=str)}"
                for a in artifacts),
            "flow-run states": "\n".join(
                f"{r.state_name} {r.state.message if r.state else ''} {r.parameters}"
                for r in runs),
            "log count": str(len(logs)),
            "artifact count": str(len(artifacts)),
        }


def test_the_sync_flow_under_faults_converges(env: Env) -> None:
    """5xx, drops before and after acting, failed imports, through the Prefect flow with
    its task retries; then runs without faults; every guarantee holds."""
    stage_shop(env.store, ShopSize(customers=20, orders=40, certificates=10))
    env.emulator.state.set_faults(error_rate=0.15, drop_rate=0.05, drop_after_rate=0.05,
                                  fail_imports=0.3, random_seed=23)
    for bulk in (200, 5, 200):
        state = env.sync(bulk_threshold=bulk, send_batch_size=3)
        assert state.is_completed(), state.message
        check_consistent(env.store, env.emulator).raise_if_any()
    env.emulator.state.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0,
                                  fail_imports=0.0)
    for _ in range(2):
        assert env.sync().is_completed()
    check_invariants(env.store, env.emulator)


def test_no_secret_in_prefect_logs_artifacts_or_states(env: Env, captured: Capture,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """Flow runs with faults, with a lookalike endpoint, and with a wrong password: the
    password is in no log line (ours and Prefect's, local and stored by the API), no
    artifact, no flow-run state or parameter, no CLI output and no table of the store."""
    from click.testing import CliRunner

    from dotsync.cli import main

    stage_shop(env.store, ShopSize(customers=10, orders=20, certificates=6))
    env.emulator.state.set_faults(error_rate=0.2, drop_after_rate=0.1, fail_imports=0.3,
                                  random_seed=31)
    states = [env.sync(bulk_threshold=bulk, send_batch_size=2) for bulk in (200, 4)]
    assert all(s.is_completed() for s in states)
    report = states[-1].result()
    assert report["problems"], "the faults caused no problem to report"

    monkeypatch.setenv("DOTDIGITAL_API_ENDPOINT", "https://r1-api.dotdigital.com.evil.example")
    states.append(env.sync())
    assert states[-1].is_failed() and "evil.example" in (states[-1].message or "")
    monkeypatch.setenv("DOTDIGITAL_API_ENDPOINT", env.emulator.url)
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", PASSWORD + "-previous")
    states.append(env.sync())
    assert states[-1].is_failed() and "credentials" in (states[-1].message or "")
    monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", PASSWORD)

    stored = _prefect_api_text([s.state_details.flow_run_id for s in states])
    assert int(stored["log count"]) > 0 and int(stored["artifact count"]) > 0
    for where, text in stored.items():
        assert_no_secret(where, text)
    assert_no_secret("local logs", "\n".join(captured.lines))
    assert len(captured.lines) > 20
    assert_no_secret("console", "".join(capsys.readouterr()))
    for s in states:
        assert_no_secret("state", f"{s!r} {s.message} {s.data!r}")
        assert_no_secret("result", json.dumps(s.result(raise_on_failure=False), default=str))
    runner = CliRunner()
    for args in (["status", "--json"], ["rejects", "--json"], ["rejects"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0
        assert_no_secret(f"dotsync {' '.join(args)}", result.output)
    assert_no_secret("store tables", dump_store(env.store))
    assert set(FORMS) == {"plain", "url-quoted", "basic-token", "json-escaped"}
    assert Ledger(env.store).states("certificates")
