"""Benchmark: what a reconciliation costs, incremental against full, at two sizes.

    python benchmarks/reconcile.py [--customers 2000] [--orders 4000] [--changed 0.01]
                                   [--page-size 1000] [--sample 100]

For each size (the given one and one 10x smaller): stage customers and orders in a fresh
SQLite store, sync them into the bundled emulator (in-process, bulk imports), reconcile
once (the first run: counts and a sample), change ``--changed`` of the insight records
in the emulator, then time an incremental reconciliation and a full one. Prints wall
time, API calls and peak memory of each, and the ratios full / incremental; the calls
should follow the documented cost per run (docs/RUNNING.md, "Reconciliation").
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from dotsync.config import Settings  # noqa: E402
from dotsync.dotdigital import DotdigitalClient  # noqa: E402
from dotsync.emulator import EmulatorConfig, EmulatorServer  # noqa: E402
from dotsync.reconcile import ReconcileOptions, reconcile  # noqa: E402
from dotsync.store import Store  # noqa: E402
from dotsync.sync.engine import Options, SyncEngine  # noqa: E402
from dotsync.sync.run import run_sync  # noqa: E402
from tests.e2e.helpers import customer, order, stage  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_size(customers: int, orders: int, changed: float, folder: Path, page_size: int,
             sample: int) -> dict[str, float]:
    url = f"sqlite:///{folder / f'rec-{customers}.db'}"
    store = Store(url)
    stage(store, "customers", [customer(i) for i in range(customers)])
    stage(store, "orders", [order(i, f"customer{i % customers}@example.com")
                            for i in range(orders)])
    with EmulatorServer(EmulatorConfig(import_delay=0.01, random_seed=1)) as emulator:
        settings = Settings(api_user=emulator.config.user,
                            api_password=SecretStr(emulator.config.password),
                            api_endpoint=emulator.url, database_url=url, default_region="GB",
                            certificate_campaign_id=1001)
        with DotdigitalClient.from_settings(settings) as client:
            run_sync(SyncEngine(store, settings, client,
                                options=Options(poll_interval=0.01, bulk_threshold=200)))
        figures: dict[str, float] = {}
        with DotdigitalClient.from_settings(settings) as client:
            reconcile(store, settings, client, ReconcileOptions(
                sample=sample, page_size=page_size, rng=random.Random(1)))
            for i in range(0, orders, max(1, round(1 / changed))):
                emulator.state.alter_insight("Purchases", f"O{i}", {"order_total": 0.5})
            for name, full in (("incremental", False), ("full", True)):
                start = time.perf_counter()
                result = reconcile(store, settings, client, ReconcileOptions(
                    full=full, sample=sample, page_size=page_size, max_calls=100_000,
                    rng=random.Random(2)))
                figures[f"{name}_seconds"] = time.perf_counter() - start
                figures[f"{name}_calls"] = result.api_calls
                figures[f"{name}_found"] = result.total
    store.dispose()
    figures["peak_mb"] = _peak_mb()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for customers, orders in ((args.customers // 10, args.orders // 10),
                                  (args.customers, args.orders)):
            f = one_size(customers, orders, args.changed, Path(tmp), args.page_size,
                         args.sample)
            print(f"{customers} customers / {orders} orders, {args.changed:.0%} changed:")
            for name in ("incremental", "full"):
                print(f"  {name:11} {f[name + '_seconds']:7.2f} s  "
                      f"{int(f[name + '_calls']):6d} calls  {int(f[name + '_found']):6d} found")
            print(f"  full / incremental: time x{f['full_seconds'] / f['incremental_seconds']:.1f}"
                  f", calls x{f['full_calls'] / max(1, f['incremental_calls']):.1f}; "
                  f"peak RSS {f['peak_mb']:.0f} MB (process so far)")


if __name__ == "__main__":
    main()
