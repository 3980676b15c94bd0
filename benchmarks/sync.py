"""Benchmark: the sync flow against the emulator, and a per-record baseline.

    python benchmarks/sync.py [--customers 10000] [--orders 20000] [--certificates 2000]
                              [--latency 0.05] [--baseline-fraction 0.025]

Generates a shop (dotsync.samples, with its deliberate mistakes), loads it into a
fresh SQLite staging store, starts the emulator as a separate process (so the memory
figure is dotsync's own) with ``--latency`` seconds per call and imports that take a
second, then:

1. starts Prefect's temporary API with a trivial flow (Prefect's own start-up,
   reported separately);
2. runs the ``sync`` flow once: wall time, API calls by operation, peak memory;
3. runs it again with nothing changed: write calls (must be 0) and the flow-run time;
4. measures, in the same run, the per-record baseline that integrations without bulk
   use (one upsert per contact, one insight upsert per order, one send per
   certificate, sequentially) on a stated fraction of the same records, and
   extrapolates its time linearly to all of them (its call count is exact).

Prints each figure and the ratios baseline / dotsync.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def account_seed(*fields: str) -> str:
    """A seed file for an account that has the data fields the benchmark's data sends
    (the emulator otherwise starts as a new account, with the default fields only)."""
    from dotsync.emulator.structure import seed_with_fields

    seed = seed_with_fields(*fields)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(seed, f)
    return f.name


def start_emulator(latency: float, import_delay: float) -> tuple[subprocess.Popen, str]:
    from dotsync.samples import DATA_FIELDS

    proc = subprocess.Popen(
        [sys.executable, "-m", "dotsync.emulator", "--port", "0", "--latency", str(latency),
         "--import-delay", str(import_delay),
         "--seed", account_seed(*DATA_FIELDS)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1"):
        proc.kill()
        raise SystemExit(f"the emulator did not start: {url!r}")
    return proc, url


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--certificates", type=int, default=2_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--import-delay", type=float, default=1.0)
    parser.add_argument("--poll-interval", type=float, default=5.0,
                        help="seconds between import polls (Dotdigital advises 5-30)")
    parser.add_argument("--baseline-fraction", type=float, default=0.025)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dotsync-bench-"))
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"

    from dotsync.samples import generate
    from dotsync.store import Store, load_file

    url = f"sqlite:///{work / 'bench.db'}"
    data = generate(customers=args.customers, orders=args.orders,
                    certificates=args.certificates)
    paths = data.write(work / "data")
    store = Store(url)
    for entity, path in paths.items():
        load_file(store, entity, path)
    records = args.customers + args.orders + args.certificates
    print(f"staged {args.customers} customers, {args.orders} orders, {args.certificates} "
          f"certificates ({records} records) in {work}")

    emulator, base = start_emulator(args.latency, args.import_delay)
    try:
        os.environ.update({
            "DOTDIGITAL_API_ENDPOINT": base,
            "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
            "DOTDIGITAL_API_PASSWORD": "demo-password",
            "DOTSYNC_DATABASE_URL": url,
            "DOTSYNC_DEFAULT_REGION": "GB",
            "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
        })
        from dotsync.flows.sync import sync
        from prefect import flow

        @flow(name="warm-up")
        def warm_up() -> int:
            return 1

        t0 = time.perf_counter()
        warm_up()
        startup = time.perf_counter() - t0
        print(f"\nPrefect start-up (temporary API, first flow): {startup:.1f} s (not counted)")

        t0 = time.perf_counter()
        first = sync(poll_interval=args.poll_interval)
        wall = time.perf_counter() - t0
        calls = first["api_calls"]
        total_calls = sum(calls.values())
        print(f"\nsync, first run: {wall:.1f} s wall ({first['duration_seconds']:.1f} s in the "
              f"flow body), {total_calls} API calls, peak RSS {peak_rss_mb():.0f} MB")
        for op, n in sorted(calls.items()):
            print(f"  {op:34s} {n}")
        for entity in ("contacts", "orders", "certificates"):
            c = first[entity]
            print(f"  {entity:12s} sent {c['sent']}, rejected {c['rejected']}, "
                  f"skipped {c['skipped']}, failed {c['failed']}")

        t0 = time.perf_counter()
        again = sync(poll_interval=args.poll_interval)
        rerun = time.perf_counter() - t0
        print(f"\nsync, no-change re-run over {records} staged records: {rerun:.2f} s flow "
              f"run ({again['duration_seconds']:.2f} s in the flow body), "
              f"{again['write_calls']} write calls, {sum(again['api_calls'].values())} calls "
              "in all")

        base_calls, base_time, sample = per_record_baseline(url, base, args.baseline_fraction)
        print(f"\nper-record baseline on {sample} records ({args.baseline_fraction:.1%} of "
              f"each entity): {base_time:.1f} s, {base_calls} calls")
        full_calls = records  # one call per record, exactly
        full_time = base_time * records / max(sample, 1)
        print(f"  extrapolated to all {records} records: {full_calls} calls, "
              f"{full_time:.0f} s")
        print("\nratios (baseline / dotsync):")
        print(f"  API calls: {full_calls / total_calls:.0f}x fewer (target >= 50x)")
        print(f"  wall time: {full_time / wall:.0f}x less (target >= 10x)")
        print(f"  no-change re-run: {again['write_calls']} write calls; flow run "
              f"{rerun:.2f} s (target <= 3 s)")
        print(json.dumps({
            "records": records, "first_run_s": round(wall, 2), "calls": total_calls,
            "rerun_s": round(rerun, 2), "rerun_write_calls": again["write_calls"],
            "baseline_calls": full_calls, "baseline_s_extrapolated": round(full_time, 1),
            "prefect_startup_s": round(startup, 1), "peak_rss_mb": round(peak_rss_mb()),
        }))
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


def per_record_baseline(url: str, base: str, fraction: float) -> tuple[int, float, int]:
    """One call per record, sequentially, on a fraction of each entity's valid rows."""
    from dotsync.data_contracts import validate_certificates, validate_customers, validate_orders

    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient, DotdigitalError
    from dotsync.store import Store
    from dotsync.sync import payloads

    store = Store(url)
    settings = Settings.from_env()
    customers = validate_customers(store.read_staged("customers"), "GB").valid
    orders = validate_orders(store.read_staged("orders")).valid
    certs = validate_certificates(store.read_staged("certificates"), 1001).valid
    take = [max(1, int(len(f) * fraction)) for f in (customers, orders, certs)]
    sample = sum(take)
    client = DotdigitalClient.from_settings(settings)
    t0 = time.perf_counter()
    for row in customers.head(take[0]).to_dict("records"):
        client.upsert_contact(payloads.contact_payload(row))
    for row in orders.head(take[1]).to_dict("records"):
        # A refusal (e.g. a contact outside the sample) costs the call all the same.
        with contextlib.suppress(DotdigitalError):
            client.upsert_contact_insight("Purchases", str(row["order_id"]),
                                          payloads.order_record(row), row["customer_email"])
    for row in certs.head(take[2]).to_dict("records"):
        client.send_triggered_campaign(1001, row["recipient_email"],
                                       payloads.certificate_personalisation(row))
    elapsed = time.perf_counter() - t0
    calls = sum(client.stats.calls.values())
    client.close()
    return calls, elapsed, sample


if __name__ == "__main__":
    main()
