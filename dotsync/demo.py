"""``dotsync demo``: sample data, the bundled emulator and two sync runs, offline.

Everything lives in one folder (default ``./dotsync-demo``): the sample files, a
fresh SQLite staging store and the run reports as Markdown. The emulator runs in
this process on a free loopback port and stops with the demo. The first run sends
the shop (contacts, orders, certificates, catalogues, carts) and enrols the contacts
of the abandoned carts into the account's cart program; then one shopper comes back
and orders, and the second run sends that order and turns the cart's record complete:
a cart recovered. The figures printed about the carts are read from the emulator.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.samples import (
    CART_PROGRAM,
    carts,
    catalogue,
    generate,
    recovery_order,
    write_jsonl,
    write_products,
)
from dotsync.store import Store, load_file
from dotsync.sync.carts_plan import CART_COLLECTION, PHASE_COMPLETE


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


def _load(url: str, entity: str, path: Path, say: Callable[[str], None]) -> None:
    store = Store(url)
    try:
        report = load_file(store, entity, path)
    finally:
        store.dispose()
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    say(f"loaded {report.counts.inserted} {entity} from {shown}")


def _sent(report: dict[str, Any], entity: str) -> int:
    return int((report.get(entity) or {}).get("sent", 0))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cart_figures(server: EmulatorServer) -> dict[str, Any]:
    """What the emulator holds of the abandoned carts, read from its state (not from
    dotsync's report): the cart records, the contacts enrolled into the cart program,
    and the carts recovered (their contact enrolled, the record now complete)."""
    state = server.state
    with state.lock:
        book = state.programs
        for enrolment in book.enrolments.values():
            book.settle(state, enrolment)  # one nobody has read yet is processed too
        enrolled = set(book.enrolled(int(CART_PROGRAM["id"])))
    records = state.insight_records(CART_COLLECTION)
    return {"program": f"{CART_PROGRAM['id']} '{CART_PROGRAM['name']}'",
            "carts_sent": len(records), "contacts_enrolled": len(enrolled),
            "carts_recovered": sum(1 for r in records if r["contactId"] in enrolled
                                   and r["json"].get("cartPhase") == PHASE_COMPLETE)}


def run_demo(
    folder: str | Path,
    *,
    run_sync: Callable[[Path], dict[str, Any]],
    as_json: bool = False,
    echo: Callable[[str], None] = print,
    print_summary: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Sample data, the emulator, the go-live checks and two syncs; returns the first
    one's report, with the second one's under ``later`` and what the emulator holds of
    the carts under ``abandoned_carts``.

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

    data = generate()
    paths = data.write(folder / "data")
    paths["products"] = write_products(catalogue(), folder / "data")
    open_carts = carts(data, datetime.now(UTC))
    paths["carts"] = write_jsonl(open_carts, folder / "data" / "carts.jsonl")
    for entity, path in paths.items():
        _load(url, entity, path, say)

    # The demo account has the data fields the sample shop sends, as a real account would
    # need them created before go-live (preflight's data_fields check); the rest is new.
    from dotsync.emulator.structure import seed_with_fields
    from dotsync.samples import DATA_FIELDS

    seed = {**seed_with_fields(*DATA_FIELDS), "programs": [CART_PROGRAM]}
    config = EmulatorConfig(import_delay=0.2, seed=seed)
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
            "DOTSYNC_CART_PROGRAM_ID": str(CART_PROGRAM["id"]),
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
            if print_summary is not None and not as_json:
                print_summary(result)
            # Later, the shopper of the first abandoned cart comes back and buys it: the
            # next run sends the order, and the cart's record turns ORDER_COMPLETE.
            back = recovery_order(open_carts[0], datetime.now(UTC))
            say(f"\nLater: the shopper of abandoned cart {open_carts[0]['cart_id']} comes "
                f"back and places order {back['order_id']}.")
            _load(url, "orders", write_jsonl([back], folder / "data" / "orders-later.jsonl"),
                  say)
            say("running the sync flow again...")
            later = result["later"] = run_sync(folder / "report-later.md")
            say(f"Run {later.get('run_id')} {later.get('status')}: "
                f"{_n(_sent(later, 'orders'), 'order')} sent, "
                f"{_n(_sent(later, 'confirmations'), 'order confirmation')} sent, "
                f"{_n(_sent(later, 'carts'), 'cart record')} updated.")
            result["abandoned_carts"] = cart_figures(server)
            contacts_in_emulator = len(server.state.contacts())
            catalogues = {name: len(c["records"]) for name, c in server.state.insight().items()
                          if c["type"] == "catalog"}
    report_path = folder / "report.md"
    (folder / "report.json").write_text(json.dumps(result, indent=2, default=str),
                                        encoding="utf-8")
    if as_json:
        echo(json.dumps(result, indent=2, default=str))
        return result
    echo(f"\nThe emulator now holds {contacts_in_emulator} contacts.")
    if catalogues:
        echo("Catalogues (one account-scoped collection per store): " + ", ".join(
            f"{name} {n} products" for name, n in sorted(catalogues.items())))
    figures = result["abandoned_carts"]
    echo(f"Abandoned carts: {_n(figures['carts_sent'], 'cart')} sent as "
         f"{CART_COLLECTION} records, {_n(figures['contacts_enrolled'], 'contact')} "
         f"enrolled into the cart program ({figures['program']}), "
         f"{_n(figures['carts_recovered'], 'cart')} recovered (enrolled, then ordered: "
         f"the record is {PHASE_COMPLETE}, so the journey stops).")
    echo(f"Run reports: {report_path}, {folder / 'report-later.md'} (and in the Prefect "
         "UI: Artifacts, key 'dotsync-sync-report', when you run against a Prefect server).")
    echo("Try `dotsync status` / `dotsync rejects` / `dotsync rejects --warnings` with "
         f"DOTSYNC_DATABASE_URL={url}")
    return result

