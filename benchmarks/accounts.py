"""Benchmark: many accounts on one worker and on two, each under its own API budget.

    python benchmarks/accounts.py [--accounts 20] [--customers 10000] [--orders 20000]
                                  [--certificates 2000] [--calls-per-minute 35]
                                  [--worker-limit 5] [--import-delay 2] [--latency 0.01]
                                  [--prefect-database URL] [--keep]

For one worker, then for two (everything fresh each time):

1. a Prefect server of its own (``prefect server start``, SQLite in a temporary home,
   or with ``--prefect-database`` a fresh PostgreSQL database, as beyond one machine);
2. one emulator per account (in this process), enforcing the account's calls per
   minute with 429s as Dotdigital does, imports taking ``--import-delay`` seconds;
3. each account's staging store (SQLite, absolute path) loaded with the sample shop at
   the given size; ``dotsync accounts sync-limits`` for the accounts' shared budgets;
   a ``sync-NAME`` deployment per account from ``prefect.yaml``'s sync (module
   entrypoint, no pull step) on a process pool;
4. the workers (``prefect worker start --limit WORKER_LIMIT``: how many runs a host
   takes at once), every account's sync triggered together, the wall time until the
   last one ends.

Printed: total wall time for each, the highest calls any account made in a 60-second
window against its limit (the shared rate limit must keep it at or under), how busy
the machine's CPU was and which processes used it (the flow runs with their workers,
the Prefect server, PostgreSQL, the emulators), how long the Prefect server took to
answer the rate-limit asks, and the
ratio two workers / one worker (target <= 0.6 when the accounts' limits, not the CPU,
are what binds: each run waits on its own account's budget, so a second host runs
twice the accounts at once).

Why 35 calls a minute by default: at the default size one account's sync makes 54 to
67 calls (bulk imports, their polls, certificates in batches of 50) and took 41 s
alone on the machine. At 600 a minute the budget never binds and the 20 runs are
only CPU work; at Dotdigital's lowest tier, 35 a minute, a run needs at least about
1.5 minutes of its account's budget, which binds only while the runs get enough CPU
(see the README's figures: on a shared 2-core machine under a load average of 12 to
17 it did not, and lower limits bind longer runs). Each worker is a ``prefect worker
start`` process of its own (its own directory and ``PREFECT_HOME``, as a second host
would be) on the same machine, so both share its cores.
"""

from __future__ import annotations

import argparse
import bisect
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

from dotsync.emulator import EmulatorConfig, EmulatorServer  # noqa: E402
from dotsync.emulator.structure import seed_with_fields  # noqa: E402
from dotsync.samples import DATA_FIELDS, generate  # noqa: E402
from dotsync.store import Store, load_file  # noqa: E402
from tests.deploy.conftest import (  # noqa: E402
    Processes,
    run_cli,
    start_prefect_server,
    wait_for,
)

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _deployment_file(folder: Path, accounts: list[str]) -> Path:
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    sync = next(d for d in project["deployments"] if d["name"] == "sync")
    out = {k: v for k, v in project.items() if k not in ("deployments", "definitions")}
    out["deployments"] = [{
        **sync, "name": f"sync-{a}", "schedules": [], "tags": ["dotsync", f"account:{a}"],
        "parameters": {"account": a, "preflight": False, "poll_interval": 0.5}}
        for a in accounts]
    path = folder / "prefect.accounts.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False))
    return path


def _toml(folder: Path, emulators: dict[str, EmulatorServer], cpm: int) -> Path:
    lines = ['dotsync_default_region = "GB"', 'dotsync_certificate_campaign_id = "1001"',
             f"dotsync_calls_per_minute = {cpm}"]
    for name, e in emulators.items():
        lines += [f"[accounts.{name}]",
                  f'dotsync_database_url = "sqlite:///{folder / name}.db"',
                  f'dotdigital_api_endpoint = "{e.url}"',
                  f'dotdigital_api_user = "{e.config.user}"',
                  f'dotdigital_api_password = "{e.config.password}"']
    path = folder / "dotsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _busiest_minute(times: list[float]) -> int:
    """The most calls in any 60-second window [t, t + 60)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 60.0) - i for i, t in enumerate(times)),
               default=0)


def _per_minute(times: list[float]) -> float:
    """An account's calls per minute over the span of its run (first to last call)."""
    if len(times) < 2:
        return float(len(times))
    return len(times) / max(1e-9, (max(times) - min(times)) / 60.0)


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, from Linux's /proc/stat;
    None elsewhere. Whether the CPU or the accounts' limits bound a phase reads off
    the share of it that was busy."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and every process under it, from
    Linux's /proc (0.0 elsewhere). A live process's own time plus what its finished
    children used (``cutime``), summed over the live tree, counts each finished flow
    run once: its worker reaped it."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, int]] = {}  # pid -> (parent, jiffies)
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        stats[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats) / tick


