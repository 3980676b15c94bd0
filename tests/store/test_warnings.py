"""The warnings table (schema version 4): a record's warnings are those of its last
validation, replaced, never accumulated; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import Store, migrations
from dotsync.store import warnings as field_warnings
from dotsync.store.status import status, warnings


def _w(key: str, field: str = "mobile_number", reason: str = "bad") -> dict:
    return {"key": key, "field": field, "check": "e164", "value": "***000", "reason": reason}


def test_replace_keeps_only_the_last_validation(store) -> None:
    field_warnings.replace(store, "customers", ["C1", "C2"],
                           [_w("C1"), _w("C1", "first_name"), _w("C2")], run_id="r1")
    assert field_warnings.counts(store) == {"customers": 2}
    # C1 validated again with one problem left; C2 fixed; C3 new.
    field_warnings.replace(store, "customers", ["C1", "C2", "C3"],
                           [_w("C1", "first_name", "too long"), _w("C3")], run_id="r2")
    frame = field_warnings.frame(store, "customers")
    assert frame[["key", "field", "reason", "run_id"]].values.tolist() == [
        ["C1", "first_name", "too long", "r2"], ["C3", "mobile_number", "bad", "r2"]]
    field_warnings.add(store, "customers", [_w("C1", "mobile_number", "shared")], run_id="r2")
    assert len(field_warnings.frame(store, keys=["C1"])) == 2
    field_warnings.replace(store, "customers", ["C1", "C3"], [])
    assert field_warnings.frame(store).empty
    assert field_warnings.counts(store) == {}


def test_entities_are_kept_apart(store) -> None:
    field_warnings.replace(store, "customers", ["X"], [_w("X")])
    field_warnings.replace(store, "orders", ["X"], [_w("X", "tax")])
    field_warnings.replace(store, "orders", ["X"], [])
    assert field_warnings.frame(store)["entity"].tolist() == ["customers"]


def test_status_and_rejects_warnings_read_them(store) -> None:
    field_warnings.replace(store, "orders", ["O1", "O2"], [_w("O1", "tax"), _w("O2", "store"),
                                                          _w("O2", "coupon_code")])
    assert status(store)["warnings"] == {"orders": 2}
    items = warnings(store, "orders")
    assert [(i["id"], i["field"]) for i in items] == [("O1", "tax"), ("O2", "store"),
                                                      ("O2", "coupon_code")]
    assert warnings(store, "customers") == []


def test_a_version_3_store_gains_the_warnings_table(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'v3.db'}"
    Store(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE warnings"))
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '3' "
                             "WHERE name = 'schema_version'"))
    engine.dispose()
    store = Store(url)
    assert store.schema_version == migrations.SCHEMA_VERSION  # later steps ran too
    field_warnings.replace(store, "customers", ["C1"], [_w("C1")])
    assert field_warnings.counts(store) == {"customers": 1}
    store.dispose()


def test_the_cli_lists_warnings_and_status_counts_them(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", url)
    store = Store(url)
    field_warnings.replace(store, "customers", ["C1"], [_w("C1", reason="not valid for GB")])
    store.dispose()
    runner = CliRunner()
    text = runner.invoke(main, ["rejects", "--warnings"])
    assert text.exit_code == 0, text.output
    assert "C1" in text.output and "not valid for GB" in text.output
    assert "***000" in text.output
    payload = json.loads(runner.invoke(main, ["rejects", "--warnings", "--json"]).output)
    assert payload["count"] == 1 and payload["records"] == 1
    assert payload["warnings"][0]["field"] == "mobile_number"
    empty = runner.invoke(main, ["rejects", "--warnings", "--entity", "orders"])
    assert "No record was sent with a field left out" in empty.output
    shown = runner.invoke(main, ["status"])
    assert "Sent with a field left out" in shown.output and "customers 1" in shown.output
    assert json.loads(runner.invoke(main, ["status", "--json"]).output)["warnings"] == {
        "customers": 1}


def test_appended_warnings_are_numbered_after_the_records_own(store) -> None:
    field_warnings.replace(store, "customers", ["C1"], [_w("C1"), _w("C1", "first_name")])
    field_warnings.add(store, "customers", [_w("C1", "mobile_number", "taken"), _w("C2")])
    field_warnings.add(store, "customers", [_w("C1", "mobile_number", "taken again")])
    frame = field_warnings.frame(store, "customers")
    assert frame[["key", "reason"]].values.tolist() == [
        ["C1", "bad"], ["C1", "bad"], ["C1", "taken"], ["C1", "taken again"], ["C2", "bad"]]


def test_warnings_survive_a_migrate_and_the_target_takes_new_ones(tmp_path, postgres_store):
    from dotsync.store.transfer import copy_store

    source = Store(f"sqlite:///{tmp_path / 'old.db'}")
    field_warnings.replace(source, "orders", ["O1"], [_w("O1", "tax"), _w("O1", "store")])
    copy_store(source, postgres_store)
    assert field_warnings.counts(postgres_store) == {"orders": 1}
    # No sequence to be left behind by the copy: new warnings go in beside the copied ones.
    field_warnings.add(postgres_store, "orders", [_w("O1", "coupon_code")])
    field_warnings.replace(postgres_store, "orders", ["O2"], [_w("O2", "tax")])
    assert len(field_warnings.frame(postgres_store, "orders")) == 4
    source.dispose()


def test_two_runs_writing_the_same_warnings_do_not_collide(store) -> None:
    # Both runs validated the same records; the second writes where the first did.
    field_warnings.replace(store, "customers", ["C1"], [_w("C1")], run_id="r1")
    from dotsync.store.warnings import _insert, _rows

    with store.engine.begin() as conn:  # as a run that checked before the other wrote
        _insert(conn, _rows("customers", [_w("C1", reason="again")], "r2",
                            datetime.now(UTC)))
    frame = field_warnings.frame(store, "customers")
    assert frame[["key", "reason", "run_id"]].values.tolist() == [["C1", "again", "r2"]]
