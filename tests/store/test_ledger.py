"""The sync ledger: states, pending rules, exactly-once claims, replays, schema versions."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from dotsync.store import Ledger, Store, migrations
from dotsync.store.status import pending_mask, rejects, source_hashes, status


def stage_certificates(store, n=3, amount="10"):
    frame = pd.DataFrame(
        [
            {
                "certificate_id": f"g{i}",
                "recipient_email": f"r{i}@example.com",
                "code": f"C{i}",
                "amount": amount,
                "currency": "GBP",
                "link": f"https://shop.example/g/{i}",
                "expires_at": None,
                "campaign_id": None,
                "updated_at": "2024-05-01T00:00:00Z",
            }
            for i in range(n)
        ],
        dtype=object,
    )
    store.upsert_staged("certificates", frame)
    return store.read_staged("certificates")


def test_record_keeps_fields_a_row_leaves_out(store):
    ledger = Ledger(store)
    ledger.record(
        "orders",
        [{"key": "o1", "state": "synced", "dotdigital_ref": "imp-1"}],
        run_id="r1",
        count_attempt=True,
    )
    ledger.record(
        "orders",
        [{"key": "o1", "state": "failed", "error_code": "ServerError"}],
        run_id="r2",
        count_attempt=True,
    )
    row = ledger.frame("orders").iloc[0]
    assert row["state"] == "failed"
    assert row["dotdigital_ref"] == "imp-1"
    assert row["attempts"] == 2
    assert row["run_id"] == "r2"


def test_record_refuses_unknown_states_and_columns(store):
    ledger = Ledger(store)
    with pytest.raises(ValueError, match="state"):
        ledger.record("orders", [{"key": "o1", "state": "done"}])
    with pytest.raises(ValueError, match="not ledger columns"):
        ledger.record("orders", [{"key": "o1", "state": "synced", "email": "x"}])


def test_pending_rules(store):
    ledger = Ledger(store)
    staged = stage_certificates(store, 4)
    hashes = source_hashes("certificates", staged)
    assert pending_mask(ledger, "certificates", staged).all()  # never seen
    states = ["synced", "rejected", "failed", "in_doubt"]
    ledger.record(
        "certificates",
        [
            {"key": k, "state": s, "source_hash": h}
            for k, s, h in zip(staged["certificate_id"], states, hashes, strict=True)
        ],
    )
    mask = pending_mask(ledger, "certificates", staged)
    assert staged.loc[mask, "certificate_id"].tolist() == ["g2"]  # only the failed one

    # A content change re-queues the rejected certificate, never a sent or in-doubt one.
    changed = stage_certificates(store, 4, amount="20")
    mask = pending_mask(ledger, "certificates", changed)
    assert sorted(changed.loc[mask, "certificate_id"]) == ["g1", "g2"]


def test_pending_for_orders_includes_changed_synced_records(store):
    ledger = Ledger(store)
    staged = pd.DataFrame([{"order_id": "o1", "status": "placed"}], dtype=object)
    staged = staged.reindex(columns=list(store.read_staged("orders").columns), fill_value=None)
    ledger.record(
        "orders",
        [{"key": "o1", "state": "synced", "source_hash": source_hashes("orders", staged).iloc[0]}],
    )
    assert not pending_mask(ledger, "orders", staged).any()
    staged.loc[0, "status"] = "dispatched"
    assert pending_mask(ledger, "orders", staged).all()


def test_claim_is_won_once(store):
    ledger = Ledger(store)
    first = ledger.claim("certificates", ["g1", "g2"], run_id="a")
    second = ledger.claim("certificates", ["g1", "g2", "g3"], run_id="b")
    assert first == {"g1", "g2"}
    assert second == {"g3"}
    frame = ledger.frame("certificates").set_index("key")
    assert set(frame["state"]) == {"in_doubt"}
    assert frame.loc["g1", "run_id"] == "a"


def test_claim_after_a_definite_failure_is_allowed_but_never_after_success(store):
    ledger = Ledger(store)
    ledger.claim("certificates", ["g1", "g2"], run_id="a")
    ledger.record(
        "certificates", [{"key": "g1", "state": "failed"}, {"key": "g2", "state": "synced"}]
    )
    assert ledger.claim("certificates", ["g1", "g2"], run_id="b") == {"g1"}


def test_concurrent_claims_never_overlap(store):
    keys = [f"g{i}" for i in range(200)]
    won: list[set[str]] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        ledger = Ledger(store)
        barrier.wait()
        mine: set[str] = set()
        for start in range(0, len(keys), 20):
            mine |= ledger.claim("certificates", keys[start : start + 20], run_id=name)
        won.append(mine)

    threads = [threading.Thread(target=worker, args=(f"run{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(w) for w in won) == len(keys)
    assert set().union(*won) == set(keys)


def test_replay_queues_rejected_and_failed_but_not_in_doubt(store):
    ledger = Ledger(store)
    ledger.record(
        "orders",
        [
            {"key": "o1", "state": "rejected", "source_hash": "x"},
            {"key": "o2", "state": "failed"},
            {"key": "o3", "state": "in_doubt"},
            {"key": "o4", "state": "synced"},
        ],
    )
    assert ledger.replay("orders", ["o1"]) == 1
    assert ledger.states("orders")["o1"] == "pending"
    assert ledger.replay() == 1  # o2
    assert ledger.states("orders") == {
        "o1": "pending",
        "o2": "pending",
        "o3": "in_doubt",
        "o4": "synced",
    }


def test_status_counts_new_and_changed_staged_rows_as_pending(store):
    ledger = Ledger(store)
    staged = stage_certificates(store, 3)
    hashes = source_hashes("certificates", staged)
    ledger.record(
        "certificates",
        [
            {"key": "g0", "state": "synced", "source_hash": hashes.iloc[0]},
            {"key": "g1", "state": "in_doubt", "source_hash": hashes.iloc[1]},
        ],
    )
    result = status(store)
    certs = result["entities"]["certificates"]
    assert (certs["staged"], certs["pending"], certs["synced"], certs["in_doubt"]) == (3, 1, 1, 1)
    assert [d["key"] for d in result["in_doubt"]] == ["g1"]


def test_rejects_lists_field_and_reason(store):
    Ledger(store).record(
        "customers",
        [
            {
                "key": "c1",
                "state": "rejected",
                "error_field": "mobile_number",
                "error_code": "e164",
                "error_message": "mobile_number '0161 496 000' is not a valid number for GB",
            }
        ],
    )
    (item,) = rejects(store)
    assert item["id"] == "c1" and item["field"] == "mobile_number"
    assert "not a valid number for GB" in item["reason"]


def test_problems_list_waiting_records_in_order_through_the_state_index(store):
    """Problems and waiting records, sorted by entity and key; other pending and synced
    records are not read: on SQLite the query goes through the (entity, state) index,
    not a walk of every record (``dotsync rejects`` on a big ledger)."""
    ledger = Ledger(store)
    ledger.record("orders", [
        {"key": "o3", "state": "rejected", "error_code": "currency"},
        {"key": "o1", "state": "pending", "error_code": "waiting_for_contact"},
        {"key": "o2", "state": "pending"},
        {"key": "o0", "state": "synced"}])
    ledger.record("customers", [{"key": "c9", "state": "failed", "error_code": "x"}])
    ledger.record("contacts", [{"key": "a@example.com", "state": "in_doubt"}])
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, many):
        if "FROM ledger" in statement:
            statements.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        frame = ledger.problems(waiting=True)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert list(zip(frame["entity"], frame["key"], frame["state"], strict=True)) == [
        ("contacts", "a@example.com", "in_doubt"), ("customers", "c9", "failed"),
        ("orders", "o1", "pending"), ("orders", "o3", "rejected")]
    (statement, params), = statements
    if store.engine.dialect.name != "sqlite":
        return  # PostgreSQL's planner picks the index for either form of the query
    with store.engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", params))
    assert "ix_ledger_entity_state_key" in plan, plan


def test_schema_is_stamped_and_reopening_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(url)
    Ledger(store).record("orders", [{"key": "o1", "state": "synced"}])
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.SCHEMA_VERSION
    again = Store(url)
    assert Ledger(again).states("orders") == {"o1": "synced"}


def test_a_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '999' WHERE name = 'schema_version'"))
    with pytest.raises(migrations.SchemaTooNewError, match="999"):
        Store(url)


def test_migration_steps_run_in_order(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    Store(url)
    ran: list[int] = []
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", migrations.SCHEMA_VERSION + 2)
    monkeypatch.setitem(migrations.STEPS, migrations.SCHEMA_VERSION - 1, lambda c: ran.append(1))
    monkeypatch.setitem(migrations.STEPS, migrations.SCHEMA_VERSION, lambda c: ran.append(2))
    store = Store(url)
    assert ran == [1, 2]
    assert store.schema_version == migrations.SCHEMA_VERSION


def test_emails_without_customer_are_found_by_the_database(store):
    from tests.e2e.helpers import stage

    stage(store, "customers", [{"customer_id": "C1", "email": " Jo@Example.com "}])
    stage(store, "orders", [
        {"order_id": "O1", "customer_email": "jo@example.com"},
        {"order_id": "O2", "customer_email": "guest@example.org"},
        {"order_id": "O3", "customer_email": "guest@example.org"},
        {"order_id": "O4", "customer_email": None},
    ])
    assert store.emails_without_customer("orders", "customer_email") == ["guest@example.org"]