def _postmaster() -> int | None:
    """The PostgreSQL server's main process on this machine, if one runs (its backends,
    the Prefect server's connections among them, are its children)."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if (Path("/proc") / str(ppid) / "comm").read_text().strip() != "postgres":
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def _cpu_shares(parts: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each named process tree, and of this process alone (the
    emulators, and the script polling the runs' states; the server and the workers are
    its children, counted in their own trees)."""
    own = os.times()
    return {**{name: _tree_cpu(pid) for name, pid in parts.items() if pid is not None},
            "emulators and this script": own.user + own.system}


ASKS = re.compile(r"shared rate limit \S+: (\d+) asks, answered in (\d+) ms on average; "
                  r"(\d+) refused")


def _asks(logs: str) -> tuple[list[int], int]:
    """Each run's average answer time (ms) for its rate-limit asks, and the asks
    refused in all, from the lines the runs log as they end (flows/limits.py)."""
    found = ASKS.findall(logs)
    return [int(ms) for _, ms, _ in found], sum(int(r) for _, _, r in found)


@contextmanager
def _fresh_database(base_url: str, label: str) -> Iterator[str]:
    """A new PostgreSQL database for one phase's Prefect server (dropped after), as
    its asyncpg URL: the server's own database, as docs/RUNNING.md advises beyond one
    machine, instead of a SQLite file."""
    import sqlalchemy as sa

    base = sa.make_url(base_url)
    name = f"dotsync_bench_prefect_{label}_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def scenario(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    names = [f"a{i:02d}" for i in range(args.accounts)]
    sample = generate(customers=args.customers, orders=args.orders,
                      certificates=args.certificates)
    with ExitStack() as stack:
        if args.keep:
            folder = Path(tempfile.mkdtemp(prefix="dotsync-accounts-"))
            print(f"{workers} worker(s): logs kept in {folder}")
        else:
            folder = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="dotsync-accounts-")))
        processes = Processes(folder)
        stack.callback(processes.stop_all)
        emulators = {n: stack.enter_context(EmulatorServer(EmulatorConfig(
            user=f"apiuser-{n}@apiconnector.com", password=secrets.token_hex(8),
            import_delay=args.import_delay, latency=args.latency,
            rate_limit_per_minute=args.calls_per_minute,
            seed=seed_with_fields(*DATA_FIELDS)))) for n in names}
        toml = _toml(folder, emulators, args.calls_per_minute)
        files = sample.write(folder / "samples")
        started = time.perf_counter()
        template = folder / "template.db"
        store = Store(f"sqlite:///{template}")
        for entity, path in files.items():
            load_file(store, entity, path)
        store.dispose()
        for n in names:  # every account stages the same shop: load it once, copy the file
            shutil.copyfile(template, folder / f"{n}.db")
        staged = time.perf_counter() - started
        print(f"{workers} worker(s): {len(names)} stores staged in {staged:.1f} s",
              flush=True)

        server_env = {}
        if args.prefect_database:
            server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = stack.enter_context(
                _fresh_database(args.prefect_database, f"server{workers}"))
        server = start_prefect_server(processes, f"server-{workers}", extra_env=server_env)
        env = {**server.env, "DOTSYNC_CONFIG": str(toml), "DOTSYNC_PROGRESS": "0"}
        limits = subprocess.run([str(Path(sys.executable).parent / "dotsync"), "accounts",
                                 "sync-limits"], env=env, cwd=folder, capture_output=True,
                                text=True, timeout=300)
        if limits.returncode != 0:
            raise SystemExit(limits.stdout + limits.stderr)
        run_cli(server, "work-pool", "create", "dotsync", "--type", "process")
        run_cli(server, "deploy", "--all", "--prefect-file",
                str(_deployment_file(folder, names)), timeout=600)
        for w in range(workers):
            home = folder / f"host-{w}"
            home.mkdir()
            proc = processes.start(
                f"worker-{w}", [sys.executable, "-m", "prefect", "worker", "start",
                                "--pool", "dotsync", "--limit", str(args.worker_limit)],
                {**env, "PREFECT_HOME": str(home / "prefect-home")}, cwd=home)
            wait_for(lambda w=w: "started" in processes.log(f"worker-{w}"), 240,
                     f"worker {w}", proc, lambda w=w: processes.log(f"worker-{w}"))

        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        print(f"{workers} worker(s): deployed and started; every account's sync triggered",
              flush=True)
        parts = {"flow runs and workers": None, "Prefect server": server.proc.pid,
                 "PostgreSQL": _postmaster() if args.prefect_database else None}
        worker_pids = [p.pid for n, p, _ in processes.started if n.startswith("worker-")]
        shares_before = {**_cpu_shares(parts),
                         "flow runs and workers": sum(map(_tree_cpu, worker_pids))}
        load_before = os.getloadavg()
        cpu_before = _cpu_jiffies()
        started = time.perf_counter()
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            ids = [str(run_deployment(f"sync/sync-{n}", timeout=0).id) for n in names]
        states: dict[str, str] = {}
        while True:
            found = httpx.post(f"{server.api_url}/flow_runs/filter",
                               json={"flow_runs": {"id": {"any_": ids}}}, timeout=30).json()
            states = {r["id"]: r["state_type"] for r in found}
            if len(states) == len(ids) and set(states.values()) <= TERMINAL:
                break
            time.sleep(1)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        cpu_after = _cpu_jiffies()
        time.sleep(2)  # the workers reap their last runs (their CPU joins the workers')
        shares_after = {**_cpu_shares(parts),
                        "flow runs and workers": sum(map(_tree_cpu, worker_pids))}
        cpu_seconds = {k: shares_after[k] - shares_before.get(k, 0.0) for k in shares_after}
        cpu_busy = (None if cpu_before is None or cpu_after is None else
                    (cpu_after[0] - cpu_before[0]) / max(1, cpu_after[1] - cpu_before[1]))
        ask_ms, asks_refused = _asks("".join(processes.log(f"worker-{w}")
                                             for w in range(workers)))
        times = {n: [c["time"] for c in e.state.calls()
                     if not c["path"].startswith("/_emulator")]
                 for n, e in emulators.items()}
        if args.keep:  # each account's calls: when, what, how long (where a run waits)
            for n, e in emulators.items():
                calls = [c for c in e.state.calls() if not c["path"].startswith("/_emulator")]
                start = min((c["time"] for c in calls), default=0.0)
                (folder / f"calls-{n}.tsv").write_text("".join(
                    f"{c['time'] - start:.2f}\t{c.get('duration') or 0:.2f}\t{c['method']}"
                    f"\t{c['path']}\t{c.get('status')}\n" for c in calls))
        busiest = {n: _busiest_minute(t) for n, t in times.items()}
        rates = sorted(_per_minute(t) for t in times.values())
        refused = sum(1 for e in emulators.values() for c in e.state.calls()
                      if c.get("status") == 429)
        return {"workers": workers, "wall": wall, "staged": staged,
                "states": sorted(set(states.values())), "busiest": max(busiest.values()),
                "rate_min": rates[0], "rate_median": rates[len(rates) // 2],
                "load": (load_before[0], load_after[0]),
                "calls": sum(len(e.state.calls()) for e in emulators.values()),
                "refused_429": refused, "cpu_busy": cpu_busy,
                "ask_ms": statistics.median(ask_ms) if ask_ms else None,
                "asks_logged": len(ask_ms), "asks_refused": asks_refused,
                "cpu_seconds": cpu_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--certificates", type=int, default=2_000)
    parser.add_argument("--calls-per-minute", type=int, default=35,
                        help="each account's limit (default: Dotdigital's lowest tier)")
    parser.add_argument("--worker-limit", type=int, default=5,
                        help="runs one worker (one host) takes at once")
    parser.add_argument("--import-delay", type=float, default=2.0)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--workers", default="1,2",
                        help="the worker counts to run, e.g. 2 (the ratio needs 1,2)")
    parser.add_argument("--prefect-database", metavar="URL",
                        help="a PostgreSQL URL (e.g. postgresql+psycopg://postgres@"
                        "127.0.0.1:5432/test): each phase's Prefect server gets a fresh "
                        "database there instead of SQLite")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's folder (processes' logs, stores)")
    args = parser.parse_args()
    print(f"{args.accounts} accounts x ({args.customers} customers, {args.orders} orders, "
          f"{args.certificates} certificates); limit {args.calls_per_minute} calls/min "
          f"per account; {args.worker_limit} runs per worker; Prefect server on "
          f"{'PostgreSQL' if args.prefect_database else 'SQLite'}", flush=True)
    results = []
    for w in args.workers.split(","):
        r = scenario(args, int(w))
        results.append(r)
        print(f"{r['workers']} worker(s): {r['wall']:.1f} s for every account's sync "
              f"(runs {', '.join(r['states'])}); {r['calls']} API calls, "
              f"{r['refused_429']} refused with 429; busiest account minute "
              f"{r['busiest']} calls (limit {args.calls_per_minute}); calls per account "
              f"per minute over its run: median {r['rate_median']:.1f}, lowest "
              f"{r['rate_min']:.1f}; load average {r['load'][0]:.1f} before, "
              f"{r['load'][1]:.1f} after; staging took {r['staged']:.1f} s", flush=True)
        if r["cpu_busy"] is not None:
            print(f"  the machine's CPU was {100 * r['cpu_busy']:.0f}% busy over the "
                  f"phase ({os.cpu_count()} cores)", flush=True)
        if r["ask_ms"] is not None:
            print(f"  rate-limit asks: answered in {r['ask_ms']:.0f} ms (median of the "
                  f"{r['asks_logged']} runs' averages), {r['asks_refused']} refused",
                  flush=True)
        if r["cpu_seconds"]:
            per_run = r["cpu_seconds"].get("flow runs and workers", 0.0) / args.accounts
            print("  CPU seconds over the phase: " + ", ".join(
                f"{k} {v:.0f}" for k, v in r["cpu_seconds"].items())
                + f" ({per_run:.1f} per account's run, its worker's share included)",
                flush=True)
    if len(results) == 2 and (results[0]["workers"], results[1]["workers"]) == (1, 2):
        ratio = results[1]["wall"] / results[0]["wall"]
        print(f"two workers / one worker: {ratio:.2f} (target <= 0.6)")


if __name__ == "__main__":
    main()
