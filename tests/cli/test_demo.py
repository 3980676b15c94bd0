"""The demo without Prefect: sample data, the emulator, the checks, and the sync it is handed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from dotsync.demo import run_demo


def test_the_demo_runs_the_sync_it_is_given_inside_its_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOTDIGITAL_API_ENDPOINT", raising=False)
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", "sqlite:///elsewhere.db")
    seen: dict[str, Any] = {}

    def fake_sync(report_file: Path) -> dict[str, Any]:
        seen["endpoint"] = os.environ["DOTDIGITAL_API_ENDPOINT"]
        seen["database"] = os.environ["DOTSYNC_DATABASE_URL"]
        seen["answer"] = httpx.get(f"{seen['endpoint']}/v2/account-info",
                                   auth=(os.environ["DOTDIGITAL_API_USER"],
                                         os.environ["DOTDIGITAL_API_PASSWORD"])).status_code
        report_file.write_text("# report\n", encoding="utf-8")
        return {"run_id": "demo", "status": "completed"}

    lines: list[str] = []
    result = run_demo(tmp_path / "demo", run_sync=fake_sync, echo=lines.append)

    assert seen["endpoint"].startswith("http://127.0.0.1:") and seen["answer"] == 200
    assert seen["database"] == f"sqlite:///{(tmp_path / 'demo' / 'dotsync.db').resolve()}"
    # the environment is the caller's again once the demo is over
    assert "DOTDIGITAL_API_ENDPOINT" not in os.environ
    assert os.environ["DOTSYNC_DATABASE_URL"] == "sqlite:///elsewhere.db"
    assert result["status"] == "completed" and "checks" in result["preflight"]
    saved = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    assert saved["run_id"] == "demo"
    assert any(line.startswith("loaded ") for line in lines)
    assert any("report.md" in line for line in lines)


def test_the_demo_loads_a_catalogue_per_store(tmp_path: Path) -> None:
    """With the sync run in plain Python: the sample products land in one catalogue per
    store, the withdrawn one and the one with a negative price left out."""
    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.store import Store
    from dotsync.sync.engine import Options, SyncEngine
    from dotsync.sync.run import run_sync

    def plain_sync(report_file: Path) -> dict[str, Any]:
        settings = Settings.from_env()
        store = Store(settings.database_url)
        with DotdigitalClient.from_settings(settings) as client:
            engine = SyncEngine(store, settings, client, options=Options(poll_interval=0.05))
            report = run_sync(engine, ["products"])
        store.dispose()
        report_file.write_text(report.to_markdown(), encoding="utf-8")
        return report.as_dict()

    lines: list[str] = []
    result = run_demo(tmp_path / "demo", run_sync=plain_sync, echo=lines.append)
    assert any(line == "loaded 12 products from " + line.split(" from ")[-1]
               for line in lines if "products" in line)
    assert result["products"]["sent"] == 11 and result["products"]["rejected"] == 1
    assert any(line.startswith("Catalogues") and "catalog_eu-web 5 products" in line
               and "catalog_uk-web 5 products" in line for line in lines), lines


def test_the_demo_recovers_an_abandoned_cart(tmp_path: Path) -> None:
    """Both runs in plain Python, every entity: the sample carts' records are sent, the
    abandoned ones enrol their contacts, and the order placed between the runs turns one
    enrolled cart complete. The printed figures are checked against the emulator's
    state, read over its inspection API after the last run."""
    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.store import Store
    from dotsync.sync.engine import Options, SyncEngine
    from dotsync.sync.run import run_sync

    seen: dict[str, Any] = {}

    def plain_sync(report_file: Path) -> dict[str, Any]:
        settings = Settings.from_env()
        assert settings.cart_program_id is not None, "the demo configures the cart program"
        store = Store(settings.database_url)
        with DotdigitalClient.from_settings(settings) as client:
            engine = SyncEngine(store, settings, client, options=Options(poll_interval=0.05))
            report = run_sync(engine)
        store.dispose()
        report_file.write_text(report.to_markdown(), encoding="utf-8")
        endpoint = os.environ["DOTDIGITAL_API_ENDPOINT"]
        seen["programs"] = httpx.get(f"{endpoint}/_emulator/programs").json()
        seen["insight"] = httpx.get(f"{endpoint}/_emulator/insight").json()
        seen["program_id"] = settings.cart_program_id
        return report.as_dict()

    lines: list[str] = []
    result = run_demo(tmp_path / "demo", run_sync=plain_sync, echo=lines.append)

    records = seen["insight"]["CartInsight"]["records"]
    enrolments = [e for e in seen["programs"]["enrolments"]
                  if e["programId"] == seen["program_id"]]
    enrolled = {c for e in enrolments for c in e["contacts"]}
    complete = {r["contactId"] for r in records if r["json"]["cartPhase"] == "ORDER_COMPLETE"}
    figures = result["abandoned_carts"]
    assert figures["carts_sent"] == len(records)
    assert figures["contacts_enrolled"] == len(enrolled)
    assert figures["carts_recovered"] == len(enrolled & complete)
    # The sample: five carts, three sent (one empty, one without consent), two idle for
    # hours (enrolled), one of those bought between the runs.
    assert (len(records), len(enrolled), len(enrolled & complete)) == (3, 2, 1)
    assert result["carts"]["skipped"] == 2
    assert result["later"]["orders"]["sent"] == 1
    assert all(len(e["contacts"]) == len(set(e["contacts"])) for e in enrolments)
    assert len(enrolled) == sum(len(e["contacts"]) for e in enrolments), "once each"
    assert any(line.strip().startswith("Later: the shopper of abandoned cart")
               for line in lines)
    assert (f"Abandoned carts: {len(records)} carts sent as CartInsight records, "
            f"{len(enrolled)} contacts enrolled into the cart program") in "\n".join(lines)
    assert f"{len(enrolled & complete)} cart recovered" in "\n".join(lines)
