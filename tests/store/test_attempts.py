"""The attempt log: appended in bulk where the ledger settles, scrubbed, pruned by age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.store import Ledger, Store, migrations, schema
from dotsync.store import attempts as log


def _count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.attempts))
                   .scalar_one())


def test_settling_with_an_operation_appends_one_attempt_per_record(store: Store) -> None:
    ledger = Ledger(store)
    ledger.record("orders", [
        {"key": f"O{i}", "state": "synced", "dotdigital_ref": "imp-1"} for i in range(3)
    ] + [{"key": "O9", "state": "rejected", "error_code": "Invalid",
          "error_message": "bad record of jo@example.com"}],
        run_id="run-1", attempt=log.INSIGHT_IMPORT)
    ledger.record("orders", [{"key": "O1", "state": "synced"}], run_id="run-2")  # no attempt
    assert _count(store) == 4
    rows = log.of_record(store, "orders", "O9")
    assert [(r["operation"], r["outcome"], r["run_id"], r["error_code"]) for r in rows] == [
        (log.INSIGHT_IMPORT, "rejected", "run-1", "Invalid")]
    assert rows[0]["error_message"] == "bad record of j***@example.com"
    assert log.of_record(store, "orders", "O0")[0]["reference"] == "imp-1"


def test_attempts_are_written_in_one_statement_per_batch(sqlite_store: Store) -> None:
    """Thousands of records settled: the attempt rows go in one executemany, not a loop."""
    inserts: list[bool] = []

    def seen(_conn, _cursor, statement, _params, _context, executemany):
        if statement.startswith("INSERT INTO attempts"):
            inserts.append(executemany)

    sa.event.listen(sqlite_store.engine, "before_cursor_execute", seen)
    Ledger(sqlite_store).record("orders", [{"key": f"O{i}", "state": "synced"}
                                           for i in range(3_000)],
                                run_id="r", attempt=log.INSIGHT_IMPORT)
    assert inserts == [True]
    assert _count(sqlite_store) == 3_000


def test_claims_replays_and_erasures_reach_the_log(store: Store) -> None:
    ledger = Ledger(store)
    assert ledger.claim("certificates", ["G1", "G2"], run_id="r1") == {"G1", "G2"}
    assert ledger.claim("certificates", ["G1"], run_id="r2") == set()  # not claimed twice
    assert [(r["operation"], r["run_id"]) for r in log.of_record(store, "certificates", "G1")
            ] == [(log.CAMPAIGN_CLAIM, "r1")]
    ledger.record("customers", [{"key": "C1", "state": "rejected"},
                                {"key": "C2", "state": "synced"}], run_id="r1")
    assert ledger.replay("customers") == 1
    replayed = log.of_record(store, "customers", "C1")
    assert [(r["operation"], r["outcome"], r["error_code"]) for r in replayed] == [
        (log.REPLAY, "pending", "rejected")]
    assert log.of_record(store, "customers", "C2") == []
    log.log(store, "contacts", [{"key": "guest@example.com", "state": "synced"}],
            operation=log.CONTACT_IMPORT, run_id="r1")
    ledger.record("contacts", [{"key": "guest@example.com", "state": "synced"}])
    ledger.forget("contacts", ["guest@example.com"])
    assert log.of_record(store, "contacts", "guest@example.com") == []


def test_retention_prunes_only_what_is_older(store: Store) -> None:
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        for days, key in ((200, "old"), (91, "older"), (89, "kept"), (0, "new")):
            log.write(conn, "orders", [{"key": key, "state": "synced"}],
                      operation=log.INSIGHT_PUT, run_id="r", at=now - timedelta(days=days))
    assert log.prune(store, 90, now=now) == 2
    assert {k for k in ("old", "older", "kept", "new") if log.of_record(store, "orders", k)
            } == {"kept", "new"}
    assert log.prune(store, 90, now=now) == 0


def test_a_version_5_store_gains_the_attempt_log(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'v5.db'}"
    Store(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE attempts"))
        conn.execute(sa.text("UPDATE dotsync_meta SET value = '5' "
                             "WHERE name = 'schema_version'"))
    engine.dispose()
    store = Store(url)
    assert store.schema_version == migrations.SCHEMA_VERSION == 7
    Ledger(store).record("orders", [{"key": "O1", "state": "synced"}], run_id="r",
                         attempt=log.INSIGHT_PUT)
    assert [r["outcome"] for r in log.of_record(store, "orders", "O1")] == ["synced"]
    names = {i["name"] for i in sa.inspect(store.engine).get_indexes("attempts")}
    assert {"ix_attempts_entity_key_at", "ix_attempts_at"} <= names
    store.dispose()


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=2, max_size=12)
_domain = st.from_regex(r"[a-z]{2,8}\.(com|org|co\.uk)", fullmatch=True)


@settings(max_examples=80)
@given(_local, _domain, st.text(max_size=30), st.text(max_size=30),
       st.from_regex(r"\+?\d{7,14}", fullmatch=True))
def test_scrub_leaves_no_email_number_or_secret(local, domain, before, after, phone) -> None:
    email = f"{local}@{domain}"
    text = f"{before} {email} {after} call {phone} password={local}Zz9 token: abc{local}"
    out = log.scrub(text)
    assert email not in out
    assert phone.lstrip("+") not in out
    assert f"{local}Zz9" not in out and f"abc{local}" not in out
    assert len(out) <= log.MAX_MESSAGE


def test_scrub_keeps_what_is_not_personal() -> None:
    assert log.scrub("ContactEmailDoesNotExist (import 3f2a)") == \
        "ContactEmailDoesNotExist (import 3f2a)"
    assert log.scrub("import 6c1b1f52-1234-4567-8901-234567890123 ended Failed") == \
        "import 6c1b1f52-1234-4567-8901-234567890123 ended Failed"
    assert log.scrub("expired at 2026-10-03T10:00:00Z") == "expired at 2026-10-03T10:00:00Z"
    assert log.scrub("mobile 07700 900123 taken") == "mobile ***123 taken"
    assert log.scrub(None) is None
    assert log.scrub("x" * 2_000).endswith("…")
