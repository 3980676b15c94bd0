"""Builders of staged rows for the contract tests, and the naughty-strings fixture.

Rows are dicts of ``str``/``None`` (as the staging store holds them); ``frame()`` turns
them into the object-column DataFrame the contracts receive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dotsync.data_contracts import parallel

DATA = Path(__file__).resolve().parent.parent / "data"

NOW = pd.Timestamp("2026-06-01T12:00:00Z")


def customer(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": "c1",
        "email": "jo@example.com",
        "first_name": "Jo",
        "last_name": "Bloggs",
        "mobile_number": "+447911123456",
        "country": "GB",
        "email_type": "html",
        "opt_in_type": "single",
        "email_consent": "subscribed",
        "sms_consent": None,
        "store": "uk",
        "locale": "en-GB",
        "data_fields": '{"TIER":"gold"}',
        "updated_at": "2026-01-02T03:04:05Z",
    }
    row.update(overrides)
    return row


def order(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": "o1",
        "customer_id": "c1",
        "customer_email": "jo@example.com",
        "status": "paid",
        "currency": "GBP",
        "total": "25.00",
        "subtotal": "20.00",
        "tax": "4.00",
        "shipping": "1.00",
        "discount": None,
        "refunded": None,
        "placed_at": "2026-05-01T10:00:00Z",
        "updated_at": "2026-05-01T11:00:00Z",
        "lines": '[{"sku":"A-1","name":"Shirt","quantity":2,"unit_price":10,'
                 '"categories":["Men","Shirts"]}]',
        "store": "uk",
        "coupon_code": None,
    }
    row.update(overrides)
    return row


def certificate(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "certificate_id": "g1",
        "recipient_email": "jo@example.com",
        "code": "GIFT-123",
        "amount": "50",
        "currency": "EUR",
        "link": "https://shop.example.com/gift/GIFT-123",
        "expires_at": "2027-01-01T00:00:00Z",
        "campaign_id": "42",
        "updated_at": "2026-05-01T00:00:00Z",
    }
    row.update(overrides)
    return row


def frame(rows: Iterable[Mapping[str, Any]], index: Iterable[Any] | None = None) -> pd.DataFrame:
    rows = list(rows)
    columns = list(rows[0]) if rows else []
    return pd.DataFrame(
        [[r.get(c) for c in columns] for r in rows], columns=columns, index=index, dtype=object
    )


def rejects_of(result: Any) -> list[tuple[Any, str, str]]:
    return [(k, f, c) for k, f, c in result.rejects[["key", "field", "check"]].itertuples(
        index=False)]


@pytest.fixture(scope="session")
def naughty_strings() -> list[str]:
    """The big list of naughty strings (tests/data/SOURCE.txt says where it comes from)."""
    return json.loads((DATA / "blns.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _no_pool_by_default() -> Iterable[None]:
    """Tests run in-process unless they ask for the pool (see test_parallel.py)."""
    parallel.configure(max_workers=0)
    yield
    parallel.reset()
