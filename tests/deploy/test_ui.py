"""The Prefect UI as an operator uses it, in headless Chromium against the served
deployments' server: the run report of a backfill (the flow run's Artifacts tab and
the table of records that need attention, with a rejected record); the sync
deployment's custom-run form, which offers the entities as choices; and the logs of a
run started from that form, which show the client's wait for a 429's reset.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; Playwright's own browser
download is not used). Skipped when it is missing outside CI; in CI it must be there.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dotsync.sync.entities import ENTITIES
from tests.deploy.conftest import BLOCK_NAME, MARKER, Processes, Served, wait_for
from tests.deploy.test_serve import REJECTED_CURRENCY, REJECTED_ORDER, api, backfill_run

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def _browser_page(processes: Processes, screenshot: Path) -> Iterator[Any]:
    """A page of headless Chromium; a screenshot of what it saw is kept, also on failure."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # the first page load compiles the UI's bundle
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            env={**os.environ, MARKER: processes.marker},  # checked for leftovers too
        )
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            yield page
        finally:
            if page is not None:
                page.screenshot(path=str(screenshot), full_page=True)
            browser.close()


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium for the UI test")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


def _report_artifacts(served: Served, flow_run_id: str) -> tuple[dict[str, Any], list[str]]:
    """The table artifact naming the rejected order's currency, wherever the report was
    published (the backfill run itself or a subflow run), and the keys of its run's
    other artifacts."""
    runs = [flow_run_id] + [r["id"] for r in api(
        served, "POST", "/flow_runs/filter",
        flow_runs={"parent_flow_run_id": {"any_": [flow_run_id]}})]
    artifacts = api(served, "POST", "/artifacts/filter",
                    artifacts={"flow_run_id": {"any_": runs}})
    tables = [a for a in artifacts
              if a["type"] == "table" and a["key"] and REJECTED_CURRENCY in str(a["data"])]
    assert tables, f"no report table names {REJECTED_CURRENCY!r}: {[a['key'] for a in artifacts]}"
    table = tables[0]
    keys = [a["key"] for a in artifacts
            if a["key"] and a["flow_run_id"] == table["flow_run_id"] and a["type"] != "progress"]
    return table, keys


