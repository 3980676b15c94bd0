"""Small helpers for end-to-end tests: stage records, read the emulator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from dotsync.store import ENTITY_COLUMNS, Ledger, Store
from dotsync.store.frames import as_text

WRITE_METHODS = {"PUT", "PATCH", "POST", "DELETE"}


def stage(store: Store, entity: str, rows: list[dict[str, Any]]) -> None:
    columns = ENTITY_COLUMNS[entity]
    frame = pd.DataFrame(
        [{c: as_text(r.get(c)) for c in columns} for r in rows], columns=list(columns),
        dtype=object,
    )
    store.upsert_staged(entity, frame)


def customer(i: int, **over: Any) -> dict[str, Any]:
    row = {"customer_id": f"C{i}", "email": f"customer{i}@example.com", "first_name": f"First{i}",
           "last_name": f"Last{i}", "country": "GB", "email_consent": "subscribed",
           "opt_in_type": "single", "updated_at": "2026-10-01T10:00:00Z"}
    row.update(over)
    return row


def order(i: int, email: str, **over: Any) -> dict[str, Any]:
    row = {"order_id": f"O{i}", "customer_email": email, "status": "placed", "currency": "GBP",
           "total": "24.00", "subtotal": "24.00", "placed_at": "2026-10-02T10:00:00Z",
           "updated_at": "2026-10-02T10:00:00Z",
           "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": 12.0,
                      "categories": ["Kitchen", "Gifts"]}]}
    row.update(over)
    return row


def certificate(i: int, email: str, **over: Any) -> dict[str, Any]:
    row = {"certificate_id": f"G{i}", "recipient_email": email, "code": f"CODE{i}",
           "amount": "25", "currency": "GBP", "link": f"https://shop.example.com/g/{i}",
           "updated_at": "2026-10-03T10:00:00Z"}
    row.update(over)
    return row


def cart(i: int, email: str, **over: Any) -> dict[str, Any]:
    row = {"cart_id": f"K{i}", "customer_email": email, "currency": "GBP",
           "subtotal": "24.00", "total": "24.00", "url": f"https://shop.example.com/c/{i}",
           "created_at": "2026-10-05T09:00:00Z", "updated_at": "2026-10-05T09:30:00Z",
           "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": 12.0}]}
    row.update(over)
    return row


def write_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if c["method"] in WRITE_METHODS and c["status"] < 500
            and not c["path"].startswith("/_emulator")]


def sends_by_code(sends: list[dict[str, Any]]) -> Counter[str]:
    """How many sends each certificate code (or order id) received."""
    counts: Counter[str] = Counter()
    for send in sends:
        values = send.get("personalizationValues") or {}
        counts[values.get("CERTIFICATE_CODE") or values.get("ORDER_ID") or "?"] += 1
    return counts


def states(store: Store, entity: str) -> dict[str, str]:
    return Ledger(store).states(entity)


@contextmanager
def prefect_variables() -> Iterator[dict[str, Any]]:
    """Prefect Variables a test sets (through :func:`set_variables`), deleted afterwards:
    the Prefect backend is shared by the session."""
    from prefect.variables import Variable

    wanted: dict[str, Any] = {}
    try:
        yield wanted
    finally:
        for name in wanted:
            Variable.unset(name)


def set_variables(variables: dict[str, Any], values: dict[str, Any]) -> None:
    """Set Prefect Variables, remembered in ``variables`` for deletion."""
    from prefect.variables import Variable

    for name, value in values.items():
        Variable.set(name, value, overwrite=True)
        variables[name] = value
