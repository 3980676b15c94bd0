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
