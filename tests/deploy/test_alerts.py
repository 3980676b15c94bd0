"""``dotsync alerts install`` against a real Prefect server: the automations it creates
fire on a run with an in-doubt send, on a failed run, on a run that rejected more than
the share, and when no sync completed within the window, and post to a webhook on
loopback; installing twice leaves the same automations."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from dotsync.deployments.cli import main

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from tests.deploy.conftest import wait_for
from tests.e2e.helpers import certificate, customer, stage

pytestmark = pytest.mark.e2e


class Receiver:
    """A webhook receiver on loopback: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.times: list[float] = []  # time.monotonic() of each post, in order
        received, times = self.posts, self.times

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                times.append(time.monotonic())
                received.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def with_subject(self, text: str) -> list[dict[str, Any]]:
        return [p for p in list(self.posts) if text in str(p.get("subject"))]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _dotsync_automations() -> list[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return sorted((a for a in client.read_automations() if a.name.startswith("dotsync: ")),
                      key=lambda a: a.name)


def test_installed_automations_post_in_doubt_sends_and_failed_runs(
        prefect_server, receiver, tmp_path, monkeypatch) -> None:
    from dotsync.flows.sync import sync

    runner = CliRunner()
    first = runner.invoke(main, ["alerts", "install", "--webhook", receiver.url])
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 4
    before = {(a.name, a.id) for a in _dotsync_automations()}
    again = runner.invoke(main, ["alerts", "install", "--webhook", receiver.url])
    assert again.exit_code == 0, again.output
    assert again.output.count("updated") == 4
    assert {(a.name, a.id) for a in _dotsync_automations()} == before  # no duplicates
    assert {n for n, _ in before} == {
        "dotsync: run failed or crashed", "dotsync: sends in doubt",
        "dotsync: rejects above 10 %", "dotsync: no completed sync for 2 hours"}

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    config = EmulatorConfig(import_delay=0.02, password="pw-alerts-not-to-leak")
    with EmulatorServer(config) as emulator:
        for key, value in {"DOTDIGITAL_API_ENDPOINT": emulator.url,
                           "DOTDIGITAL_API_USER": emulator.config.user,
                           "DOTDIGITAL_API_PASSWORD": emulator.config.password,
                           "DOTSYNC_DATABASE_URL": url, "DOTSYNC_DEFAULT_REGION": "GB",
                           "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("DOTSYNC_ORDER_CAMPAIGN", raising=False)
        monkeypatch.chdir(tmp_path)
        store = Store(url)
        stage(store, "certificates", [certificate(1, "r1@example.com")])
        store.dispose()
        # The send goes out but its answer is lost: the certificate stays in doubt.
        emulator.state.faults.script.append(
            {"kind": "drop_after", "path": "/v2/email/triggered-campaign", "method": "POST"})
        state = sync.with_options(retries=0)(poll_interval=0.02, return_state=True)
        assert state.is_completed() and state.result()["certificates"]["in_doubt"] == 1

        wait_for(lambda: receiver.with_subject("sends in doubt"), 120,
                 "the in-doubt automation's webhook post")
        post = receiver.with_subject("sends in doubt")[0]
        assert "dotsync.run.completed for sync" in post["body"]
        assert emulator.config.user in post["body"]
        counts = json.loads(post["body"].split("counts ", 1)[1])
        assert counts["in_doubt"] == 1 and counts["certificates_in_doubt"] == 1
        assert not receiver.with_subject("a run failed")

        # Refused credentials fail the run: Prefect's Failed event fires the other one.
        monkeypatch.setenv("DOTDIGITAL_API_PASSWORD", "wrong-password")
        failed = sync.with_options(retries=0)(poll_interval=0.02, return_state=True)
        assert failed.is_failed()
        wait_for(lambda: receiver.with_subject("a run failed"), 120,
                 "the failed-run automation's webhook post")
        post = receiver.with_subject("a run failed")[0]
        assert "prefect.flow-run.Failed" in post["body"]
        assert str(failed.state_details.flow_run_id) in post["body"]
    for post in receiver.posts:
        assert "pw-alerts-not-to-leak" not in json.dumps(post)
        assert "wrong-password" not in json.dumps(post)


def _env(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer, url: str) -> None:
    for key, value in {"DOTDIGITAL_API_ENDPOINT": emulator.url,
                       "DOTDIGITAL_API_USER": emulator.config.user,
                       "DOTDIGITAL_API_PASSWORD": emulator.config.password,
                       "DOTSYNC_DATABASE_URL": url, "DOTSYNC_DEFAULT_REGION": "GB",
                       "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOTSYNC_ORDER_CAMPAIGN", raising=False)
    monkeypatch.delenv("DOTSYNC_CREDENTIALS_BLOCK", raising=False)


def test_installed_automations_post_rejects_above_the_share_and_a_stale_sync(
        prefect_server, receiver, tmp_path, monkeypatch) -> None:
    """A run rejecting 2 of 3 customers fires the reject-share automation; then, with
    the "no completed sync" window at 15 seconds (Prefect's shortest is 10), the lack
    of a further completed sync fires the proactive one for that account."""
    from dotsync.flows.sync import sync
    from prefect.events.schemas.automations import Posture

    runner = CliRunner()
    too_short = runner.invoke(main, ["alerts", "install", "--webhook", receiver.url,
                                     "--stale-hours", "0.002"])
    assert too_short.exit_code == 2
    assert "7.2 seconds" in too_short.output and "at least 10 seconds" in too_short.output
    installed = runner.invoke(main, ["alerts", "install", "--webhook", receiver.url,
                                     "--stale-hours", str(15 / 3600)])
    assert installed.exit_code == 0, installed.output
    try:
        by_name = {a.name: a for a in _dotsync_automations()}
        assert set(by_name) == {
            "dotsync: run failed or crashed", "dotsync: sends in doubt",
            "dotsync: rejects above 10 %", "dotsync: no completed sync for 15 seconds"}
        stale = by_name["dotsync: no completed sync for 15 seconds"].trigger
        assert stale.posture == Posture.Proactive
        assert stale.within == timedelta(seconds=15)
        assert stale.expect == stale.after == {"dotsync.run.completed"}

        url = f"sqlite:///{tmp_path / 'alerts.db'}"
        config = EmulatorConfig(import_delay=0.02, password="pw-alerts-not-to-leak")
        with EmulatorServer(config) as emulator:
            _env(monkeypatch, emulator, url)
            monkeypatch.chdir(tmp_path)
            store = Store(url)
            stage(store, "customers", [customer(1), customer(2, email="two@@example.com"),
                                       customer(3, email="not-an-email")])
            store.dispose()
            assert not receiver.posts
            before_run = time.monotonic()
            state = sync.with_options(retries=0)(poll_interval=0.02, return_state=True)
            assert state.is_completed(), state.message
            report = state.result()
            assert (report["contacts"]["sent"], report["contacts"]["rejected"]) == (1, 2)

            wait_for(lambda: receiver.with_subject("more than 10 % rejected"), 120,
                     "the reject-share automation's webhook post")
            post = receiver.with_subject("more than 10 % rejected")[0]
            assert "dotsync.run.completed for sync" in post["body"]
            counts = json.loads(post["body"].split("counts ", 1)[1])
            assert counts["rejected"] == 2 and counts["considered"] == 3

            # No other sync completes: the proactive trigger fires once the window the
            # run's event opened ends without one (Prefect evaluates every 5 s), never
            # before: the event occurred after `before_run`.
            subject = "dotsync: no completed sync for 15 seconds"
            wait_for(lambda: receiver.with_subject(subject), 120,
                     "the stale-sync automation's webhook post")
            at = next(t for t, p in zip(receiver.times, receiver.posts, strict=True)
                      if p.get("subject") == subject)
            assert at - before_run >= 15
            post = receiver.with_subject(subject)[0]
            assert f"for account {emulator.config.user} in the last 15 seconds" in post["body"]
            assert not receiver.with_subject("sends in doubt")
            assert not receiver.with_subject("a run failed")
    finally:  # leave the default window, so no other test's syncs raise stale alerts
        again = runner.invoke(main, ["alerts", "install", "--webhook", receiver.url])
        assert again.exit_code == 0, again.output
    assert "dotsync: no completed sync for 2 hours" in {a.name for a in _dotsync_automations()}
    for post in receiver.posts:
        assert "pw-alerts-not-to-leak" not in json.dumps(post)
