"""``dotsync demo``: sample data, the bundled emulator and one sync run, offline.

Everything lives in one folder (default ``./dotsync-demo``): the sample files, a
fresh SQLite staging store and the run report as Markdown. The emulator runs in
this process on a free loopback port and stops with the demo.

Plain Python: the sync itself is handed in (``run_sync``), so the command on the
Prefect side runs it as a Prefect flow while this module imports no Prefect. What the
demo does around it (the sample files, the emulator, the environment it patches for
the run's duration) is no flow's business either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.samples import catalogue, generate, write_products
from dotsync.store import Store, load_file


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _preflight(url: str) -> Any:
    from dotsync.config import Settings
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.preflight import run_preflight

    settings = Settings.from_env()
    store = Store(url)
    try:
        with DotdigitalClient.from_settings(settings) as client:
            return run_preflight(settings, store, client)
    finally:
        store.dispose()


def run_demo(
    folder: str | Path,
    *,
    run_sync: Callable[[Path], dict[str, Any]],
    as_json: bool = False,
    echo: Callable[[str], None] = print,
    print_summary: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Sample data, the emulator, the go-live checks and one sync; returns its report.

    ``run_sync(report_file)`` runs one sync with the demo's environment in place (the
    emulator's URL and credentials, the demo store), writes the Markdown report to
    ``report_file`` and returns the run's report as a dict; it raises ``SystemExit``
    with a message when the run failed.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "dotsync.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    say = (lambda _text: None) if as_json else echo

    paths = generate().write(folder / "data")
    paths["products"] = write_products(catalogue(), folder / "data")
    store = Store(url)
    for entity, path in paths.items():
        report = load_file(store, entity, path)
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        say(f"loaded {report.counts.inserted} {entity} from {shown}")
    store.dispose()

    # The demo account has the data fields the sample shop sends, as a real account would
    # need them created before go-live (preflight's data_fields check); the rest is new.
    from dotsync.emulator.structure import seed_with_fields
    from dotsync.samples import DATA_FIELDS

    config = EmulatorConfig(import_delay=0.2, seed=seed_with_fields(*DATA_FIELDS))
    with EmulatorServer(config) as server:
        say(f"Dotdigital emulator listening on {server.url}")
        env = {
            "DOTDIGITAL_API_ENDPOINT": server.url,
            "DOTDIGITAL_API_USER": config.user,
            "DOTDIGITAL_API_PASSWORD": config.password,
            "DOTSYNC_DATABASE_URL": url,
            "DOTSYNC_DEFAULT_REGION": "GB",
            "DOTSYNC_CERTIFICATE_CAMPAIGN_ID": "1001",
            "DOTSYNC_ORDER_CAMPAIGN": "Order confirmation",
        }
        with _environment(env):
            preflight = _preflight(url)
            say("\nGo-live checks (`dotsync preflight`) on the sample data:")
            say(preflight.render())
            say("The demo's data is wrong on purpose, so some checks fail; a deployed run "
                "(preflight=True) would stop here. The demo runs the sync anyway, so the "
                "report can show how each bad record is handled.\n")
            say("running the sync flow through Prefect (a local, temporary Prefect server "
                "starts first: ~10 s)...")
            result = run_sync(folder / "report.md")
            result["preflight"] = preflight.as_dict()
            contacts_in_emulator = len(server.state.contacts())
            catalogues = {name: len(c["records"]) for name, c in server.state.insight().items()
                          if c["type"] == "catalog"}
    report_path = folder / "report.md"
    (folder / "report.json").write_text(json.dumps(result, indent=2, default=str),
                                        encoding="utf-8")
    if as_json:
        echo(json.dumps(result, indent=2, default=str))
        return result
    if print_summary is not None:
        print_summary(result)
    echo(f"\nThe emulator now holds {contacts_in_emulator} contacts.")
    if catalogues:
        echo("Catalogues (one account-scoped collection per store): " + ", ".join(
            f"{name} {n} products" for name, n in sorted(catalogues.items())))
    echo(f"Run report: {report_path} (and in the Prefect UI: Artifacts, key "
         "'dotsync-sync-report', when you run against a Prefect server).")
    echo("Try `dotsync status` / `dotsync rejects` / `dotsync rejects --warnings` with "
         f"DOTSYNC_DATABASE_URL={url}")
    return result

