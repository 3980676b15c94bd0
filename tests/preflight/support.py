"""Helpers for the preflight tests: staging rows as text, settings for an emulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import SecretStr

from dotsync.config import Settings
from dotsync.emulator import DEFAULT_USER, EmulatorServer
from dotsync.store import ENTITY_COLUMNS, Store

#: A password distinctive enough that finding it anywhere in output is a real leak.
SECRET_PASSWORD = "Pf-s3cret-Horse-Battery-91"
WRONG_PASSWORD = "Wr0ng-Pf-Staple-Correct-77"

DEFAULTS: dict[str, dict[str, str]] = {
    "customers": {"updated_at": "2025-01-01T00:00:00Z"},
    "orders": {"status": "complete", "currency": "GBP", "total": "10.00",
               "placed_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
               "lines": '[{"sku": "A", "name": "A", "quantity": 1, "unit_price": 10}]'},
    "certificates": {"code": "GC-0000", "amount": "25.00", "currency": "GBP",
                     "updated_at": "2025-01-01T00:00:00Z"},
}


def stage(store: Store, entity: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert ``rows`` (text values; missing columns null, a few required ones defaulted)."""
    key = {"customers": "customer_id", "orders": "order_id",
           "certificates": "certificate_id"}[entity]
    full = []
    for i, row in enumerate(rows):
        record = {c: None for c in ENTITY_COLUMNS[entity]}
        record.update(DEFAULTS[entity])
        record[key] = f"{entity[0].upper()}{i:05d}"
        record.update({k: None if v is None else str(v) for k, v in row.items()})
        full.append(record)
    store.upsert_staged(entity, pd.DataFrame(full, columns=list(ENTITY_COLUMNS[entity]),
                                             dtype=object))


def certificates(n: int, **overrides: Any) -> list[dict[str, Any]]:
    """``n`` good certificates: distinct recipients, codes and https links."""
    rows = []
    for i in range(n):
        row = {"recipient_email": f"buyer{i}@northwind-mail.co.uk", "code": f"GC-{i:04d}",
               "link": f"https://shop.northwind.co.uk/gift/GC-{i:04d}"}
        row.update({k: (v(i) if callable(v) else v) for k, v in overrides.items()})
        rows.append(row)
    return rows


def make_settings(server: EmulatorServer | None = None, *, discover: bool = False,
                  **fields: Any) -> Settings:
    values: dict[str, Any] = {
        "api_user": DEFAULT_USER,
        "api_password": SecretStr(SECRET_PASSWORD),
        "api_endpoint": None if (discover or server is None or "api_endpoint" in fields)
        else server.url,
        "certificate_campaign_id": 1001,
        "order_campaign": "Order confirmation",
    }
    if "api_password" in fields and isinstance(fields["api_password"], str):
        fields["api_password"] = SecretStr(fields["api_password"])
    values.update(fields)
    return Settings(**values)
