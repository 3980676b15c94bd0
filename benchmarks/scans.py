"""Benchmark: the commands that look at the whole store, on a store after a backfill.

    python benchmarks/scans.py --db PATH [--latency 0.05]

``PATH`` is a SQLite staging store that was backfilled (and synced), e.g. the one
``benchmarks/incremental.py --work DIR`` keeps (``DIR/incremental-1000000-2000000.db``).
Each command runs in a process of its own, against the emulator (its own process) where
it calls Dotdigital, and prints its wall time and its process's peak RSS:

* ``rejects``: the function behind ``dotsync rejects`` (the ledger's problems);
* ``replay``: ``Ledger.replay()`` over every entity (what ``dotsync replay`` queues;
  on a store whose runs settled everything it queues nothing);
* ``backfill --since``: the backfill's steps narrowed to records updated since
  yesterday, nothing having changed since the last run;
* ``consent``: the read-back of Dotdigital's suppressions into the store (an account
  with none: its cost follows the suppressions, not the store);
* ``status``: the function behind ``dotsync status``.

The store is changed only by ``replay`` (records queued again) and ``consent`` (its
watermark), as the commands themselves would.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("rejects", "replay", "backfill-since", "consent", "status")


def run_one(kind: str) -> None:
    """In its own process: one command, printing one JSON line."""
    import pandas as pd

    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.store import Ledger, Store
    from dotsync.store.status import rejects, status
    from dotsync.sync.consent import read_back
    from dotsync.sync.engine import Options, SyncEngine
    from dotsync.sync.run import run_backfill

    settings = Settings.from_env()
    store = Store(settings.database_url)
    t0 = time.perf_counter()  # the imports apart: the command's own cost
    detail: object = None
    if kind == "rejects":
        detail = len(rejects(store))
    elif kind == "replay":
        detail = Ledger(store).replay()
    elif kind == "status":
        detail = status(store)["entities"]
    else:
        with DotdigitalClient.from_settings(settings) as client:
            if kind == "consent":
                detail = str(read_back(client, store))
            else:
                engine = SyncEngine(store, settings, client, flow="backfill", options=Options(
                    bulk_threshold=0, confirmations=False, track_settled=False))
                since = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)).isoformat()
                report = run_backfill(engine, since=since)
                detail = {"api_calls": report.api_calls,
                          "considered": {k: c.considered for k, c in report.counts.items()}}
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "detail": detail, "peak_rss_mb":
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--import-delay", type=float, default=2.0)
    parser.add_argument("--run-only", choices=KINDS)
    args = parser.parse_args()
    if args.run_only:
        run_one(args.run_only)
        return
    if args.db is None or not args.db.exists():
        raise SystemExit("--db must name an existing, backfilled SQLite store")
    from benchmarks.incremental import start_emulator

    work = Path(tempfile.mkdtemp(prefix="dotsync-scans-"))
    emulator = start_emulator(args, work)
    url = emulator.stdout.readline().strip()
    env = {**os.environ, "DOTDIGITAL_API_ENDPOINT": url,
           "DOTDIGITAL_API_USER": "apiuser-demo@apiconnector.com",
           "DOTDIGITAL_API_PASSWORD": "demo-password",
           "DOTSYNC_DATABASE_URL": f"sqlite:///{args.db}", "DOTSYNC_DEFAULT_REGION": "GB"}
    print(f"scans on {args.db} (emulator: {args.latency} s a call)", flush=True)
    try:
        for kind in KINDS:
            out = subprocess.run([sys.executable, __file__, "--run-only", kind], env=env,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {kind:15s} {r['wall']:7.2f} s, peak RSS {r['peak_rss_mb']:5.0f} MB "
                  f"({r['detail']})", flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
