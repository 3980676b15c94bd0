"""The ``carts`` contract (SPEC §1, issue 16).

A cart belongs to a contact by ``customer_email``, or by ``customer_id`` naming a
staged customer with an e-mail (as orders do). ``lines`` are checked as an order's
lines, except that an empty cart (``[]`` or no lines) is valid: it is staged and
tracked, and the cart plan (:mod:`dotsync.sync.carts_plan`) never sends it. Amounts
are decimals ≥ 0, ``currency`` an ISO 4217 code, ``url`` (the recovery link) an
``https://`` URL.

``subtotal``, ``total``, ``url`` and ``created_at`` are optional: a problem there is a
warning and the field is left out, unless ``DOTSYNC_STRICT_FIELDS`` names it. A bad
``converted_at`` or ``converted_order_id`` rejects the cart: leaving it out could make
a converted cart look abandoned, and a cart e-mail must never follow a purchase.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts import columns
from dotsync.data_contracts._contract import Run, is_none
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import distinct_map, without_gc
from dotsync.data_contracts.currencies import CURRENCY_CODES
from dotsync.data_contracts.orderlines import parse_lines
from dotsync.data_contracts.orders import _emails_of_customers
from dotsync.data_contracts.result import ContractResult
from dotsync.data_contracts.urls import https_url_problem

from dotsync.store.schema import ENTITY_COLUMNS

CART_COLUMNS: tuple[str, ...] = ENTITY_COLUMNS["carts"]
REQUIRED_COLUMNS: tuple[str, ...] = ("cart_id", "currency", "updated_at")
AMOUNTS: tuple[str, ...] = ("subtotal", "total")

_TEXT = object
_UTC = pd.DatetimeTZDtype("us", "UTC")


def parse_cart_lines(value: Any) -> Any:
    """An order's line rules, but no lines (null, blank, ``[]``) is an empty cart."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "[]")):
        return []
    if isinstance(value, list | tuple) and len(value) == 0:
        return []
    return parse_lines(value)


def url_problem(name: str) -> Any:
    """:func:`https_url_problem` worded for the field ``name``."""
    def problem(raw: Any) -> str | None:
        why = https_url_problem(raw)
        return None if why is None else name + why.removeprefix("link")
    return problem


def check_url(run: Run, name: str) -> None:
    """Report every value of ``name`` that is not an ``https://`` URL."""
    values = run.text(name, control=False)
    problems = distinct_map(values, url_problem(name))
    pos = np.flatnonzero(np.not_equal(problems, None))
    if pos.size:
        run.report(pos, name, "https_url", run.raw[name][pos], list(problems[pos]))


@without_gc
def validate_carts(df: pd.DataFrame, strict: Collection[str] = (),
                   customer_emails: Mapping[str, Any] | None = None) -> ContractResult:
    """Check and normalise staged carts. ``valid`` columns: ``cart_id``,
    ``customer_id`` (as given), ``customer_email`` (trimmed, lower-cased),
    ``currency`` (upper case), ``lines`` (a list, maybe empty), ``subtotal``,
    ``total`` (float64, NaN when absent), ``url``, ``created_at``, ``updated_at``,
    ``converted_at`` (UTC), ``converted_order_id``. ``customer_emails`` as for
    :func:`dotsync.data_contracts.orders.validate_orders`."""
    run = Run(df, CART_COLUMNS, REQUIRED_COLUMNS, "cart_id", "carts", strict)
    email_text = run.text("customer_email", control=False)
    customer_id = run.text("customer_id", strip=False)
    email_text = _emails_of_customers(run, email_text, customer_id, customer_emails or {})
    email_job = columns.email_column(email_text)
    run.uppered("currency")
    for name in AMOUNTS:
        run.decimal(name)
    lines = run.per_value("lines", parse_cart_lines)
    for i in np.flatnonzero(is_none(run.raw["lines"])).tolist():
        lines[i] = []  # no lines at all: an empty cart
    check_url(run, "url")
    run.timestamp("created_at")
    run.timestamp("updated_at")
    run.timestamp("converted_at")
    run.text("converted_order_id", strip=False)

    emails, email_why = email_job.result()
    run.add_reasons("customer_email", "email_syntax", email_why, "customer_email ")
    run.typed["customer_email"] = emails

    not_negative = pa.Check.ge(0, error="not_negative")
    schema = pa.DataFrameSchema(
        {
            "cart_id": pa.Column(_TEXT, nullable=False, unique=True),
            "customer_email": pa.Column(_TEXT, nullable=False),
            "currency": pa.Column(
                _TEXT, pa.Check.isin(sorted(CURRENCY_CODES), error="iso4217"), nullable=False),
            **{n: pa.Column(float, not_negative, nullable=True) for n in AMOUNTS},
            "lines": pa.Column(_TEXT, nullable=False),
            "updated_at": pa.Column(_UTC, nullable=False),
        },
        strict=False,
        coerce=False,
    )
    frame = run.schema_frame(
        {c: _TEXT for c in ("cart_id", "customer_email", "currency", "lines")}
        | {c: float for c in AMOUNTS} | {"updated_at": _UTC})
    templates = {
        "iso4217": lambda f, v, _i: f"currency {show(v)} is not an ISO 4217 code",
        "not_negative": lambda f, v, _i: f"{f} {show(v)} must not be negative",
        "required": lambda f, v, _i: (
            "customer_email is required (or a customer_id naming a staged customer with an "
            "e-mail)" if f == "customer_email" else f"{f} is required"),
    }
    run.validate(schema, frame, templates)
    del email_text, emails, email_why, frame, lines
    return run.result(CART_COLUMNS)
