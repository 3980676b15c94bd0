"""Benchmark: ``dotsync trace`` on a 1M-customer / 2M-order store, and what the attempt
log costs the ledger writes that a backfill makes.

    python benchmarks/trace.py [--customers 1000000] [--orders 2000000] [--settle 200000]

1. Stage the customers and orders (as ``benchmarks/backfill.py`` does), then give each a
   ``synced`` ledger row and an attempt (each order two: a failed import, then the
   successful one), straight through SQLite: the store a backfill leaves behind.
2. Trace 20 random customers and 20 random orders in this process (after one warm-up
   trace: the import of the data contracts is start-up, not lookup) and print the median
   and the slowest (target: under 2 s); then a cold ``dotsync trace orders ID --json``
   process against a cold ``dotsync --help`` (Python and import start-up alone).
3. Settle ``--settle`` orders the way the backfill settles them (5,000 rows per ledger
   write), with and without the attempt log, alternating, three rounds each, and print
   both and their ratio: the attempt log's cost on a backfill's ledger writes.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fill_ledger(db: Path, customers: int, orders: int) -> None:
    """Ledger rows and attempts for every staged record, as after a backfill."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark's scratch store
    when = "2026-11-01 10:00:00.000000"
    step = 100_000
    ledger_sql = ("INSERT INTO ledger (entity, key, state, attempts, run_id, first_seen_at, "
                  "updated_at, sent_at, dotdigital_ref) VALUES (?, ?, 'synced', 1, 'run-1', "
                  "?, ?, ?, ?)")
    attempt_sql = ("INSERT INTO attempts (entity, key, at, run_id, operation, outcome, "
                   "error_code, error_message, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    for start in range(0, customers, step):
        keys = range(start, min(customers, start + step))
        conn.executemany(ledger_sql, (("customers", f"C{i}", when, when, when, "imp-c")
                                       for i in keys))
        conn.executemany(ledger_sql, (("contacts", f"customer{i}@example.com", when, when,
                                        when, "imp-c") for i in keys))
        conn.executemany(attempt_sql, (("customers", f"C{i}", when, "run-1", "contact import",
                                        "synced", None, None, "imp-c") for i in keys))
    for start in range(0, orders, step):
        keys = range(start, min(orders, start + step))
        conn.executemany(ledger_sql, (("orders", f"O{i}", when, when, when, "imp-o")
                                      for i in keys))
        conn.executemany(attempt_sql, (("orders", f"O{i}", "2026-10-31 10:00:00.000000",
                                        "run-0", "insight import", "failed", "Timeout",
                                        "insight import imp-x ended Failed", "imp-x")
                                       for i in keys))
        conn.executemany(attempt_sql, (("orders", f"O{i}", when, "run-1", "insight import",
                                        "synced", None, None, "imp-o") for i in keys))
    conn.commit()
    conn.close()


def time_traces(db: Path, customers: int, orders: int) -> dict[str, list[float]]:
    from dotsync.config import Settings
    from dotsync.store import Store
    from dotsync.trace import trace

    store = Store(f"sqlite:///{db}")
    settings = Settings(database_url=f"sqlite:///{db}", default_region="GB")
    trace(store, settings, "orders", "O0")  # warm-up: imports, first connection
    rng = random.Random(7)
    out: dict[str, list[float]] = {"customers": [], "orders": []}
    for entity, n, prefix in (("customers", customers, "C"), ("orders", orders, "O")):
        for _ in range(20):
            key = f"{prefix}{rng.randrange(n)}"
            start = time.perf_counter()
            story = trace(store, settings, entity, key)
            out[entity].append(time.perf_counter() - start)
            assert story["ledger"] and story["attempts"], story
    store.dispose()
    return out


def cold(db: Path, *command: str) -> float:
    """Wall seconds of one ``dotsync`` process (best of two)."""
    env = {"DOTSYNC_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dotsync.cli", *command], check=True,
                       capture_output=True, env=env, cwd=db.parent)
        best = min(best, time.perf_counter() - start)
    return best


def settle_cost(folder: Path, n: int) -> tuple[float, float]:
    """Seconds to settle ``n`` orders in 5,000-row ledger writes: without, with the log."""
    from dotsync.store import Ledger, Store
    from dotsync.store import attempts as log

    times: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(3):
        for with_log in (False, True):
            store = Store(f"sqlite:///{folder / f'settle-{round_}-{with_log}.db'}")
            ledger = Ledger(store)
            start = time.perf_counter()
            for base in range(0, n, 5_000):
                ledger.record("orders", [
                    {"key": f"O{i}", "state": "synced", "source_hash": "h" * 32,
                     "payload_hash": "p" * 32, "error_code": None, "error_message": None,
                     "error_field": None, "dotdigital_ref": "imp-1"}
                    for i in range(base, min(n, base + 5_000))],
                    run_id="run-1", count_attempt=True,
                    attempt=log.INSIGHT_IMPORT if with_log else None)
            times[with_log].append(time.perf_counter() - start)
            store.dispose()
    return statistics.median(times[False]), statistics.median(times[True])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--settle", type=int, default=200_000)
    args = parser.parse_args()
    from backfill import stage

    with tempfile.TemporaryDirectory(prefix="dotsync-trace-bench-") as tmp:
        folder = Path(tmp)
        db = folder / "store.db"
        start = time.perf_counter()
        stage(db, args.customers, args.orders)
        fill_ledger(db, args.customers, args.orders)
        print(f"store: {args.customers} customers, {args.orders} orders, their ledger rows "
              f"and {args.customers + 2 * args.orders} attempts, built in "
              f"{time.perf_counter() - start:.0f} s")
        found = time_traces(db, args.customers, args.orders)
        for entity, seconds in found.items():
            print(f"  trace {entity}: median {1000 * statistics.median(seconds):.0f} ms, "
                  f"slowest {1000 * max(seconds):.0f} ms over {len(seconds)} (target < 2000)")
        baseline = cold(db, "--help")
        process = cold(db, "trace", "orders", f"O{args.orders // 2}", "--json")
        print(f"  cold `dotsync trace orders ... --json` process: {process:.2f} s, against "
              f"{baseline:.2f} s for `dotsync --help` (start-up alone) in the same run: "
              f"+{process - baseline:.2f} s for the trace")
        without, with_log = settle_cost(folder, args.settle)
        print(f"settling {args.settle} orders in 5,000-row ledger writes: {without:.2f} s "
              f"without the attempt log, {with_log:.2f} s with it: ratio "
              f"{with_log / without:.2f}")


if __name__ == "__main__":
    main()
