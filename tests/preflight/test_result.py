"""The result object and the guarantees around the checks: no crash, no secret, flat reads."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import dotsync.preflight.runner as preflight_module
from dotsync.preflight import (
    CHECK_NAMES,
    Check,
    PreflightFailed,
    PreflightResult,
    run_preflight,
    tally,
)
from dotsync.store import Store
from tests.preflight.support import SECRET_PASSWORD, certificates, make_settings, stage


def test_ok_ignores_warnings_but_not_failures_or_skips():
    passing = Check("a", ok=True, detail="fine")
    warning = Check("b", ok=False, severity="warning", detail="hm", fix="look")
    failure = Check("c", ok=False, detail="bad", fix="mend it")
    skipped = Check("d", ok=False, detail="skipped: x", skipped=True)
    assert PreflightResult([passing, warning]).ok
    assert not PreflightResult([passing, failure]).ok
    assert not PreflightResult([passing, skipped]).ok
    assert [c.status for c in (passing, warning, failure, skipped)] == [
        "pass", "warn", "fail", "skipped"]


def test_render_is_a_checklist_with_what_to_do():
    result = PreflightResult([
        Check("credentials", ok=True, detail="accepted"),
        Check("order_campaign", ok=False, detail="campaign 1002 is Paused", fix="resume it"),
        Check("certificate_links", ok=False, severity="warning", detail="sample", fix="replace"),
        Check("region", ok=False, detail="skipped: no client", skipped=True),
    ])
    lines = result.render().splitlines()
    assert lines[1].startswith("✔ credentials")
    assert lines[2].startswith("✘ order_campaign") and "Paused" in lines[2]
    assert lines[3].strip() == "→ resume it"
    assert lines[4].startswith("⚠ certificate_links")
    assert any(line.startswith("– region") for line in lines)
    assert "NOT ready" in lines[-1] and "1 failed" in lines[-1] and "1 skipped" in lines[-1]


def test_as_dict_is_json_with_ok_and_every_check():
    result = PreflightResult([Check("credentials", ok=True, detail="accepted")])
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["ok"] is True
    assert payload["checks"] == [{"name": "credentials", "ok": True, "status": "pass",
                                  "severity": "error", "detail": "accepted", "fix": ""}]
    assert payload["summary"] == {"pass": 1, "fail": 0, "warn": 0, "accepted": 0, "skipped": 0}


def test_raise_if_failed_stops_a_run_and_names_the_check():
    bad = PreflightResult([Check("order_campaign", ok=False, detail="is Paused")])
    with pytest.raises(PreflightFailed, match="order_campaign: is Paused") as info:
        bad.raise_if_failed()
    assert info.value.result is bad
    good = PreflightResult([Check("x", ok=True)])
    assert good.raise_if_failed() is good


def test_without_a_client_the_api_checks_are_skipped_not_crashed(store):
    result = run_preflight(make_settings(), store, None)
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    for name in ("credentials", "region", "order_campaign"):
        assert result.check(name).status == "skipped", name
    assert result.check("insight_collection").ok
    assert not result.ok


def test_an_unreadable_store_skips_the_data_checks_with_the_reason(emulator, preflight, store):
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE certificates"))
        conn.execute(sa.text("DROP TABLE orders"))
    result = preflight(emulator())
    for name in ("certificate_campaign", "certificate_recipients", "certificate_links",
                 "order_currencies"):
        check = result.check(name)
        assert check.status == "skipped", name
        assert "could not read staged" in check.detail
        assert "DOTSYNC_DATABASE_URL" in check.fix
    assert result.check("credentials").ok  # the rest still ran
    assert not result.ok


def test_a_check_that_breaks_is_reported_and_the_others_still_run(emulator, preflight,
                                                                  monkeypatch):
    def broken(ctx):
        raise RuntimeError(f"boom {SECRET_PASSWORD}")

    checks = tuple((n, broken if n == "insight_collection" else f)
                   for n, f in preflight_module._CHECKS)
    monkeypatch.setattr(preflight_module, "_CHECKS", checks)
    result = preflight(emulator())
    check = result.check("insight_collection")
    assert check.status == "fail" and "RuntimeError: boom" in check.detail
    assert SECRET_PASSWORD not in check.detail  # scrubbed even from unexpected errors
    assert result.check("order_currencies").ok
    assert len(result.checks) == len(CHECK_NAMES)


def test_staged_values_are_counted_across_chunks(emulator, preflight, store):
    # the shared link sits in rows 0 and 9: with chunks of 3 rows it spans chunks
    stage(store, "certificates", certificates(
        10, link=lambda i: "https://shop.northwind.co.uk/gift" if i in (0, 9)
        else f"https://shop.northwind.co.uk/gift/{i}"))
    check = preflight(emulator(), chunk_rows=3).check("certificate_links")
    assert check.status == "fail" and "(2 certificates)" in check.detail


def test_tally_reads_chunks_and_keeps_only_distinct_counts(store: Store, monkeypatch):
    stage(store, "orders", [{"currency": c} for c in ["gbp", "GBP ", "EUR", None] * 5])
    seen: list[int] = []
    real = store.iter_staged

    def spy(entity, chunk_rows=50_000, order_by=None):
        for frame in real(entity, chunk_rows=chunk_rows, order_by=order_by):
            seen.append(len(frame))
            yield frame

    monkeypatch.setattr(store, "iter_staged", spy)
    counts = tally(store.iter_staged("orders", chunk_rows=6), {"currency": "upper"})
    assert seen == [6, 6, 6, 2]
    assert counts.rows == 20
    assert counts["currency"].to_dict() == {"GBP": 10, "EUR": 5, "": 5}
