"""The product catalogue end to end, against the bundled emulator from an empty account.

Products land in their store's account-scoped ``catalog_<store>`` collection (created
first: a new account has none), keyed by SKU, prices exact in minor units; a product
disabled or deleted later leaves the catalogue through ``deleteRecords`` and comes back
when enabled again; a re-run sends nothing; a large load goes in bulk imports, never
single-record calls; a bad product is reported by store, SKU and field while the others
still go. Most run the sync's steps in plain Python (``dotsync.sync.run``); one runs the
Prefect flow with ``entities=["products"]``.
"""

from __future__ import annotations

from typing import Any

import pytest

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.store import Store
from dotsync.store.keys import SEPARATOR
from dotsync.sync.engine import Options, SyncEngine
from dotsync.sync.report import RunReport
from dotsync.sync.run import run_sync
from tests.e2e.helpers import stage, states, write_calls

pytestmark = pytest.mark.e2e


def product(sku: str, store: str = "uk", **over: Any) -> dict[str, Any]:
    row = {"sku": sku, "store": store, "name": f"Product {sku}", "price": "10.50",
           "sale_price": "9.99", "currency": "GBP", "url": f"https://shop.example.com/{sku}",
           "image_url": f"https://shop.example.com/{sku}.jpg",
           "categories": ["Kitchen", "Gifts"], "stock": "3", "status": "enabled",
           "updated_at": "2026-10-01T10:00:00Z"}
    row.update(over)
    return row


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def account(request, tmp_path, monkeypatch):
    """An empty emulator account and a fresh store (SQLite, and PostgreSQL when
    DOTSYNC_TEST_POSTGRES_URL names one)."""
    with EmulatorServer(EmulatorConfig(import_delay=0.02, random_seed=7)) as server:
        for key, value in {
            "DOTDIGITAL_API_ENDPOINT": server.url,
            "DOTDIGITAL_API_USER": server.config.user,
            "DOTDIGITAL_API_PASSWORD": server.config.password,
            "DOTSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
            "DOTSYNC_DEFAULT_REGION": "GB",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("DOTSYNC_CATALOG_COLLECTION", raising=False)
        monkeypatch.delenv("DOTSYNC_ORDER_CAMPAIGN", raising=False)
        if request.param == "postgres":
            yield server, request.getfixturevalue("postgres_store")
            return
        store = Store(f"sqlite:///{tmp_path / 'catalog.db'}")
        yield server, store
        store.dispose()


def sync(store: Store, **options: Any) -> RunReport:
    settings = Settings.from_env()
    options.setdefault("poll_interval", 0.01)
    with DotdigitalClient.from_settings(settings) as client:
        engine = SyncEngine(store, settings, client, options=Options(**options))
        return run_sync(engine, ["products"])


def catalogue(server: EmulatorServer, name: str) -> dict[str, dict[str, Any]]:
    return {r["key"]: r["json"] for r in server.state.insight_records(name)}


def key(store: str, sku: str) -> str:
    return f"{store}{SEPARATOR}{sku}"


def test_products_land_in_their_stores_collections_created_on_an_empty_account(account):
    server, store = account
    assert server.state.insight() == {}  # a new account: no collection at all
    stage(store, "products", [product("MUG"), product("CUP", price="4"),
                              product("MUG", store="jp", price="1500", sale_price="",
                                      currency="JPY"),
                              product("OLD", status="disabled")])
    report = sync(store)
    assert report.counts["products"].sent == 4, report.problems
    collections = server.state.insight()
    assert {n: (c["scope"], c["type"]) for n, c in collections.items()} == {
        "catalog_uk": ("account", "catalog"), "catalog_jp": ("account", "catalog")}
    uk = catalogue(server, "catalog_uk")
    assert sorted(uk) == ["CUP", "MUG"]
    assert uk["MUG"]["price"] == 10.5 and uk["MUG"]["price_minor"] == 1050
    assert uk["MUG"]["sale_price_minor"] == 999 and uk["CUP"]["price_minor"] == 400
    assert uk["MUG"]["categories"] == "Kitchen, Gifts" and uk["MUG"]["store"] == "uk"
    jp = catalogue(server, "catalog_jp")
    assert jp["MUG"]["price_minor"] == 1500 and "sale_price" not in jp["MUG"]
    creates = [c for c in server.state.calls() if c["method"] == "POST"
               and c["path"].startswith("/insightData/v3/collections/")]
    assert sorted(c["status"] for c in creates) == [201, 201]
    assert states(store, "products") == {
        key("uk", "MUG"): "synced", key("uk", "CUP"): "synced",
        key("jp", "MUG"): "synced", key("uk", "OLD"): "synced"}

    # A re-run sends nothing and asks nothing of the catalogue (the run's one
    # account-info check of the credentials aside).
    before = len(server.state.calls())
    again = sync(store)
    assert [c["path"] for c in server.state.calls()[before:]] == ["/v2/account-info"]
    assert again.counts["products"].sent == 0


def test_a_product_disabled_or_deleted_later_leaves_the_catalogue_and_comes_back(account):
    server, store = account
    stage(store, "products", [product(f"S{i}") for i in range(5)])
    sync(store)
    assert sorted(catalogue(server, "catalog_uk")) == [f"S{i}" for i in range(5)]

    stage(store, "products", [product("S1", status="disabled"),
                              product("S2", status="deleted", name=None, price=None)])
    before = len(server.state.calls())
    report = sync(store)
    assert report.counts["products"].sent == 2, report.problems
    assert sorted(catalogue(server, "catalog_uk")) == ["S0", "S3", "S4"]
    writes = write_calls(server.state.calls()[before:])
    assert [(c["method"], c["path"]) for c in writes] == [
        ("DELETE", "/insightData/v3/accounts/catalog_uk/deleteRecords")]  # one batch

    before = len(server.state.calls())
    sync(store)  # removed once, never again
    assert write_calls(server.state.calls()[before:]) == []

    stage(store, "products", [product("S1", status="enabled", price="12.00")])
    sync(store)
    back = catalogue(server, "catalog_uk")
    assert sorted(back) == ["S0", "S1", "S3", "S4"] and back["S1"]["price_minor"] == 1200


def test_a_bad_product_is_reported_by_store_sku_and_field_and_the_others_go(account):
    server, store = account
    stage(store, "products", [product("GOOD"), product("NEG", price="-1"),
                              product("CUR", currency="XXQ"),
                              product("NONAME", name=None)])
    report = sync(store)
    assert sorted(catalogue(server, "catalog_uk")) == ["GOOD"]
    problems = {(p.key, p.field) for p in report.problems}
    assert problems == {("uk / NEG", "price"), ("uk / CUR", "currency"),
                        ("uk / NONAME", "name")}
    ledger = states(store, "products")
    assert ledger[key("uk", "GOOD")] == "synced"
    assert ledger[key("uk", "NEG")] == ledger[key("uk", "CUR")] == "rejected"


def test_a_store_whose_collection_name_clashes_is_rejected_naming_the_store(account):
    server, store = account
    stage(store, "products", [product("A", store="eu.1"), product("B", store="eu 1"),
                              product("C", store="fr")])
    report = sync(store)
    assert sorted(server.state.insight()) == ["catalog_fr"]
    refused = {p.key: (p.field, p.code) for p in report.problems}
    assert refused == {"eu.1 / A": ("store", "collection_name"),
                       "eu 1 / B": ("store", "collection_name")}
    assert all("each store needs its own catalogue" in p.reason for p in report.problems)


def test_the_override_names_the_collection(account, monkeypatch):
    server, store = account
    monkeypatch.setenv("DOTSYNC_CATALOG_COLLECTION", "Products_Main")
    stage(store, "products", [product("MUG")])
    sync(store)
    assert sorted(catalogue(server, "Products_Main")) == ["MUG"]


def test_60000_products_go_in_bulk_imports_not_single_calls(account):
    server, store = account
    rows = [product(f"SKU{i:05d}", store="uk" if i % 3 else "de",
                    status="disabled" if i % 1000 == 7 else "enabled")
            for i in range(60_000)]
    stage(store, "products", rows)
    report = sync(store, import_max_bytes=5_000_000)
    assert report.counts["products"].sent == 60_000, report.problems[:3]
    calls = server.state.calls()
    singles = [c for c in calls if c["path"].startswith("/insightData/v3/account/")]
    assert singles == []
    imports = [c for c in calls if c["method"] == "PUT" and c["path"] == "/insightData/v3/import"]
    # ~16 MB of records at 5 MB an import: a handful, each one collection's.
    assert 2 <= len(imports) <= 8, len(imports)
    deletes = [c for c in calls if c["path"].endswith("/deleteRecords")]
    assert len(deletes) == 2  # 60 disabled products: one batch per store
    uk, de = catalogue(server, "catalog_uk"), catalogue(server, "catalog_de")
    assert len(uk) + len(de) == 60_000 - 60
    assert "SKU00007" not in uk and "SKU00007" not in de and "SKU00001" in uk


def test_the_sync_flow_and_command_load_the_catalogue_when_products_are_staged(env):
    """The Prefect flow runs the products step by default; ``--entities`` chooses it."""
    import json

    from click.testing import CliRunner
    from dotsync.deployments.cli import main

    stage(env.store, "products", [product("MUG")])
    state = env.sync()
    assert state.is_completed(), state.message
    assert state.result()["products"]["sent"] == 1
    assert catalogue(env.emulator, "catalog_uk")["MUG"]["price_minor"] == 1050

    stage(env.store, "products", [product("MUG", price="11.00")])
    assert env.sync(entities=["contacts"]).is_completed()  # products left for later
    assert catalogue(env.emulator, "catalog_uk")["MUG"]["price_minor"] == 1050
    dry = env.sync(entities=["products"], dry_run=True)
    assert dry.result()["products"]["sent"] == 1
    assert catalogue(env.emulator, "catalog_uk")["MUG"]["price_minor"] == 1050

    result = CliRunner().invoke(main, ["sync", "--entities", "products", "--json",
                                       "--poll-interval", "0.02"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["products"]["sent"] == 1
    assert catalogue(env.emulator, "catalog_uk")["MUG"]["price_minor"] == 1100


def test_status_and_rejects_show_products_by_store_and_sku(account):
    from dotsync.store.status import rejects, status

    _server, store = account
    assert "products" not in status(store)["entities"]  # nothing staged: not listed
    stage(store, "products", [product("GOOD"), product("NEG", price="-1")])
    assert status(store)["entities"]["products"]["pending"] == 2
    sync(store)
    counted = status(store)["entities"]["products"]
    assert (counted["staged"], counted["synced"], counted["rejected"], counted["pending"]) \
        == (2, 1, 1, 0)
    listed = rejects(store, "products")
    assert [(r["id"], r["field"]) for r in listed] == [("uk / NEG", "price")]


def test_every_naughty_string_in_every_product_column_ends_synced_or_rejected_by_field(
        account):
    """Hostile input (tests/data/blns.json) in each product column: each record ends
    ``synced`` (its name arriving unchanged) or ``rejected`` naming that column, and the
    good products of the same run all go."""
    import json
    from pathlib import Path

    from dotsync.store import Ledger

    server, store = account
    blns = json.loads((Path(__file__).parents[1] / "data" / "blns.json").read_text("utf-8"))
    rows, cases = [product(f"GOOD{i}") for i in range(5)], {}
    for column in ("sku", "store", "name", "url", "categories", "currency", "status",
                   "price"):
        # Every tenth string as a store: each valid one makes a collection of its own.
        for n, value in enumerate(blns[::10] if column == "store" else blns):
            if column in ("sku", "store") and (not value.strip() or SEPARATOR in value
                                               or "\x00" in value):
                continue  # the loader refuses these key values before any run
            row = product(f"{column}-{n}")
            row[column] = value
            if key(row["store"], row["sku"]) in cases:
                continue  # the list repeats a few strings
            rows.append(row)
            cases[key(row["store"], row["sku"])] = (column, value)
    stage(store, "products", rows)
    sync(store)
    ledger = Ledger(store).frame("products").set_index("key")
    for i in range(5):
        assert ledger.loc[key("uk", f"GOOD{i}"), "state"] == "synced"
    for k, (column, value) in cases.items():
        state, field = ledger.loc[k, "state"], ledger.loc[k, "error_field"]
        assert state in ("synced", "rejected"), (column, value, state)
        if state == "rejected":
            assert column in str(field), (column, value, field,
                                          ledger.loc[k, "error_message"])
        elif column == "name":
            sku = k.split(SEPARATOR)[1]
            assert catalogue(server, "catalog_uk")[sku]["name"] == value.strip()
