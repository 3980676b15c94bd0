"""Benchmark: the catalogue (products step) at 1M products, and at a tenth of that.

    python benchmarks/catalog.py [--products 1000000] [--stores 3] [--latency 0.05]
                                 [--import-delay 20] [--poll 30] [--max-bytes 48000000]

For each size (the full one and one 10x smaller), in separate processes so each
peak-memory figure is its own:

1. stage generated products straight into a fresh SQLite staging store, ``--stores``
   stores interleaved row by row (the worst order for per-store imports), 1% of them
   disabled (removed through ``deleteRecords``);
2. start the emulator as its own process, from an empty account, with ``--latency``
   per call and imports that take ``--import-delay`` seconds;
3. run the sync's steps limited to products (``dotsync.sync.run``, no Prefect) with
   imports at ``--max-bytes`` (under Dotdigital's 50 MB cap) and polls every ``--poll``;
4. print wall time, API calls by operation, and the minimum the documented limits
   allow: per store one ``POST`` creating its collection, its records' bytes in imports
   at the 50 MB cap with one poll each, its disabled SKUs in deletes of 5,000 keys; plus
   the account-info and collection-listing calls (record sizes from the serialised
   records of a 20,000-product sample, scaled).

Then: calls / minimum (target <= 1.2) and peak memory between the sizes (target: flat,
within 20%).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC_CAP = 50 * 1000 * 1000  # Dotdigital: an import body of at most 50 MB
DELETE_KEYS = 5000  # deleteRecords: 1 to 5000 keys a call
NAMES = ["Enamel mug", "Oak desk lamp", "Wool socks (3 pack)", "Red T-shirt, size M",
         "Linen tea towel", "Ceramic bowl — large"]


def stage(db: Path, products: int, stores: int) -> None:
    """Write the staging table directly: the benchmark times the step, not a load."""
    from dotsync.store import Store
    from dotsync.store.schema import ENTITY_COLUMNS

    Store(f"sqlite:///{db}").dispose()
    conn = sqlite3.connect(db)
    columns = ENTITY_COLUMNS["products"]

    def rows(start: int, stop: int):
        for i in range(start, stop):
            values = {
                "sku": f"SKU-{i:08d}", "store": f"store{i % stores}",
                "name": NAMES[i % len(NAMES)], "price": f"{(i % 9000) / 100 + 1:.2f}",
                "sale_price": f"{(i % 9000) / 100:.2f}" if i % 4 == 0 else None,
                "currency": "GBP", "url": f"https://shop.example.com/p/{i}",
                "image_url": f"https://cdn.example.com/p/{i}.jpg",
                "categories": '["Home", "Kitchen"]' if i % 2 else '["Clothing"]',
                "stock": str(i % 40), "status": "disabled" if i % 100 == 7 else "enabled",
                "updated_at": "2026-01-01T00:00:00Z"}
            yield tuple(values.get(c) for c in columns)

    sql = (f"INSERT INTO products ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    for start in range(0, products, 100_000):
        conn.executemany(sql, rows(start, min(products, start + 100_000)))
    conn.commit()
    conn.close()


def minimum_calls(db: Path, products: int, stores: int) -> tuple[int, float]:
    """The fewest calls the documented limits allow, and the records' megabytes."""
    from dotsync.data_contracts.products import validate_products

    from dotsync.dotdigital.wire import dumps
    from dotsync.store import Store
    from dotsync.sync.catalog_plan import product_record
    from dotsync.sync.steps.records import records

    store = Store(f"sqlite:///{db}")
    sample = min(20_000, products)
    frame = store.read_staged("products").head(sample)
    valid = validate_products(frame).valid
    enabled = [r for r in records(valid) if r["status"] == "enabled"]
    per_record = sum(len(dumps({"key": r["sku"], "json": product_record(r)})) + 1
                     for r in enabled) / max(1, len(enabled))
    store.dispose()
    share = len(enabled) / max(1, len(valid))
    calls = 2  # account-info, the collection listing
    total = 0.0
    for s in range(stores):
        n = len(range(s, products, stores))
        record_bytes = per_record * n * share
        total += record_bytes
        removed = n - round(n * share)
        calls += 1 + 2 * math.ceil(record_bytes / DOC_CAP) + math.ceil(removed / DELETE_KEYS)
    return calls, total / 1e6


