"""``load --format``: platform order exports from file to staging, at two sizes.

For each platform, writes N orders in the shape its list endpoint returns (Adobe
Commerce ``{"items": [...]}``, commercetools ``{"results": [...]}``, Shopify
``{"orders": [...]}``), then loads the file into a fresh SQLite store in a child
process and prints rows/s and the child's peak memory (max RSS), at a tenth of the
size and at the full size, and the ratio between the two peaks (flat memory: within
20%). The baseline in the same run is the plain ``dotsync load`` of the same number
of already-mapped staging rows as JSON Lines. On a shared machine, wall-clock rates
follow the other load; the rates per CPU second do not. Files of 32 MB or more are
read and mapped in a second process while the first writes: "with a core per process"
is the rate the busier of the two allows when each has a core of its own.

    python benchmarks/sources.py                 # 1,000,000 and 100,000 orders
    python benchmarks/sources.py --orders 200000  # quicker
    python benchmarks/sources.py --platforms shopify --before main~3
        # also load the small file with the dotsync of that git revision, alternating
        # with this one (3 runs each), and print both rates: a before/after in one run

The load average is printed with each figure: the machine is shared, so compare the
rates per CPU second, and the before/after of one run rather than of two.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLATFORMS = ("adobe-commerce", "commercetools", "shopify")


def _adobe(i: int) -> dict:
    return {
        "entity_id": i, "increment_id": f"{i:09d}", "state": "processing",
        "status": "processing", "customer_id": i % 50_000 or None,
        "customer_is_guest": 0 if i % 50_000 else 1, "customer_email": f"c{i % 50_000}@example.com",
        "order_currency_code": "EUR", "grand_total": 59.9, "subtotal": 54.9,
        "tax_amount": 0, "shipping_amount": 5, "discount_amount": -0.0, "total_refunded": None,
        "created_at": "2024-03-01 10:00:00", "updated_at": "2024-03-02 11:00:00",
        "store_id": 1, "coupon_code": None,
        "items": [
            {"item_id": 2 * i, "sku": "MH01-XS-Black", "name": "Chaz Kangeroo Hoodie",
             "product_type": "configurable", "qty_ordered": 1, "price": 52},
            {"item_id": 2 * i + 1, "parent_item_id": 2 * i, "sku": "MH01-XS-Black",
             "name": "Chaz Kangeroo Hoodie-XS-Black", "product_type": "simple",
             "qty_ordered": 1, "price": 0},
            {"item_id": 2 * i + 2, "sku": "24-WG085", "name": "Sprite Yoga Strap",
             "product_type": "simple", "qty_ordered": 1, "price": 2.9},
        ],
        "billing_address": {"email": f"c{i % 50_000}@example.com", "country_id": "DE"},
    }


def _money(cents: int) -> dict:
    return {"type": "centPrecision", "currencyCode": "EUR", "centAmount": cents,
            "fractionDigits": 2}


def _commercetools(i: int) -> dict:
    return {
        "type": "Order", "id": f"ord-{i}", "version": 3, "orderNumber": f"{i}",
        "createdAt": "2024-03-01T10:00:00.000Z", "lastModifiedAt": "2024-03-02T11:00:00.000Z",
        "customerId": f"cust-{i % 50_000}", "customerEmail": f"c{i % 50_000}@example.com",
        "orderState": "Confirmed", "shipmentState": "Shipped", "paymentState": "Paid",
        "totalPrice": _money(5990), "locale": "de-DE",
        "lineItems": [
            {"id": f"li-{i}", "name": {"en": "Shirt", "de": "Hemd"}, "quantity": 2,
             "variant": {"id": 1, "sku": "SHIRT-M"}, "price": {"value": _money(2000)},
             "totalPrice": _money(4000)},
        ],
        "customLineItems": [{"name": {"en": "Engraving"}, "quantity": 1, "money": _money(1990),
                             "totalPrice": _money(1990), "slug": "engraving"}],
        "shippingInfo": {"price": _money(0)}, "returnInfo": [], "syncInfo": [],
    }


def _set(amount: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": "USD"}}


def _shopify(i: int) -> dict:
    return {
        "id": 450789469 + i, "email": f"c{i % 50_000}@example.com", "name": f"#{1000 + i}",
        "created_at": "2024-03-01T10:00:00-05:00", "processed_at": "2024-03-01T10:00:00-05:00",
        "updated_at": "2024-03-02T11:00:00-05:00", "currency": "USD",
        "presentment_currency": "USD", "financial_status": "paid",
        "fulfillment_status": "fulfilled", "cancelled_at": None,
        "total_price": "409.94", "total_price_set": _set("409.94"),
        "subtotal_price": "398.00", "subtotal_price_set": _set("398.00"),
        "total_tax": "11.94", "total_tax_set": _set("11.94"),
        "total_discounts": "0.00", "total_discounts_set": _set("0.00"),
        "total_shipping_price_set": _set("0.00"),
        "discount_codes": [], "customer": {"id": 207119551 + i % 50_000},
        "line_items": [
            {"id": 466157049 + i, "name": "IPod Nano - 8gb - green", "price": "199.00",
             "price_set": _set("199.00"), "quantity": 1, "sku": "IPOD2008GREEN",
             "vendor": None},
            {"id": 518995019 + i, "name": "IPod Nano - 8gb - red", "price": "199.00",
             "price_set": _set("199.00"), "quantity": 1, "sku": "IPOD2008RED",
             "vendor": None},
        ],
        "refunds": [],
    }


SHAPES = {"adobe-commerce": ("items", _adobe), "commercetools": ("results", _commercetools),
          "shopify": ("orders", _shopify)}


def write_file(platform: str, n: int, path: Path) -> None:
    key, make = SHAPES[platform]
    with path.open("w") as f:
        f.write(f'{{"{key}": [\n')
        for i in range(1, n + 1):
            f.write(json.dumps(make(i), separators=(",", ":")))
            f.write(",\n" if i < n else "\n")
        f.write(f'], "total_count": {n}}}\n')


def child(platform: str, path: str, db: str) -> None:
    """Runs in its own process, so its max RSS is this load's alone."""
    from dotsync.store import Store

    store = Store(f"sqlite:///{db}")
    start = time.perf_counter()
    cpu_start = time.process_time()
    if platform == "baseline":
        from dotsync.store import load_file

        report = load_file(store, "orders", path)
    else:
        from dotsync.sources.load import load_platform_file

        report = load_platform_file(store, platform, "orders", path)
    seconds = time.perf_counter() - start
    # The load may read and map in a process of its own: count it too (CPU summed,
    # peak memory of both processes added, as if both peaked at once).
    mine = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = (mine.ru_maxrss + kids.ru_maxrss) / 1024
    writer_cpu = time.process_time() - cpu_start
    reader_cpu = kids.ru_utime + kids.ru_stime
    cpu = writer_cpu + reader_cpu
    import dotsync

    print(json.dumps({"dotsync": str(Path(dotsync.__file__).parent), "rows": report.rows,
                      "inserted": report.counts.inserted,
                      "problems": len(report.problems), "seconds": seconds, "cpu": cpu,
                      "busiest_cpu": max(writer_cpu, reader_cpu),
                      "writer_cpu": writer_cpu, "reader_cpu": reader_cpu,
                      "peak_mb": rss_mb}))


