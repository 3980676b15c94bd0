"""``dotsync trace`` and ``dotsync replay`` for products: the key as status and rejects
show it (``store / sku``), after a real run against the bundled emulator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import keys as record_keys
from dotsync.trace import RecordNotFound, trace
from tests.e2e.helpers import stage, states
from tests.e2e.test_catalog import account, key, product, sync  # noqa: F401

pytestmark = pytest.mark.e2e


def test_a_product_key_as_shown_names_its_text_key() -> None:
    assert record_keys.of_shown("products", "uk / MUG-1") == key("uk", "MUG-1")
    # Only the first " / " splits: the SKU keeps the rest.
    assert record_keys.of_shown("products", "uk / A / B") == key("uk", "A / B")
    assert record_keys.of_shown("products", key("uk", "X")) == key("uk", "X")
    assert record_keys.of_shown("orders", "a / b") == "a / b"  # one-column key


def test_trace_tells_a_synced_and_a_rejected_product_by_store_and_sku(account):  # noqa: F811
    _server, store = account
    stage(store, "products", [product("MUG"), product("NEG", price="-1")])
    sync(store)
    from dotsync.config import Settings

    settings = Settings.from_env()
    good = trace(store, settings, "products", "uk / MUG")
    assert good["id"] == "uk / MUG" and good["state"] == "synced"
    assert good["contract"]["result"] == "valid" and good["attempts"]
    bad = trace(store, settings, "products", "uk / NEG")
    assert bad["state"] == "rejected"
    assert [r["field"] for r in bad["contract"]["rejects"]] == ["price"]
    with pytest.raises(RecordNotFound, match="uk / NOPE"):
        trace(store, settings, "products", "uk / NOPE")
    with pytest.raises(RecordNotFound):
        trace(store, settings, "products", "de / MUG")  # the same SKU in another store


def test_the_commands_trace_and_replay_a_product_as_shown(account, tmp_path,  # noqa: F811
                                                          monkeypatch):
    _server, store = account
    if store.dialect != "sqlite":
        pytest.skip("the commands are the same on both; the store functions are above")
    stage(store, "products", [product("MUG"), product("NEG", price="-1")])
    sync(store)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["trace", "products", "uk / NEG", "--json"])
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)
    assert story["found"] is True and story["id"] == "uk / NEG"
    assert story["state"] == "rejected"
    missing = runner.invoke(main, ["trace", "products", "uk / NOPE"])
    assert missing.exit_code == 1 and "uk / NOPE" in missing.output
    replayed = runner.invoke(main, ["replay", "--entity", "products", "--ids", "uk / NEG"])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.startswith("1 records queued again")
    assert states(store, "products")[key("uk", "NEG")] == "pending"
    assert states(store, "products")[key("uk", "MUG")] == "synced"
    # Without --entity, a product's id as shown is found all the same.
    stage(store, "products", [product("NEG", price="-2")])
    sync(store)
    assert states(store, "products")[key("uk", "NEG")] == "rejected"
    again = runner.invoke(main, ["replay", "--ids", "uk / NEG"])
    assert again.exit_code == 0 and again.output.startswith("1 records queued again")