def run_step(args: argparse.Namespace) -> None:
    """In its own process: the products step, printing one JSON line."""
    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.store import Store
    from dotsync.sync.engine import Options, SyncEngine
    from dotsync.sync.run import run_sync

    settings = Settings.from_env()
    store = Store(settings.database_url)
    t0 = time.perf_counter()
    with DotdigitalClient.from_settings(settings) as client:
        engine = SyncEngine(store, settings, client, options=Options(
            poll_interval=args.poll, import_max_bytes=args.max_bytes, track_settled=False))
        report = run_sync(engine, ["products"])
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "report": report.as_dict(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
                     default=str))


def measure(args: argparse.Namespace, products: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="dotsync-catalog-"))
    db = work / "staging.db"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--stage-only", str(db), "--products",
                    str(products), "--stores", str(args.stores)], check=True)
    print(f"  staged {products} products in {time.perf_counter() - t0:.0f} s", flush=True)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "dotsync.emulator", "--port", "0", "--latency",
         str(args.latency), "--import-delay", str(args.import_delay)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert emulator.stdout is not None
    url = emulator.stdout.readline().strip()
    env = {**os.environ, "DOTDIGITAL_API_ENDPOINT": url,
           "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "demo-password",
           "DOTSYNC_DATABASE_URL": f"sqlite:///{db}", "DOTSYNC_DEFAULT_REGION": "GB"}
    env.pop("DOTSYNC_CATALOG_COLLECTION", None)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--run-only", "--poll", str(args.poll),
             "--max-bytes", str(args.max_bytes)], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"the catalogue run failed:\n{out.stderr[-3000:]}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["minimum_calls"], result["payload_mb"] = minimum_calls(db, products, args.stores)
    shutil.rmtree(work, ignore_errors=True)  # the 1M staging store is a gigabyte
    return result


def show(label: str, r: dict) -> None:
    calls = r["report"]["api_calls"]
    total = sum(calls.values())
    counts = r["report"]["products"]
    print(f"\n{label}: {r['wall']:.0f} s wall, peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"  products: {counts['sent']} sent (imported or removed), {counts['rejected']} "
          f"rejected, {counts['failed']} failed")
    for op, n in sorted(calls.items()):
        print(f"  {op:32s} {n}")
    print(f"  {total} calls; minimum at the 50 MB cap with one poll per import: "
          f"{r['minimum_calls']} ({r['payload_mb']:.0f} MB of records) -> "
          f"{total / r['minimum_calls']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--import-delay", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=30.0)
    parser.add_argument("--max-bytes", type=int, default=48_000_000)
    parser.add_argument("--stage-only", type=Path)
    parser.add_argument("--run-only", action="store_true")
    args = parser.parse_args()
    if args.stage_only:
        stage(args.stage_only, args.products, args.stores)
        return
    if args.run_only:
        run_step(args)
        return
    small = args.products // 10
    print(f"catalogue benchmark: {args.products} and {small} products over {args.stores} "
          f"stores; emulator latency {args.latency} s, imports take {args.import_delay} s, "
          f"polls every {args.poll} s, imports up to {args.max_bytes} bytes", flush=True)
    results = {}
    for label, n in (("small", small), ("full", args.products)):
        print(f"\n[{label}]", flush=True)
        results[label] = measure(args, n)
        show(f"{label} ({n} products)", results[label])
    full, tenth = results["full"], results["small"]
    ratio = sum(full["report"]["api_calls"].values()) / full["minimum_calls"]
    growth = full["peak_rss_mb"] / tenth["peak_rss_mb"]
    print("\nsummary:")
    print(f"  calls / minimum (full): {ratio:.2f} (target <= 1.2)")
    print(f"  peak memory: {tenth['peak_rss_mb']:.0f} MB -> {full['peak_rss_mb']:.0f} MB "
          f"({(growth - 1) * 100:+.0f}% for 10x the products; target: flat, within 20%)")
    print(f"  wall time: {tenth['wall']:.0f} s (small), {full['wall']:.0f} s (full)")


if __name__ == "__main__":
    main()
