"""Upgrading a store from an older schema keeps its data and its fingerprints."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.store import Store, migrations, schema
from dotsync.store.frames import row_hashes
from dotsync.store.status import source_hashes

_V2_CUSTOMER_COLUMNS = [c for c in schema.ENTITY_COLUMNS["customers"]
                        if c not in schema.LATER_COLUMNS["customers"]]


def _v2_store(url: str) -> None:
    """A store as version 2 wrote it: customers without the consent-record columns."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, "
            + ", ".join(f'"{c}" TEXT' for c in _V2_CUSTOMER_COLUMNS[1:]) + ")"))
        conn.execute(sa.text("CREATE TABLE dotsync_meta (name VARCHAR(64) PRIMARY KEY, "
                             "value TEXT)"))
        conn.execute(sa.text("INSERT INTO dotsync_meta VALUES ('schema_version', '2')"))
        conn.execute(sa.text("INSERT INTO customers (customer_id, email, updated_at) "
                             "VALUES ('C1', 'jo@example.com', '2024-01-01T00:00:00Z')"))
    engine.dispose()


def test_a_version_2_store_gains_the_consent_columns_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _v2_store(url)
    store = Store(url)
    assert store.schema_version == migrations.SCHEMA_VERSION
    staged = store.read_staged("customers")
    assert staged["customer_id"].tolist() == ["C1"]
    assert staged["email"].tolist() == ["jo@example.com"]
    assert staged["consent_text"].isna().all()
    store.dispose()


_text = st.one_of(st.none(), st.text(max_size=8))


@settings(max_examples=50)
@given(st.lists(st.tuples(_text, _text, _text), min_size=1, max_size=20))
def test_rows_without_consent_records_keep_the_fingerprint_they_had(rows):
    frame = pd.DataFrame(
        [dict(dict.fromkeys(schema.ENTITY_COLUMNS["customers"]),
              customer_id=f"C{i}", email=a, first_name=b, updated_at=c)
         for i, (a, b, c) in enumerate(rows)], dtype=object)
    assert source_hashes("customers", frame).tolist() == row_hashes(
        frame, _V2_CUSTOMER_COLUMNS).tolist()


def test_a_consent_record_changes_the_fingerprint():
    row = dict.fromkeys(schema.ENTITY_COLUMNS["customers"])
    row.update(customer_id="C1", email="jo@example.com", updated_at="2024-01-01T00:00:00Z")
    plain = pd.DataFrame([row], dtype=object)
    with_text = pd.DataFrame([{**row, "consent_text": "Yes, e-mail me"}], dtype=object)
    assert source_hashes("customers", plain).iloc[0] != source_hashes(
        "customers", with_text).iloc[0]
