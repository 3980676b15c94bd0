"""The Prefect UI shows an operator the run report: headless Chromium opens the UI of
the served backfill's server, finds the flow run, opens its Artifacts tab and the
table of records that need attention, and sees a rejected record there.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; Playwright's own browser
download is not used). Skipped when it is missing outside CI; in CI it must be there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import MARKER, Processes, Served
from tests.deploy.test_serve import REJECTED_CURRENCY, REJECTED_ORDER, api, backfill_run

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


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
