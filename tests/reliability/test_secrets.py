"""Guarantee 5: the API password never leaks, and credentials never go to a host
outside the allow-list.

Runs are made to fail in every way they can (5xx, dropped connections before and after
the server acted, failed imports, credentials refused mid-run, a proxy that echoes the
request's headers into its error pages) with a distinctive password; then every log
record (DEBUG, every logger), the report in all its forms, ``dotsync status``/``rejects``
output, the text and traceback of every exception, and every row of every table of the
store are searched for it (plain, Base64 in a Basic token, URL-quoted).

The allow-list is checked where it matters: a whole run with a lookalike endpoint, a
discovered ``ApiEndpoint`` pointing elsewhere, userinfo tricks, ``http://`` to a
non-loopback host and a redirect must make no request with credentials anywhere but
Dotdigital or loopback.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.dotdigital.errors import HostNotAllowedError
from dotsync.dotdigital.hosts import is_allowed_host
from dotsync.emulator import EmulatorServer
from dotsync.store import Store
from dotsync.sync.engine import RunFailed, SyncEngine
from dotsync.sync.report import RunReport
from dotsync.sync.run import run_sync
from tests.reliability.harness import (
    ORDER_CAMPAIGN,
    PASSWORD,
    USER,
    ShopSize,
    backfill_once,
    make_client,
    settings_for,
    stage_shop,
    sync_once,
    sync_options,
)
from tests.reliability.invariants import check_consistent, dump_store

#: Every form in which the password could leak.
FORMS = {
    "plain": PASSWORD,
    "url-quoted": quote(PASSWORD, safe=""),
    "basic-token": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "json-escaped": json.dumps(PASSWORD)[1:-1],
}


def assert_no_secret(where: str, text: str) -> None:
    for form, secret in FORMS.items():
        assert secret not in text, f"the API password ({form}) leaked into {where}"


class Evidence:
    """Everything a run leaves behind that a person or a system could read."""

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = {}

    def add(self, where: str, text: Any) -> None:
        self.parts.setdefault(where, []).append(text if isinstance(text, str) else repr(text))

    def report(self, report: RunReport) -> None:
        self.add("report --json", json.dumps(report.as_dict(), default=str))
        self.add("report markdown", report.to_markdown())
        self.add("report table", json.dumps(report.table_rows()))
        self.add("report log line", report.log_line())

    def exception(self, exc: BaseException) -> None:
        self.add("exception", str(exc))
        self.add("exception", repr(exc))
        self.add("traceback", "".join(traceback.format_exception(exc)))

    def check(self) -> None:
        assert self.parts, "nothing was collected"
        for where, texts in self.parts.items():
            assert_no_secret(where, "\n".join(texts))


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (httpx and httpcore included), captured."""
    noisy = ["dotsync", "dotsync.sync", "dotsync.dotdigital", "httpx", "httpcore",
             "sqlalchemy.engine", "urllib3"]
    levels = {name: logging.getLogger(name).level for name in noisy}
    caplog.set_level(logging.DEBUG)
    for name in noisy:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def collect_logs(evidence: Evidence, caplog: pytest.LogCaptureFixture) -> None:
    handler = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        evidence.add("log", handler.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            evidence.exception(record.exc_info[1])


def collect_store(evidence: Evidence, store: Store, url: str) -> None:
    from dotsync.cli import main

    evidence.add("store tables", dump_store(store))
    runner = CliRunner()
    for args in (["status", "--json"], ["rejects", "--json"], ["status"], ["rejects"]):
        result = runner.invoke(main, args, env={"DOTSYNC_DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        evidence.add(f"dotsync {' '.join(args)}", result.output)


class EchoingProxy(httpx.HTTPTransport):
    """A misconfigured proxy in front of Dotdigital: every other write it answers itself
    with a 502 whose page echoes the request, headers and all (the Authorization header
    carries the password in Base64; some debugging proxies print it decoded too), and
    upstream errors get the same treatment."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            self.writes += 1
        if request.method != "GET" and self.writes % 2 == 0:
            return self._echo(request, 502)
        response = super().handle_request(request)
        if response.status_code < 400:
            return response
        response.read()
        return self._echo(request, response.status_code)

    @staticmethod
    def _echo(request: httpx.Request, status: int) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        decoded = base64.b64decode(auth.split(" ", 1)[-1] or b"").decode(errors="replace")
        return httpx.Response(status, json={
            "message": f"upstream error for {request.method} {request.url} "
                       f"Authorization: {auth} ({decoded})",
            "errorCode": "proxy:upstreamError",
            "description": f"upstream error; credentials were {decoded}",
            "details": [{"header": auth, "password": decoded.partition(":")[2]}]})


def test_no_secret_after_runs_with_every_fault(emulator: EmulatorServer, sqlite_store: Store,
                                               sqlite_url: str,
                                               debug_logs: pytest.LogCaptureFixture) -> None:
    """Faulty syncs and backfills, an echoing proxy, then a run whose credentials are
    refused mid-way: the password is in none of what they leave behind."""
    evidence = Evidence()
    stage_shop(sqlite_store, ShopSize(customers=12, orders=20, certificates=8))
    settings = settings_for(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN)
    emulator.state.set_faults(error_rate=0.15, drop_rate=0.05, drop_after_rate=0.1,
                              fail_imports=0.3, random_seed=17)
    for bulk in (200, 4):
        evidence.report(sync_once(sqlite_store, settings, bulk_threshold=bulk))
    evidence.report(backfill_once(sqlite_store, settings))
    from tests.e2e.helpers import certificate, customer, order, stage

    stage(sqlite_store, "customers", [customer(200 + i) for i in range(6)])
    stage(sqlite_store, "orders", [order(200 + i, f"customer{200 + i}@example.com")
                                   for i in range(6)])
    stage(sqlite_store, "certificates", [certificate(200 + i, f"customer{200 + i}@example.com")
                                         for i in range(6)])
    # The proxy makes its own errors (every other write); the emulator's random faults
    # stop here, so whether connect() meets two 500s in a row no longer depends on how
    # many calls the runs above happened to make.
    emulator.state.set_faults(error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0,
                              fail_imports=0.0)
    with make_client(settings, transport=EchoingProxy(), max_retries=1) as client:
        engine = SyncEngine(sqlite_store, settings, client, options=sync_options())
        evidence.report(run_sync(engine))
    assert any("upstream error" in str(p.reason) for p in engine.report.problems), \
        "the proxy's echo never reached dotsync: the test tested nothing"
    assert "upstream error" in dump_store(sqlite_store)  # kept, with the secret scrubbed

    # Credentials refused in the middle of a run: the run fails; its exception is read.
    stage(sqlite_store, "certificates", [certificate(50 + i, f"customer{i}@example.com")
                                         for i in range(6)])
    with make_client(settings) as client:
        engine = SyncEngine(sqlite_store, settings, client, options=sync_options())
        real = engine.send_certificates

        def refused_midway(valid: Any) -> None:
            emulator.state.config.password = "rotated-" + PASSWORD[::-1]
            real(valid)

        engine.send_certificates = refused_midway  # type: ignore[method-assign]
        with pytest.raises(Exception) as failure:
            run_sync(engine)
        evidence.exception(failure.value)
        evidence.report(engine.finish("failed", str(failure.value)))
    emulator.state.config.password = PASSWORD

    # A run with the wrong password fails at once, naming the problem, not the secret.
    wrong = Settings(**{**settings.__dict__, "api_password": SecretStr(PASSWORD + "-old")})
    with make_client(wrong) as client, pytest.raises(RunFailed) as refused:
        run_sync(SyncEngine(sqlite_store, wrong, client, options=sync_options()))
    assert "credentials" in str(refused.value)
    evidence.exception(refused.value)

    collect_logs(evidence, debug_logs)
    collect_store(evidence, sqlite_store, sqlite_url)
    evidence.add("repr", repr(settings) + repr(make_client(settings)) + str(settings.describe()))
    evidence.check()
    check_consistent(sqlite_store, emulator).raise_if_any()


def test_no_secret_from_the_runner_process(emulator: EmulatorServer, sqlite_store: Store,
                                           sqlite_url: str, tmp_path: Path) -> None:
    """``python -m dotsync.sync.run`` with faults, and again with a wrong password: its
    stdout and stderr (warnings, tracebacks) hold no password."""
    from tests.reliability.harness import SYNC_ARGS, Job, jobs, subprocess_env

    stage_shop(sqlite_store, ShopSize(customers=6, orders=8, certificates=4))
    # Faults on the calls that are never retried (sends, import submissions), so the
    # runner's production back-off (seconds) does not slow the test down.
    emulator.state.set_faults(error_rate=0.3, drop_after_rate=0.3, random_seed=4, paths=[
        "/v2/email/triggered-campaign", "/contacts/v3/import", "/insightData/v3/import"])
    evidence = Evidence()
    env = subprocess_env(emulator, sqlite_url, order_campaign=ORDER_CAMPAIGN)
    with jobs() as started:
        for password in (PASSWORD, PASSWORD + "-wrong"):
            job = Job(["sync", *SYNC_ARGS, "--bulk-threshold", "3"],
                      {**env, "DOTDIGITAL_API_PASSWORD": password}, tmp_path).start()
            started.append(job)
            job.wait()
            evidence.add("runner stdout", job.stdout)
            evidence.add("runner stderr", job.stderr)
    assert '"status": "failed"' in evidence.parts["runner stdout"][1]
    assert any(c["fault"] for c in emulator.state.calls())
    collect_store(evidence, sqlite_store, sqlite_url)
    evidence.check()


# -- the allow-list ------------------------------------------------------------------------

REFUSED = [
    "https://r1-api.dotdigital.com.evil.example",
    "https://r1-api.dotdigital.com.evil.example:443",
    "https://evildotdigital.com",
    "https://dotdigital.com-evil.example",
    "http://r1-api.dotdigital.com",             # Dotdigital, but not over TLS
    "http://evil.example",                      # http:// to a non-loopback host
    "http://10.0.0.8:8080",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "https://r1-api.dotdigital.com@evil.example",            # userinfo tricks
    f"https://{USER}:{PASSWORD}@r1-api.dotdigital.com",
    "https://r1-api.dotdigital.com:443@evil.example",
    "https://evil.example#@r1-api.dotdigital.com",
    "https://evil.example?@r1-api.dotdigital.com",
    "https://evil.example\\@r1-api.dotdigital.com",
    "https://evil.example/r1-api.dotdigital.com",
    "https://r1-api.dotdigital.com./",
    "https://r1-api.dotdigitaI.com",            # capital i for l
    "https://r1-api.dotdіgital.com",            # Cyrillic і
    "https://r1-api.dotdigital.com\t.evil.example",
    "ftp://r1-api.dotdigital.com",
    "//evil.example",
]


class Recorder(httpx.BaseTransport):
    """Records every request it is handed and answers from ``answer`` (404 by default);
    a request it sees is a request that would have left the machine."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda request: httpx.Response(404))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def credentialed_hosts(self) -> set[str]:
        return {r.url.host for r in self.requests if "Authorization" in r.headers}


@pytest.mark.parametrize("endpoint", REFUSED)
def test_a_run_never_sends_credentials_outside_the_allow_list(
    endpoint: str, sqlite_store: Store, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plain runner with DOTDIGITAL_API_ENDPOINT set to a refused URL: not a single
    request leaves (every transport in the process is watched), the run fails with a
    message naming the problem, and neither it nor the ledger holds the password."""
    from dotsync.sync import run as runner

    stage_shop(sqlite_store, ShopSize(customers=2, orders=2, certificates=2), bad=False)
    seen: list[httpx.Request] = []

    def watch(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ConnectError("the test allows no connection", request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", watch)
    for key, value in {"DOTDIGITAL_API_ENDPOINT": endpoint, "DOTDIGITAL_API_USER": USER,
                       "DOTDIGITAL_API_PASSWORD": PASSWORD, "DOTSYNC_DATABASE_URL": sqlite_url,
                       "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(HostNotAllowedError) as refused:
        runner.main(["sync", "--poll-interval", "0.01"])
    assert seen == [], [str(r.url) for r in seen]
    assert "DOTDIGITAL_API_ENDPOINT" in str(refused.value)  # names the setting to fix
    assert_no_secret("the refusal", str(refused.value) + capsys.readouterr().out)
    assert_no_secret("the store", dump_store(sqlite_store))


@pytest.mark.parametrize("discovered", [
    "https://r1-api.dotdigital.com.evil.example",
    "https://r1-api.dotdigital.com@evil.example",
    "http://r2-api.dotdigital.com",
    "https://evil.example/",
])
def test_a_discovered_endpoint_outside_the_allow_list_is_never_called(
    discovered: str, sqlite_store: Store,
) -> None:
    """No endpoint configured: r1's account-info names the region. If that answer points
    elsewhere (a compromised resolver, a lookalike), the run fails before sending the
    password there."""
    recorder = Recorder(lambda request: httpx.Response(200, json={
        "id": 1, "properties": [{"name": "ApiEndpoint", "type": "String",
                                 "value": discovered}]}))
    settings = Settings(api_user=USER, api_password=SecretStr(PASSWORD), api_endpoint=None,
                        database_url=str(sqlite_store.url), certificate_campaign_id=1001)
    with DotdigitalClient.from_settings(settings, transport=recorder) as client:
        engine = SyncEngine(sqlite_store, settings, client, options=sync_options())
        with pytest.raises(RunFailed) as failed:
            run_sync(engine)
    assert recorder.credentialed_hosts() == {"r1-api.dotdigital.com"}
    assert "refusing to send credentials" in str(failed.value)
    assert_no_secret("the failure", str(failed.value))


def test_a_redirect_elsewhere_is_never_followed(emulator: EmulatorServer, sqlite_store: Store,
                                                sqlite_url: str) -> None:
    """Dotdigital (or something in front of it) answering 307 towards another host: the
    client does not follow; no credentialed request leaves for that host."""
    stage_shop(sqlite_store, ShopSize(customers=2, orders=2, certificates=1), bad=False)
    forward = httpx.HTTPTransport()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(307, headers={
                "Location": "https://r1-api.dotdigital.com.evil.example" + request.url.path})
        return forward.handle_request(request)

    recorder = Recorder(answer)
    settings = settings_for(emulator, sqlite_url)
    with make_client(settings, transport=recorder, max_retries=0) as client:
        report = run_sync(SyncEngine(sqlite_store, settings, client, options=sync_options()))
    hosts = recorder.credentialed_hosts()
    assert hosts == {"127.0.0.1"}, hosts
    assert report.counts["contacts"].sent == 0
    assert all(is_allowed_host(r.url.scheme, r.url.host) for r in recorder.requests)
    check_consistent(sqlite_store, emulator).raise_if_any()