def measure(platform: str, path: Path, tmp: Path, code: Path | None = None) -> dict:
    """Load ``path`` in a child process; ``code``: a directory holding another
    version of the ``dotsync`` package to load with instead of this one."""
    db = tmp / f"{platform}-{path.stat().st_size}.db"
    env = dict(os.environ)
    command = [sys.executable]
    if code is not None:
        import site

        # An editable install's import hook (a .pth file) finds this tree's dotsync
        # before anything on PYTHONPATH: start without site (-S, which the reading
        # process inherits) and put the other version first, then this tree (for
        # data_contracts) and the site-packages.
        root = Path(__file__).resolve().parent.parent
        env["PYTHONPATH"] = os.pathsep.join([str(code), str(root), *site.getsitepackages(),
                                             env.get("PYTHONPATH", "")])
        command.append("-S")
    out = subprocess.run([*command, __file__, "--child", platform, str(path), str(db)],
                         check=True, capture_output=True, text=True, env=env)
    db.unlink(missing_ok=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_average"] = os.getloadavg()[0]
    return result


def checkout(rev: str, tmp: Path) -> Path:
    """The ``dotsync`` package of git revision ``rev``, extracted under ``tmp``."""
    root = Path(__file__).resolve().parent.parent
    where = tmp / "before"
    where.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "dotsync"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def compare(platform: str, path: Path, tmp: Path, before: Path, rounds: int = 3) -> None:
    """Before/after on the same file, alternating so both see the same machine load."""
    got: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(rounds):
        got["before"].append(measure(platform, path, tmp, before))
        got["after"].append(measure(platform, path, tmp))
    if got["before"][0]["dotsync"] == got["after"][0]["dotsync"]:
        raise SystemExit(f"both versions ran {got['after'][0]['dotsync']}: no comparison")
    for name, runs in got.items():
        per_cpu = sorted(r["inserted"] / r["cpu"] for r in runs)
        per_core = sorted(r["inserted"] / r["busiest_cpu"] for r in runs)
        loads = ", ".join(f"{r['load_average']:.1f}" for r in runs)
        print(f"  {name:>6}: {per_cpu[len(runs) // 2]:>8,.0f} orders per CPU second, "
              f"{per_core[len(runs) // 2]:>8,.0f}/s with a core per process (median of "
              f"{rounds}; reader {runs[-1]['reader_cpu']:.1f} s, writer "
              f"{runs[-1]['writer_cpu']:.1f} s CPU in the last; load average {loads})")


def baseline_file(platform: str, src: Path, dst: Path) -> None:
    """The same orders already mapped, as staging JSON Lines (what a hand-written ETL
    would produce), for the plain ``dotsync load`` baseline."""
    import ijson

    from dotsync.sources import mapper

    key, _ = SHAPES[platform]
    m = mapper(platform, "orders")
    with src.open("rb") as f, dst.open("w") as out:
        for obj in ijson.items(f, f"{key}.item"):
            row = {k: v for k, v in m.fn(obj).items() if not k.startswith("_")}
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--platforms", default=",".join(PLATFORMS))
    parser.add_argument("--child", nargs=3, metavar=("PLATFORM", "FILE", "DB"))
    parser.add_argument("--before", metavar="REV", default=None,
                        help="compare with the dotsync of this git revision")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    small = max(1, args.orders // 10)
    with tempfile.TemporaryDirectory(dir=os.environ.get("DOTSYNC_BENCH_TMP")) as tmpdir:
        tmp = Path(tmpdir)
        before = checkout(args.before, tmp) if args.before else None
        print(f"file → staging (SQLite), {small:,} and {args.orders:,} orders per platform "
              f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
        for platform in args.platforms.split(","):
            results = {}
            for n in (small, args.orders):
                path = tmp / f"{platform}-{n}.json"
                write_file(platform, n, path)
                results[n] = measure(platform, path, tmp)
                if n == small and before is not None:
                    print(f"  {platform}, {n:,} orders: {args.before} (before) and this "
                          "tree (after)")
                    compare(platform, path, tmp, before)
                if n == small:
                    base = tmp / f"{platform}-{n}.jsonl"
                    baseline_file(platform, path, base)
                    results["baseline"] = measure("baseline", base, tmp)
                    base.unlink()
                size_mb = path.stat().st_size / 1e6
                path.unlink()
                r = results[n]
                print(f"  {platform:15} {n:>9,} orders ({size_mb:,.0f} MB): "
                      f"{r['seconds']:6.1f} s, {r['inserted'] / r['seconds']:>8,.0f} orders/s "
                      f"({r['inserted'] / r['cpu']:,.0f} per CPU second; "
                      f"{r['inserted'] / r['busiest_cpu']:,.0f}/s with a core per process), "
                      f"peak {r['peak_mb']:.0f} MB, {r['problems']} problems; "
                      f"load average {r['load_average']:.1f}")
            b = results["baseline"]
            ratio = results[args.orders]["peak_mb"] / results[small]["peak_mb"]
            print(f"  {'':15} peak memory {results[small]['peak_mb']:.0f} MB at {small:,}, "
                  f"{results[args.orders]['peak_mb']:.0f} MB at {args.orders:,}: ratio "
                  f"{ratio:.2f} ({ratio - 1:+.0%}; target within 20%); baseline "
                  f"`dotsync load` of the same {small:,} orders already mapped (JSON "
                  f"Lines): {b['inserted'] / b['seconds']:,.0f} rows/s, peak {b['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
