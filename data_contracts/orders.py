"""The ``orders`` contract (SPEC §1)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts import columns
from dotsync.data_contracts._contract import Run, is_none
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import without_gc
from dotsync.data_contracts.currencies import CURRENCY_CODES
from dotsync.data_contracts.orderlines import parse_lines
from dotsync.data_contracts.result import ContractResult

from dotsync.store.schema import ENTITY_COLUMNS

#: SPEC §1 columns, from the store's one list.
ORDER_COLUMNS: tuple[str, ...] = ENTITY_COLUMNS["orders"]
#: Columns a frame must have; the others are null when absent.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "order_id", "status", "currency", "total", "placed_at", "updated_at", "lines",
)
OPTIONAL_DECIMALS: tuple[str, ...] = ("subtotal", "tax", "shipping", "discount", "refunded")

_TEXT = object
_UTC = pd.DatetimeTZDtype("us", "UTC")


def _utc(now: Any) -> pd.Timestamp:
    ts = pd.Timestamp(now)
    if ts is pd.NaT:
        raise ValueError("now must be a timestamp, not NaT")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _emails_of_customers(
    run: Run, email_text: np.ndarray, customer_id: np.ndarray, emails: Mapping[str, Any]
) -> np.ndarray:
    """``customer_email`` where given, else the e-mail of the customer ``customer_id``
    names (SPEC §1: shops export orders that carry only the customer's id)."""
    need = np.flatnonzero(is_none(email_text) & ~is_none(customer_id)
                          & ~run.flagged("customer_email"))
    if need.size == 0:
        return email_text
    out = email_text.copy()
    unknown: list[int] = []
    no_email: list[int] = []
    for i in need.tolist():
        cid = customer_id[i]
        if cid not in emails:
            unknown.append(i)
            continue
        found = emails[cid]
        text = found.strip() if isinstance(found, str) else None
        if text:
            out[i] = text
        else:
            no_email.append(i)
    raw = run.raw["customer_id"]
    run.report(unknown, "customer_email", "unknown_customer", raw[unknown], [
        f"customer_email is empty and customer_id {show(raw[i])} names no staged customer"
        for i in unknown])
    run.report(no_email, "customer_email", "required", raw[no_email], [
        f"customer_email is empty and customer {show(raw[i])} has no e-mail"
        for i in no_email])
    return out


@without_gc
def validate_orders(
    df: pd.DataFrame, now: pd.Timestamp | None = None, strict: Collection[str] = (),
    customer_emails: Mapping[str, Any] | None = None,
) -> ContractResult:
    """Check and normalise staged orders (SPEC §1).

    ``now`` (default: the current time) is the moment ``placed_at`` may not be after; a
    naive ``now`` is taken as UTC. ``valid`` columns: ``order_id``, ``customer_id``,
    ``customer_email`` (trimmed, lower-cased), ``status``, ``currency`` (upper case),
    ``total``, ``subtotal``, ``tax``, ``shipping``, ``discount``, ``refunded`` (float64,
    NaN when absent), ``placed_at``, ``updated_at`` (UTC), ``lines`` (list of
    ``{sku, name, quantity, unit_price, categories}``), ``store``, ``coupon_code``, then
    any other input columns. ``customer_id`` is kept exactly as given (it refers to a
    customer key).

    Problems in optional fields (``subtotal``, ``tax``, ``shipping``, ``discount``,
    ``refunded``, ``store``, ``coupon_code``, a line's ``sku`` or ``categories``) are
    *warnings*: the value is left out (NaN/None; a line without its sku or categories)
    and the order goes on, unless ``strict`` names the field.

    ``customer_emails`` maps a ``customer_id`` to its staged customer's e-mail (as
    stored; None when that customer has none): an order with an empty
    ``customer_email`` takes its customer's e-mail; one whose ``customer_id`` names no
    customer in the mapping, or a customer without an e-mail, is rejected. The caller
    looks up only the ids of orders without an e-mail.
    """
    moment = pd.Timestamp.now(tz="UTC") if now is None else _utc(now)
    run = Run(df, ORDER_COLUMNS, REQUIRED_COLUMNS, "order_id", "orders", strict)
    email_text = run.text("customer_email", control=False)
    customer_id = run.text("customer_id", strip=False)
    email_text = _emails_of_customers(run, email_text, customer_id, customer_emails or {})
    email_job = columns.email_column(email_text)

    run.text("status")
    run.uppered("currency")
    total = run.decimal("total")
    for name in OPTIONAL_DECIMALS:
        run.decimal(name)
    run.timestamp("placed_at")
    run.timestamp("updated_at")
    run.per_value("lines", parse_lines)
    run.text("store")
    run.text("coupon_code")

    emails, email_why = email_job.result()
    run.add_reasons("customer_email", "email_syntax", email_why, "customer_email ")
    run.typed["customer_email"] = emails

    total_series = pd.Series(total)
    not_negative = pa.Check.ge(0, error="not_negative")

    def refunded_le_total(s: pd.Series) -> pd.Series:
        return ~(s > total_series.reindex(s.index))

    def not_in_future(s: pd.Series) -> pd.Series:
        return s <= moment

    schema = pa.DataFrameSchema(
        {
            "order_id": pa.Column(_TEXT, nullable=False, unique=True),
            "customer_email": pa.Column(_TEXT, nullable=False),
            "status": pa.Column(_TEXT, nullable=False),
            "currency": pa.Column(
                _TEXT, pa.Check.isin(sorted(CURRENCY_CODES), error="iso4217"), nullable=False
            ),
            "total": pa.Column(float, not_negative, nullable=False),
            **{n: pa.Column(float, not_negative, nullable=True)
               for n in OPTIONAL_DECIMALS if n != "refunded"},
            "refunded": pa.Column(
                float,
                [not_negative, pa.Check(refunded_le_total, error="refunded_le_total")],
                nullable=True,
            ),
            "placed_at": pa.Column(
                _UTC, pa.Check(not_in_future, error="not_in_future"), nullable=False
            ),
            "updated_at": pa.Column(_UTC, nullable=False),
            "lines": pa.Column(_TEXT, nullable=False),
        },
        strict=False,
        coerce=False,
    )
    frame = run.schema_frame(
        {c: _TEXT for c in ("order_id", "customer_email", "status", "currency", "lines")}
        | {c: float for c in ("total", *OPTIONAL_DECIMALS)}
        | {"placed_at": _UTC, "updated_at": _UTC}
    )
    raw_total = run.raw["total"]
    templates = {
        "iso4217": lambda f, v, _i: f"currency {show(v)} is not an ISO 4217 code",
        "not_negative": lambda f, v, _i: f"{f} {show(v)} must not be negative",
        "refunded_le_total": lambda f, v, i: (
            f"refunded {show(v)} is more than total {show(raw_total[i])}"
        ),
        "not_in_future": lambda f, v, _i: (
            f"placed_at {show(v)} is in the future (now is {moment.isoformat()})"
        ),
    }
    run.validate(schema, frame, templates)
    del email_text, emails, email_why, total, frame
    return run.result(ORDER_COLUMNS)