def test_the_ui_shows_the_run_report_with_a_rejected_record(
    served: Served, processes: Processes, tmp_path: Path
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # the first page load compiles the UI's bundle

    flow_run = backfill_run(served)
    assert flow_run.state.is_completed()
    table, keys = _report_artifacts(served, str(flow_run.id))
    assert any(k.endswith("-report") for k in keys), keys
    screenshot = tmp_path / "run-report.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            env={**os.environ, MARKER: processes.marker},  # checked for leftovers too
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{served.server.url}/runs/flow-run/{table['flow_run_id']}")
            expect(page.locator(".p-tab", has_text="Artifacts")).to_be_visible()
            expect(page.get_by_text("Completed").first).to_be_visible()

            page.locator(".p-tab", has_text="Artifacts").click()
            for key in keys:  # the Markdown report and the table, as cards
                expect(page.locator(".artifact-card__title", has_text=key)).to_be_visible()
            page.locator("a", has=page.locator(".artifact-card__title",
                                               has_text=table["key"])).click()

            row = page.locator("tr", has=page.locator(
                "td", has_text=re.compile(rf"^\s*{REJECTED_ORDER}\s*$")))
            expect(row).to_be_visible()
            expect(row).to_contain_text(f"currency '{REJECTED_CURRENCY}' is not an ISO 4217 code")
            expect(row.locator("td", has_text=re.compile(r"^\s*rejected\s*$"))).to_be_visible()
            expect(page.get_by_text("XXY", exact=False).first).to_be_visible()
        finally:
            if "page" in locals():  # also on failure: what the browser saw
                page.screenshot(path=str(screenshot), full_page=True)
            browser.close()

    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a rendered page, not an empty canvas


@contextmanager
def _budget_taken_by_another_app(served: Served) -> Iterator[threading.Event]:
    """Another integration on the same API user spends the account's call budget: every
    call of ours meets a 429 until the returned event is set. The emulator's rate limit
    goes to 10 calls per 2-second window, and a thread takes each free slot as it comes
    (through the emulator's own accounting, as that app's calls would)."""
    state = served.emulator.state
    config = state.config
    before = (config.rate_limit_per_minute, config.rate_limit_window)
    done = threading.Event()

    def spend() -> None:
        while not done.is_set():
            state.take_rate_slot(True)
            done.wait(0.01)

    config.rate_limit_per_minute, config.rate_limit_window = 10, 2.0
    thread = threading.Thread(target=spend, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        done.set()
        thread.join(timeout=10)
        config.rate_limit_per_minute, config.rate_limit_window = before


def test_the_run_form_offers_the_entities_and_the_run_logs_show_a_429_wait(
    served: Served, processes: Processes, tmp_path: Path
) -> None:
    """Run → Custom run on the sync deployment: ``entities`` is a choice of contacts,
    orders and certificates, ``credentials_block`` a block picker. The run submitted
    from the form (the deployment's entities, no preflight, the picked block) meets a 429 on its
    first calls; its logs page shows the client waiting for the reset, a ``dotsync.*``
    record that reaches the run's logs."""
    _chromium_or_skip()
    from playwright.sync_api import expect

    assert backfill_run(served).state.is_completed()  # little is left for the sync to send
    deployment = api(served, "GET", "/deployments/name/sync/sync")
    block = api(served, "GET", f"/block_types/slug/dotdigital-credentials/block_documents/"
                               f"name/{BLOCK_NAME}")
    waiting = re.compile(r"rate limited \(account\); waiting \d+(\.\d+)? s for the reset")

    def runs_now() -> list[dict[str, Any]]:
        return api(served, "POST", "/flow_runs/filter",
                   deployments={"id": {"any_": [deployment["id"]]}})

    earlier = {r["id"] for r in runs_now()}  # other tests' runs of this deployment

    def our_run() -> dict[str, Any] | None:
        # A new run, with preflight off (scheduled runs have it on).
        return next((r for r in runs_now() if r["id"] not in earlier
                     and r["parameters"].get("preflight") is False), None)

    calls_before = len(served.emulator.state.calls())
    with _budget_taken_by_another_app(served) as spent, \
            _browser_page(processes, tmp_path / "run-form.png") as page:
        refused: list[str] = []  # the API's errors, for the failure message
        page.on("response", lambda r: refused.append(f"{r.status} {r.request.method} {r.url}")
                if "/api/" in r.url and r.status >= 400 else None)
        page.goto(f"{served.server.url}/deployments/deployment/{deployment['id']}")
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Custom run").click()
        page.wait_for_url(re.compile(r"/run(\?|$)"), wait_until="commit")

        entities = page.locator(".schema-form-property", has_text="entities (Optional)")
        entities.get_by_role("button", name="list", exact=True).click()
        choice = entities.locator(".p-select-button__control")
        choice.click()
        options = page.get_by_role("option")
        if not options.first.is_visible():  # the list opens on a key as well
            choice.press("ArrowDown")
        expect(options).to_have_text(list(ENTITIES))  # what the registry runs
        page.keyboard.press("Escape")
        # The deployment's own entities come preselected, and the run keeps them.
        expect(choice).to_have_attribute("modelvalue", ",".join(
            deployment["parameters"]["entities"]))
        preflight = page.locator(".schema-form-property", has_text="preflight (Optional)")
        preflight.get_by_role("switch").click()  # the sample shop fails the go-live checks
        expect(preflight.get_by_role("switch")).to_have_attribute("aria-checked", "false")
        # The credentials as a block picked from a list (the serve process has no API
        # user in its environment: the run works only if the block is loaded).
        credentials = page.locator(".schema-form-property",
                                   has_text="credentials_block (Optional)")
        credentials.get_by_role("button", name="DotdigitalCredentials", exact=True).click()
        picker = credentials.locator(".p-select-button__control").first
        picker.click()
        blocks = page.get_by_role("option").filter(has_text=BLOCK_NAME)
        if not blocks.first.is_visible():  # the list opens on a key as well
            picker.press("ArrowDown")
        blocks.first.click()
        expect(picker).to_contain_text(BLOCK_NAME)
        submit = page.get_by_role("button", name="Submit")
        submit.click()
        # A server busy with other runs may answer 5xx once ("Something went wrong"):
        # the form stays, and is submitted again. The page's wait lets its events in.
        run, deadline, again = None, time.monotonic() + 120, True
        while run is None and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            run = our_run()
            if run is None and again and any(e.startswith("5") for e in refused):
                again = False
                submit.click()
        assert run is not None, "no run from the form; the API said:\n" + "\n".join(refused)
        assert run["parameters"]["preflight"] is False
        assert run["parameters"]["credentials_block"] == {"$ref": {"block_document_id": block[
            "id"]}}  # a reference: the block's values never enter the run's parameters
        # The first call the run makes is refused; then the other app lets it be.
        wait_for(lambda: any(c["status"] == 429
                             for c in served.emulator.state.calls()[calls_before:]),
                 180, "a 429 answered to the run", served.proc, served.log, interval=0.2)
        spent.set()

    def ended() -> dict[str, Any] | None:
        found = api(served, "GET", f"/flow_runs/{run['id']}")
        return found if found["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"} else None

    final = wait_for(ended, 180, "the run from the form", served.proc, served.log,
                     interval=0.5)
    assert final["state"]["type"] == "COMPLETED", final["state"]

    def logged() -> list[str]:  # the run's logs reach the server in batches
        entries = api(served, "POST", "/logs/filter", limit=200,
                      logs={"flow_run_id": {"any_": [run["id"]]}})
        return [e["message"] for e in entries if waiting.search(e["message"])]

    wait_for(logged, 60, "the 429 wait in the run's logs")

    with _browser_page(processes, tmp_path / "run-logs.png") as page:
        page.goto(f"{served.server.url}/runs/flow-run/{run['id']}")
        expect(page.get_by_text("Completed").first).to_be_visible()
        page.locator(".p-tab", has_text="Logs").click()
        expect(page.get_by_text(waiting).first).to_be_visible()
