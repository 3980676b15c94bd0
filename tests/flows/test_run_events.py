"""Run events: ``dotsync.run.completed`` / ``dotsync.run.failed`` with the account and the
run's counts, captured with Prefect's test harness and its asserting events worker."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
from dotsync.flows.events import account_resource, emit_run_event, reject_percent, report_counts
from hypothesis import given
from hypothesis import strategies as st
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 - a fixture
from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.emulator import EmulatorConfig, EmulatorServer

PASSWORD = "pw-events-must-not-leak"


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _ours(worker) -> list:
    worker.wait_until_empty()
    return [e for e in worker._client.events if e.event.startswith("dotsync.run.")]


@given(rejected=st.integers(0, 10_000), extra=st.integers(0, 10_000),
       threshold=st.integers(0, 99))
def test_reject_percent_is_above_a_threshold_exactly_when_the_share_is(
        rejected: int, extra: int, threshold: int) -> None:
    considered = rejected + extra
    percent = reject_percent({"considered": considered, "rejected": rejected})
    share_above = considered > 0 and rejected * 100 > threshold * considered
    assert (percent > threshold) == share_above
    assert 0 <= percent <= 100
    if considered and rejected:
        assert percent == math.ceil(100 * rejected / considered)


def test_report_counts_sum_the_entities() -> None:
    report = {"contacts": {"considered": 5, "sent": 3, "rejected": 2, "failed": 0,
                           "in_doubt": 0},
              "certificates": {"considered": 2, "sent": 1, "rejected": 0, "failed": 0,
                               "in_doubt": 1},
              "api_calls_total": 9}
    counts = report_counts(report)
    assert counts["considered"] == 7 and counts["rejected"] == 2 and counts["in_doubt"] == 1
    assert counts["certificates_in_doubt"] == 1 and counts["api_calls_total"] == 9


def test_the_account_never_carries_a_secret() -> None:
    settings = Settings(api_user="apiuser-1@apiconnector.com", api_password=SecretStr(PASSWORD),
                        api_endpoint="https://user:hidden@r1-api.dotdigital.com")
    resource = account_resource(settings, "sync")
    assert resource["dotsync.endpoint"] == "https://r1-api.dotdigital.com"
    assert "hidden" not in json.dumps(resource) and PASSWORD not in json.dumps(resource)
    assert resource["prefect.resource.id"] == "dotsync.account.apiuser-1@apiconnector.com"


def test_a_flow_run_emits_its_event_with_labels_and_counts(
        harness, asserting_events_worker) -> None:  # noqa: F811
    from prefect import flow

    settings = Settings(api_user="apiuser-2@apiconnector.com", api_password=SecretStr(PASSWORD))

    @flow
    def tiny() -> None:
        emit_run_event("sync", "completed", settings,
                       {"considered": 10, "rejected": 3, "in_doubt": 1})

    state = tiny(return_state=True)
    [event] = _ours(asserting_events_worker)
    assert event.event == "dotsync.run.completed"
    assert event.resource["dotsync.flow"] == "sync"
    assert event.resource["dotsync.in-doubt"] == "true"
    assert event.resource["dotsync.reject-percent"] == "30"
    assert event.payload["counts"]["rejected"] == 3
    [run] = [r for r in event.related if r.role == "flow-run"]
    assert run.id == f"prefect.flow-run.{state.state_details.flow_run_id}"
    assert PASSWORD not in event.model_dump_json()


def test_the_reconcile_flow_emits_completed_then_failed(harness, tmp_path, monkeypatch) -> None:
    """Two real flow runs; the events are taken where they are emitted (as Prefect's
    ``Event`` model validates them), since the flow engine drains the events worker."""
    from dotsync.flows.reconcile import reconcile
    from prefect.events import Event

    emitted: list[Event] = []

    def record(event: str, resource: dict, related: list, payload: dict) -> Event:
        emitted.append(Event(event=event, resource=resource, related=related, payload=payload))
        return emitted[-1]

    monkeypatch.setattr("dotsync.flows.events.emit_event", record)

    with EmulatorServer(EmulatorConfig(password=PASSWORD)) as emulator:
        for key, value in {"DOTDIGITAL_API_ENDPOINT": emulator.url,
                           "DOTDIGITAL_API_USER": emulator.config.user,
                           "DOTDIGITAL_API_PASSWORD": PASSWORD,
                           "DOTSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}.items():
            monkeypatch.setenv(key, value)
        assert reconcile(return_state=True).is_completed()
        monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", "wrong-" + PASSWORD)
        assert reconcile.with_options(retries=0)(return_state=True).is_failed()
    completed, failed = emitted
    assert completed.event == "dotsync.run.completed"
    assert completed.resource["dotsync.flow"] == "reconcile"
    assert completed.payload["counts"]["found"] == 0
    assert completed.payload["counts"]["complete"] is True
    assert failed.event == "dotsync.run.failed"
    assert "refused the API credentials" in failed.payload["message"]
    for event in (completed, failed):
        assert event.resource["dotsync.account"] == emulator.config.user
        assert PASSWORD not in event.model_dump_json()
