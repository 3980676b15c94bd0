"""Benchmark: the backfill flow at 1M customers / 2M orders, and at a tenth of that.

    python benchmarks/backfill.py [--customers 1000000] [--orders 2000000]
                                  [--latency 0.05] [--import-delay 20] [--poll 30]

For each size (the full one and one 10x smaller), in separate processes so each
peak-memory figure is its own:

1. stage generated customers (mixed national/international mobile numbers) and
   orders straight into a fresh SQLite staging store;
2. start the emulator as its own process, with ``--latency`` per call and imports
   that take ``--import-delay`` seconds (a realistic Dotdigital import time);
3. run the ``backfill`` flow (after a warm-up flow: Prefect's start-up is reported
   apart) with imports at ``--max-bytes`` and polls every ``--poll`` seconds, the
   slowest cadence Dotdigital advises;
4. print wall time, API calls by operation, and the minimum the documented limits
   allow: every import at the 50 MB cap plus one poll per import at that cadence,
   plus the account-info call (import sizes come from the serialised payloads of a
   20,000-record sample of each entity, scaled).

Then the ratios: calls / minimum (target <= 1.2), peak memory (target <= 1 GB, and
within 20% between the sizes), and the full run's wall time (target <= 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC_CAP = 50 * 1000 * 1000  # Dotdigital: an import body of at most 50 MB

LINES = [
    '[{"sku":"MUG-01","name":"Enamel mug","quantity":2,"unit_price":12.0,'
    '"categories":["Kitchen","Gifts"]}]',
    '[{"sku":"TEE-RED-M","name":"Red T-shirt (M)","quantity":1,"unit_price":19.5,'
    '"categories":["Clothing"]},{"sku":"SOCK-3PK","name":"Wool socks","quantity":1,'
    '"unit_price":14.0}]',
    '[{"sku":"LAMP-OAK","name":"Oak desk lamp","quantity":1,"unit_price":64.99}]',
]


def stage(db: Path, customers: int, orders: int) -> None:
    """Write the staging tables directly: the benchmark times the backfill, not a load."""
    from dotsync.store import Store

    Store(f"sqlite:///{db}").dispose()
    conn = sqlite3.connect(db)
    first = ["Jane", "John", "Amira", "Kenji", "Sofia", "Liam", "Chloé", "Mateo"]
    last = ["Doe", "Smith", "Haddad", "Tanaka", "Rossi", "Murphy", "Dubois", "García"]

    def customer_rows(start: int, stop: int):
        for i in range(start, stop):
            # Unique, valid GB mobiles (74xx blocks are allocated whole), in both formats.
            block, number = divmod(i, 1_000_000)
            phone = (f"+44 74{block % 10:02d} {number:06d}" if i % 2
                     else f"074{block % 10:02d} {number:06d}")
            yield (f"C{i}", f"customer{i}@example.com", first[i % 8], last[(i // 8) % 8],
                   phone, "GB", "html", "single", "subscribed" if i % 3 else None, None,
                   "uk-web", "en_GB", '{"TIER":"gold"}', "2026-01-01T00:00:00Z", None)

    def order_rows(start: int, stop: int):
        for i in range(start, stop):
            yield (f"O{i}", f"C{i % customers}", f"customer{i % customers}@example.com",
                   "complete", "GBP", "24.0", "24.0", "4.0", "0", "0", "0",
                   "2026-02-01T10:00:00Z", "2026-02-02T10:00:00Z", LINES[i % 3], "uk-web", None)

    from dotsync.store.schema import ENTITY_COLUMNS

    def insert(entity: str, n: int) -> str:
        # Columns named: the table has more than these (the consent-record columns).
        columns = ENTITY_COLUMNS[entity][:n]
        return (f"INSERT INTO {entity} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * n)})")

    step = 100_000
    for start in range(0, customers, step):
        conn.executemany(insert("customers", 15),
                         customer_rows(start, min(customers, start + step)))
    for start in range(0, orders, step):
        conn.executemany(insert("orders", 16), order_rows(start, min(orders, start + step)))
    conn.commit()
    conn.close()


def payload_bytes(db: Path, customers: int, orders: int) -> tuple[float, float]:
    """Serialised bytes of all contact and order import records, from a sample."""
    from dotsync.data_contracts import validate_customers, validate_orders

    from dotsync.config import Settings
    from dotsync.dotdigital.client import contact_for_import, dumps
    from dotsync.store import Store
    from dotsync.sync import payloads
    from dotsync.sync.steps.orders import fulfilled_date

    store = Store(f"sqlite:///{db}")
    sample = 20_000
    cust = validate_customers(store.read_staged(
        "customers", [f"C{i}" for i in range(min(sample, customers))]), "GB").valid
    ords = validate_orders(store.read_staged(
        "orders", [f"O{i}" for i in range(min(sample, orders))])).valid
    c = sum(len(dumps(contact_for_import(payloads.contact_payload(r)))) + 1
            for r in cust.to_dict("records")) / max(1, len(cust))
    # As the orders step builds them: a fulfilled order carries when it was fulfilled.
    fulfilled = set(Settings().fulfilled_statuses)
    o = sum(len(dumps(payloads.insight_import_record(
                {**r, "fulfilled_date": fulfilled_date(r, None, fulfilled)}))) + 1
            for r in ords.to_dict("records")) / max(1, len(ords))
    return c * customers, o * orders


def run_backfill(args: argparse.Namespace) -> None:
    """In its own process: the flow run, printing one JSON line."""
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from dotsync.flows.backfill import backfill
    from prefect import flow

    @flow(name="warm-up")
    def warm_up() -> int:
        return 1

    t0 = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = backfill(poll_interval=args.poll, import_max_bytes=args.max_bytes,
                      chunk_rows=args.chunk_rows)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "startup": startup, "report": report,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(args: argparse.Namespace, customers: int, orders: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="dotsync-backfill-"))
    db = work / "staging.db"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--stage-only", str(db), "--customers",
                    str(customers), "--orders", str(orders)], check=True)
    print(f"  staged {customers} customers and {orders} orders in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    seed = work / "seed.json"  # an account with the data fields the staged rows send
    from dotsync.emulator.structure import DEFAULT_DATA_FIELDS

    seed.write_text(json.dumps({"dataFields": [*DEFAULT_DATA_FIELDS, "STORE", "LOCALE",
                                                "TIER"]}), encoding="utf-8")
    emulator = subprocess.Popen(
        [sys.executable, "-m", "dotsync.emulator", "--port", "0", "--latency",
         str(args.latency), "--import-delay", str(args.import_delay), "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = emulator.stdout.readline().strip()
    env = {**os.environ, "DOTDIGITAL_API_ENDPOINT": url,
           "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "demo-password",
           "DOTSYNC_DATABASE_URL": f"sqlite:///{db}", "DOTSYNC_DEFAULT_REGION": "GB",
           "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--run-only", "--poll", str(args.poll),
             "--max-bytes", str(args.max_bytes), "--chunk-rows", str(args.chunk_rows)],
            env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"the backfill process failed:\n{out.stderr[-3000:]}")
        timeline = work / "calls.tsv"
        write_timeline(httpx.get(f"{url}/_emulator/calls", timeout=60).json(), timeline)
        print(f"  every API call, with its start and duration: {timeline}", flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    contact_bytes, order_bytes = payload_bytes(db, customers, orders)
    result["minimum_calls"] = (1 + 2 * math.ceil(contact_bytes / DOC_CAP)
                               + 2 * math.ceil(order_bytes / DOC_CAP))
    result["payload_mb"] = (contact_bytes / 1e6, order_bytes / 1e6)
    return result


def write_timeline(calls: list[dict], path: Path) -> None:
    """One line per API call: seconds since the first, duration, method, path, status;
    where the run waited (on an import, a poll, the CPU) reads off it."""
    calls = [c for c in calls if not c["path"].startswith("/_emulator")]
    start = min((c["time"] for c in calls), default=0.0)
    with path.open("w", encoding="utf-8") as out:
        out.write("at_s\tduration_s\tmethod\tpath\tstatus\n")
        for c in sorted(calls, key=lambda c: c["time"]):
            out.write(f"{c['time'] - start:.2f}\t{c.get('duration') or 0:.2f}\t"
                      f"{c['method']}\t{c['path']}\t{c.get('status')}\n")


def show(label: str, r: dict) -> None:
    calls = r["report"]["api_calls"]
    total = sum(calls.values())
    print(f"\n{label}: backfill {r['wall']:.0f} s wall (Prefect start-up {r['startup']:.0f} s "
          f"apart), peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"  contacts: {r['report']['contacts']['sent']} sent, "
          f"{r['report']['contacts']['rejected']} rejected; orders: "
          f"{r['report']['orders']['sent']} sent, {r['report']['orders']['rejected']} rejected")
    for op, n in sorted(calls.items()):
        print(f"  {op:26s} {n}")
    print(f"  {total} calls; minimum at the 50 MB cap with one poll per import: "
          f"{r['minimum_calls']} (payloads {r['payload_mb'][0]:.0f} MB of contacts, "
          f"{r['payload_mb'][1]:.0f} MB of orders) -> {total / r['minimum_calls']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--import-delay", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=30.0)
    parser.add_argument("--max-bytes", type=int, default=48_000_000)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--stage-only", type=Path)
    parser.add_argument("--run-only", action="store_true")
    args = parser.parse_args()
    if args.stage_only:
        stage(args.stage_only, args.customers, args.orders)
        return
    if args.run_only:
        run_backfill(args)
        return
    small = (args.customers // 10, args.orders // 10)
    print(f"backfill benchmark: {args.customers}/{args.orders} and {small[0]}/{small[1]} "
          f"customers/orders; emulator latency {args.latency} s, imports take "
          f"{args.import_delay} s, polls every {args.poll} s", flush=True)
    results = {}
    for label, (c, o) in (("small", small), ("full", (args.customers, args.orders))):
        print(f"\n[{label}]", flush=True)
        results[label] = measure(args, c, o)
        show(f"{label} ({c} customers, {o} orders)", results[label])
    full, tenth = results["full"], results["small"]
    ratio = sum(full["report"]["api_calls"].values()) / full["minimum_calls"]
    growth = full["peak_rss_mb"] / tenth["peak_rss_mb"]
    print("\nsummary:")
    print(f"  calls / minimum (full): {ratio:.2f} (target <= 1.2)")
    print(f"  peak memory: {tenth['peak_rss_mb']:.0f} MB -> {full['peak_rss_mb']:.0f} MB "
          f"({(growth - 1) * 100:+.0f}% for 10x the data; target <= 1 GB and within 20%)")
    print(f"  full backfill wall time: {full['wall']:.0f} s (target <= 300 s)")
    print(f"  time per 1,000 records: {1000 * tenth['wall'] / sum(small):.2f} s (small), "
          f"{1000 * full['wall'] / (args.customers + args.orders):.2f} s (full)")


if __name__ == "__main__":
    main()
