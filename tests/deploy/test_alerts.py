"""``dotsync alerts install`` against a real Prefect server: the automations it creates
fire on a run with an in-doubt send and on a failed run, and post to a webhook on
loopback; installing twice leaves the same automations."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from deployments.cli import main
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from tests.deploy.conftest import wait_for
from tests.e2e.helpers import certificate, stage

pytestmark = pytest.mark.e2e


class Receiver:
    """A webhook receiver on loopback: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
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
    from flows.sync import sync

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
