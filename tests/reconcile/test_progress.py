"""The reconciliation's progress: records checked so far, told before each API call and
at the end, which ``dotsync reconcile`` shows as a progress line on a terminal."""

from __future__ import annotations

import io
import random

from dotsync.progress import ENV, ProgressLine
from dotsync.reconcile import ReconcileOptions, reconcile
from tests.reliability.harness import make_client, sync_once


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_the_records_checked_up_to_the_total(shop, monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    sync_once(shop.store, shop.settings)
    seen: list[int] = []
    out = _Tty()
    line = ProgressLine("reconcile: checked", unit="records", stream=out)

    def told(checked: int) -> None:
        seen.append(checked)
        line.update(checked, force=True)

    with make_client(shop.settings) as client:
        found = reconcile(shop.store, shop.settings, client, ReconcileOptions(
            full=True, max_calls=100, page_size=25, rng=random.Random(7),
            on_progress=told))
    line.close()
    checked = sum(t.checked for t in found.tallies.values())
    assert found.complete and checked >= 130 + 60
    assert seen == sorted(seen)  # never goes back
    assert seen[-1] == checked and seen[0] == 0
    assert len(seen) == found.api_calls + 1  # before each call, and once at the end
    assert len(set(seen)) > 2  # it moves while pages are read, not only at the end
    assert f"reconcile: checked: {checked:,} records" in out.getvalue()
