"""Benchmark: ``dotsync load`` of a 1M-row CSV and a 1M-element JSON array, and of a
tenth of each.

    python benchmarks/load.py [--rows 1000000] [--keep DIR]

For each format (CSV; a pretty-printed JSON array) and each size (``--rows`` and a
tenth of it), a file of generated customers is written, then ``dotsync load
customers FILE`` runs as its own process on a fresh SQLite staging store. Printed
per run: wall time, rows per second, and the process's peak resident memory (its
``wait4`` rusage, so each figure is that process's own). Then, per format, the
ratio of the peak memory at full size to the peak at a tenth (target: within 20%,
i.e. memory stays flat as the file grows) and the time ratio (about 10x when the
cost follows the rows).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST = ["Jane", "John", "Amira", "Kenji", "Sofia", "Liam", "Chloé", "Mateo"]
LAST = ["Doe", "Smith", "Haddad", "Tanaka", "Rossi", "Murphy", "Dubois", "García"]


def customer(i: int) -> dict[str, str]:
    return {
        "customer_id": f"C{i:08d}",
        "email": f"customer{i}@example.com",
        "first_name": FIRST[i % len(FIRST)],
        "last_name": LAST[i % len(LAST)],
        "mobile_number": f"+4479{i % 100_000_000:08d}",
        "country": "GB",
        "email_consent": "subscribed" if i % 3 else "unsubscribed",
        "data_fields": json.dumps({"TIER": ["gold", "silver"][i % 2]}),
        "updated_at": "2024-05-01T10:00:00Z",
    }


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(customer(0)))
        writer.writeheader()
        for i in range(rows):
            writer.writerow(customer(i))


def write_json_array(path: Path, rows: int) -> None:
    """Pretty-printed, as shops' exports often are: one element over many lines."""
    with path.open("w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(rows):
            record = customer(i)
            record["data_fields"] = json.loads(record["data_fields"])
            f.write(("" if i == 0 else ",\n") + json.dumps(record, indent=2,
                                                          ensure_ascii=False))
        f.write("\n]\n")


def run_load(path: Path, db: Path) -> dict[str, float]:
    env = {**os.environ, "DOTSYNC_DATABASE_URL": f"sqlite:///{db}"}
    command = Path(sys.executable).parent / "dotsync"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([str(command), "load", "customers", str(path), "--json"],
                                cwd=ROOT, env=env, stdout=out, stderr=err)
        # wait4: this child's own rusage, so each peak is that load's alone.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"load failed: {err.read().decode(errors='replace')[-2000:]}")
        report = json.loads(out.read())
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "rows": report["rows"],
            "inserted": report["inserted"], "rejected": report["rejected"]}


def measure(folder: Path, fmt: str, rows: int) -> dict[str, float]:
    path = folder / f"customers-{rows}.{'csv' if fmt == 'csv' else 'json'}"
    if not path.exists():
        (write_csv if fmt == "csv" else write_json_array)(path, rows)
    db = folder / f"load-{fmt}-{rows}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    result = run_load(path, db)
    result["file_mb"] = path.stat().st_size / 1e6
    if result["inserted"] != rows or result["rejected"]:
        raise SystemExit(f"{fmt} {rows}: expected {rows} inserted, got {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the files and stores here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for fmt, label in (("csv", "CSV"), ("json", "JSON array (pretty-printed)")):
            tenth = measure(folder, fmt, args.rows // 10)
            full = measure(folder, fmt, args.rows)
            print(f"{label}:")
            for r in (tenth, full):
                print(f"  {int(r['rows']):>9,} rows ({r['file_mb']:.0f} MB): {r['seconds']:.1f} s "
                      f"({r['rows'] / r['seconds']:,.0f} rows/s), peak RSS {r['peak_mb']:.0f} MB")
            growth = full["peak_mb"] / tenth["peak_mb"]
            print(f"  peak memory x{growth:.2f} for 10x the rows "
                  f"({'within' if growth <= 1.2 else 'OVER'} the 20% target); "
                  f"time x{full['seconds'] / tenth['seconds']:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
