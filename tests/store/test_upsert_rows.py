"""The platform loaders' tuple upsert keeps the same counts and rows as the frame one."""

from __future__ import annotations

from dotsync.store import schema
from dotsync.store.frames import object_frame


def _row(key: str, email: str | None, **values: str | None) -> tuple[str | None, ...]:
    cols = schema.ENTITY_COLUMNS["customers"]
    base = {c: None for c in cols} | {"customer_id": key, "email": email,
                                       "updated_at": "2024-01-01T00:00:00+00:00"}
    return tuple((base | values)[c] for c in cols)


def test_inserts_updates_and_leaves_identical_rows_alone(store):
    first = store.upsert_rows("customers", [_row("1", "a@example.com"),
                                            _row("2", "b@example.com")])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = store.upsert_rows("customers", [_row("1", "a@example.com"),
                                            _row("2", "b2@example.com", country="DE"),
                                            _row("3", None)])
    assert (again.inserted, again.updated, again.unchanged) == (1, 1, 1)
    staged = store.read_staged("customers").sort_values("customer_id")
    assert staged["email"].tolist() == ["a@example.com", "b2@example.com", None]
    assert staged["country"].tolist() == [None, "DE", None]
    # The frame upsert agrees that nothing changed since.
    cols = list(schema.ENTITY_COLUMNS["customers"])
    same = store.upsert_staged("customers", object_frame(
        [_row("1", "a@example.com"), _row("2", "b2@example.com", country="DE")], cols))
    assert (same.inserted, same.updated, same.unchanged) == (0, 0, 2)
