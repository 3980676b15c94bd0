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
