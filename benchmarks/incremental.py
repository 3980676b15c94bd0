"""Benchmark: the scheduled sync after a backfill, at 100k/200k and 1M/2M.

    python benchmarks/incremental.py [--customers 1000000] [--orders 2000000]
                                     [--latency 0.05] [--import-delay 2] [--work DIR]

For each size (a tenth of the full one, then the full one):

1. stage generated customers and orders straight into a SQLite staging store (the
   generator of ``benchmarks/backfill.py``) and load them with the ``backfill`` flow
   against the emulator (its own process, ``--latency`` per call). With ``--work DIR``
   the store is kept there after its backfill and reused by later invocations (the
   1M/2M one takes several minutes to build);
2. run the ``sync`` flow, each in a process of its own so each peak-memory figure is
   its own, with the flow's defaults (polls every 5 s):

   * with nothing changed;
   * after 1% changed: 1% of the customers (first name) and the 2% of orders that
     belong to them (coupon code), changed with plain SQL ``UPDATE`` as a source
     system would;
   * after 10% changed, the same way;

   and print the flow-run time (Prefect's start-up measured apart, on a warm-up
   flow), the process's peak RSS (Prefect and the imports included) and the API calls;
   and before each of those sync runs, the preflight a deployed sync makes
   (``preflight: true``: data checks over what the run reads), timed on its own;
3. time ``dotsync status`` (the function behind it) and ``dotsync preflight`` (every
   staged row through the data checks), each in a process of its own.

Then the ratios between the two sizes and the targets: a no-change run <= 2 s and
<= 300 MB at 1M/2M and within 2x of the small store; a 1% change <= 20 s and
<= 500 MB; ``status`` <= 1 s.

The changed customers are those the changed orders belong to, so a reused store
works against a fresh emulator: every contact a run's orders need is pushed by that
run first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIOS = (("no change", 0.0), ("1% changed", 0.01), ("10% changed", 0.10))


def change(db: Path, customers: int, fraction: float, token: str) -> tuple[int, int]:
    """Plain SQL updates: the first ``fraction`` of the customers and their orders."""
    n = int(customers * fraction)
    conn = sqlite3.connect(db, timeout=60)
    with conn:
        changed_customers = conn.execute(
            "UPDATE customers SET first_name = ? "
            "WHERE CAST(substr(customer_id, 2) AS INTEGER) < ?", (f"Run{token}", n)).rowcount
        # Order i belongs to customer i % customers (the generator's rule).
        changed_orders = conn.execute(
            "UPDATE orders SET coupon_code = ? "
            "WHERE CAST(substr(order_id, 2) AS INTEGER) % ? < ?",
            (f"B{token}", customers, n)).rowcount
    conn.close()
    return changed_customers, changed_orders


def run_flow(kind: str, args: argparse.Namespace) -> None:
    """In its own process: one flow run, printing one JSON line."""
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    if kind == "status":
        from dotsync.store import Store
        from dotsync.store.status import status

        store = Store(os.environ["DOTSYNC_DATABASE_URL"])
        t0 = time.perf_counter()
        counts = status(store)
        wall = time.perf_counter() - t0
        print(json.dumps({"wall": wall, "status": counts["entities"],
                          "peak_rss_mb": resource.getrusage(
                              resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    if kind in ("preflight", "preflight-all"):
        from dotsync.config import Settings
        from dotsync.dotdigital import DotdigitalClient
        from dotsync.preflight import run_preflight
        from dotsync.store import Store

        settings = Settings.from_env()
        store = Store(settings.database_url)
        with DotdigitalClient.from_settings(settings) as client:
            t0 = time.perf_counter()
            result = run_preflight(settings, store, client,
                                   changed_only=kind == "preflight")
            wall = time.perf_counter() - t0
        print(json.dumps({"wall": wall, "counts": result.counts(),
                          "peak_rss_mb": resource.getrusage(
                              resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    from prefect import flow

    @flow(name="warm-up")
    def warm_up() -> int:
        return 1

    t0 = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    if kind == "backfill":
        from dotsync.flows.backfill import backfill

        report = backfill(poll_interval=args.poll, chunk_rows=20_000)
    else:
        from dotsync.flows.sync import sync

        report = sync()
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "startup": startup, "report": report,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(kind: str, env: dict[str, str], args: argparse.Namespace) -> dict:
    out = subprocess.run([sys.executable, __file__, "--run-only", kind, "--poll",
                          str(args.poll)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"the {kind} process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _has_backfill(db: Path) -> bool:
    if not db.exists():
        return False
    conn = sqlite3.connect(db)
    try:
        marks = conn.execute("SELECT count(*) FROM dotsync_change_marks").fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return marks >= 2


def start_emulator(args: argparse.Namespace, work: Path) -> subprocess.Popen:
    """The emulator in its own process, as an account with the data fields the staged
    rows send (a new account has only the default ones)."""
    from dotsync.emulator.structure import DEFAULT_DATA_FIELDS

    seed = work / "seed.json"
    seed.write_text(json.dumps({"dataFields": [*DEFAULT_DATA_FIELDS, "STORE", "LOCALE",
                                                "TIER"]}), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "dotsync.emulator", "--port", "0", "--latency",
         str(args.latency), "--import-delay", str(args.import_delay), "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def measure(args: argparse.Namespace, customers: int, orders: int, work: Path) -> dict:
    from benchmarks.backfill import stage

    db = work / f"incremental-{customers}-{orders}.db"
    emulator = start_emulator(args, work)
    url = emulator.stdout.readline().strip()
    env = {**os.environ, "DOTDIGITAL_API_ENDPOINT": url,
           "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "demo-password",
           "DOTSYNC_DATABASE_URL": f"sqlite:///{db}", "DOTSYNC_DEFAULT_REGION": "GB",
           "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    results: dict = {"runs": {}}
    try:
        if _has_backfill(db):
            print(f"  reusing {db} (staged and backfilled earlier)", flush=True)
        else:
            db.unlink(missing_ok=True)
            t0 = time.perf_counter()
            stage(db, customers, orders)
            print(f"  staged {customers} customers and {orders} orders in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            done = _run("backfill", env, args)
            print(f"  backfill: {done['wall']:.0f} s, peak RSS {done['peak_rss_mb']:.0f} MB",
                  flush=True)
        # A first no-change run settles anything the reuse left (not measured).
        _run("sync", env, args)
        token = str(int(time.time()))
        for step, (label, fraction) in enumerate(SCENARIOS):
            # A value of its own per scenario: every selected row really changes.
            changed = change(db, customers, fraction, f"{token}-{step}") if fraction \
                else (0, 0)
            # A deployed sync's preflight (preflight: true) checks what the run reads.
            check = _run("preflight", env, args)
            results.setdefault("preflight", {})[label] = check
            print(f"  {label:12s} preflight data checks (changed only): "
                  f"{check['wall']:.2f} s, peak RSS {check['peak_rss_mb']:.0f} MB", flush=True)
            result = _run("sync", env, args)
            result["changed"] = changed
            results["runs"][label] = result
            show(label, result)
        results["status"] = _run("status", env, args)
        print(f"  status: {results['status']['wall']:.2f} s", flush=True)
        every = _run("preflight-all", env, args)
        results["preflight"]["every row"] = every
        print(f"  dotsync preflight (every row): {every['wall']:.2f} s, peak RSS "
              f"{every['peak_rss_mb']:.0f} MB", flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    return results


def first_sync(args: argparse.Namespace, customers: int, orders: int, work: Path) -> dict:
    """A first load through ``sync`` instead of ``backfill``: its peak memory must not
    grow with the store either (chunks, imports in flight, no set of settled keys)."""
    from benchmarks.backfill import stage

    db = work / f"first-sync-{customers}-{orders}.db"
    db.unlink(missing_ok=True)
    stage(db, customers, orders)
    emulator = start_emulator(args, work)
    url = emulator.stdout.readline().strip()
    env = {**os.environ, "DOTDIGITAL_API_ENDPOINT": url,
           "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "demo-password",
           "DOTSYNC_DATABASE_URL": f"sqlite:///{db}", "DOTSYNC_DEFAULT_REGION": "GB",
           "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    try:
        result = _run("sync", env, args)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    result["changed"] = (customers, orders)
    show("first sync", result)
    db.unlink(missing_ok=True)
    return result


def show(label: str, r: dict) -> None:
    calls = r["report"]["api_calls"]
    c, o = r["report"]["contacts"], r["report"]["orders"]
    print(f"  {label:12s} flow run {r['wall']:6.2f} s (Prefect start-up {r['startup']:.1f} s "
          f"apart), peak RSS {r['peak_rss_mb']:5.0f} MB, {sum(calls.values())} API calls "
          f"({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))}); "
          f"changed {r['changed'][0]}/{r['changed'][1]}; contacts sent {c['sent']}, "
          f"orders sent {o['sent']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--import-delay", type=float, default=2.0)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--only", choices=["small", "full"], default=None)
    parser.add_argument("--first-sync", action="store_true",
                        help="instead: a first load through sync at both sizes (peak RSS)")
    parser.add_argument("--run-only", choices=["sync", "backfill", "status", "preflight",
                                               "preflight-all"])
    args = parser.parse_args()
    if args.run_only:
        run_flow(args.run_only, args)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="dotsync-incremental-"))
    work.mkdir(parents=True, exist_ok=True)
    small = (args.customers // 10, args.orders // 10)
    print(f"incremental benchmark: {small[0]}/{small[1]} and {args.customers}/{args.orders} "
          f"customers/orders; emulator latency {args.latency} s, imports take "
          f"{args.import_delay} s; sync flow defaults (polls every 5 s); store in {work}",
          flush=True)
    results = {}
    sizes = (("small", small), ("full", (args.customers, args.orders)))
    if args.first_sync:
        for label, (c, o) in sizes:
            if not args.only or args.only == label:
                print(f"\n[{label}: {c} customers, {o} orders, first sync]", flush=True)
                first_sync(args, c, o, work)
        return
    for label, (c, o) in sizes:
        if args.only and args.only != label:
            continue
        print(f"\n[{label}: {c} customers, {o} orders]", flush=True)
        results[label] = measure(args, c, o, work)
    if len(results) < 2:
        return
    small_r, full_r = results["small"]["runs"], results["full"]["runs"]
    print("\nsummary (full / small):")
    for label, _ in SCENARIOS:
        f, s = full_r[label], small_r[label]
        print(f"  {label:12s} time {f['wall']:6.2f} s / {s['wall']:6.2f} s = "
              f"{f['wall'] / s['wall']:.2f}x; peak RSS {f['peak_rss_mb']:.0f} / "
              f"{s['peak_rss_mb']:.0f} MB = {f['peak_rss_mb'] / s['peak_rss_mb']:.2f}x; calls "
              f"{sum(f['report']['api_calls'].values())} / "
              f"{sum(s['report']['api_calls'].values())}")
    print(f"  status       {results['full']['status']['wall']:.2f} s / "
          f"{results['small']['status']['wall']:.2f} s")
    nc, one = full_r["no change"], full_r["1% changed"]
    print("targets at full size: no change <= 2 s and <= 300 MB, within 2x of small: "
          f"{nc['wall']:.2f} s, {nc['peak_rss_mb']:.0f} MB, "
          f"{nc['wall'] / small_r['no change']['wall']:.2f}x; 1% change <= 20 s and "
          f"<= 500 MB: {one['wall']:.2f} s, {one['peak_rss_mb']:.0f} MB; status <= 1 s: "
          f"{results['full']['status']['wall']:.2f} s")


if __name__ == "__main__":
    main()
