"""The ``products`` contract (SPEC §1, issue 16).

A product is keyed by ``store`` and ``sku``. ``status`` is ``enabled``, ``disabled`` or
``deleted`` (null: ``enabled``). An enabled product needs a ``name``, a ``price`` ≥ 0
and an ISO 4217 ``currency``: it goes into the store's catalogue. A disabled or deleted
one needs only its key: it is removed from the catalogue, so a shop whose export
carries nothing but the SKU and the status of a withdrawn product still gets it out.
Status is how a product leaves: a row deleted from the staging table is not seen by
the change feed (finding it would mean comparing the whole table with the ledger each
run), so its catalogue record stays until the product is loaded with ``deleted``.

``sale_price`` (≥ 0), ``url`` and ``image_url`` (``https://``), ``categories`` (a JSON
list of text) and ``stock`` (a number) are optional: a problem there is a warning and
the field is left out, unless ``DOTSYNC_STRICT_FIELDS`` names it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts._contract import Run, is_none
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import CONTROL_RE, without_gc
from dotsync.data_contracts.carts import check_url
from dotsync.data_contracts.currencies import CURRENCY_CODES
from dotsync.data_contracts.jsonfields import Problems
from dotsync.data_contracts.result import ContractResult

from dotsync.store.schema import ENTITY_COLUMNS

PRODUCT_COLUMNS: tuple[str, ...] = ENTITY_COLUMNS["products"]
REQUIRED_COLUMNS: tuple[str, ...] = ("sku", "store", "updated_at")
STATUSES: tuple[str, ...] = ("enabled", "disabled", "deleted")

_TEXT = object
#: The largest price or stock a catalogue record carries: its minor units (up to three
#: decimals) stay exact integers in JSON (below 2**53), which Dotdigital's numbers need
#: (``JsonNumberValueTooLarge`` in the insight spec's import failures).
MAX_NUMBER = 9_000_000_000_000
_UTC = pd.DatetimeTZDtype("us", "UTC")


def parse_categories(value: Any) -> list[str] | Problems | None:
    """A JSON list of text (JSON text or an already-parsed list); null is no list."""
    if value is None:
        return None
    doc = value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return Problems([("json_syntax", f"categories is not valid JSON: {exc}")])
    if hasattr(doc, "tolist"):  # a Parquet list arrives as an array
        doc = doc.tolist()
    if not isinstance(doc, list | tuple):
        return Problems([("json_shape", "categories must be a JSON list of text, got "
                                        f"{type(doc).__name__}")])
    out: list[str] = []
    for i, item in enumerate(doc):
        if not isinstance(item, str):
            return Problems([("json_shape", f"categories[{i}] must be text, got "
                                            f"{type(item).__name__}")])
        if CONTROL_RE.search(item):
            return Problems([("control_chars", f"categories[{i}] holds control characters")])
        out.append(item.strip())
    return out


def _categories(run: Run) -> None:
    """Parse ``categories``; a bad list is a warning (left out) unless strict."""
    raw = run.raw["categories"]
    out = np.empty(run.n, dtype=object)
    for i, value in enumerate(raw.tolist()):
        parsed = parse_categories(value)
        if isinstance(parsed, Problems):
            check, reason = parsed[0]
            run.report([i], "categories", check, [value], [reason])
            parsed = None
        out[i] = parsed
    run.typed["categories"] = out


@without_gc
def validate_products(df: pd.DataFrame, strict: Collection[str] = ()) -> ContractResult:
    """Check and normalise staged products. ``valid`` columns: ``sku``, ``store`` (as
    given), ``name``, ``price``, ``sale_price``, ``stock`` (float64, NaN when absent),
    ``currency`` (upper case), ``url``, ``image_url``, ``categories`` (list or None),
    ``status`` (lower case), ``updated_at`` (UTC). Rejects are keyed ``store / sku``."""
    run = Run(df, PRODUCT_COLUMNS, REQUIRED_COLUMNS, "sku", "products", strict)
    store = run.text("store", strip=False)
    # Keyed by the store as given, even one the checks refuse (control characters), so
    # every problem of a record names the same "store / sku" as its staged row.
    run.report_keys = np.array(
        [f"{st} / {k}" if isinstance(st, str) else k
         for st, k in zip(run.raw["store"].tolist(), run.report_keys.tolist(), strict=True)],
        dtype=object)
    run.text("name")
    for name in ("price", "sale_price", "stock"):
        values = run.decimal(name)
        too_large = np.abs(np.nan_to_num(values)) > MAX_NUMBER
        run.report_mask(too_large, name, "too_large",
                        lambda v, n=name: f"{n} {show(v)} is larger than {MAX_NUMBER:,}")
    run.uppered("currency")
    check_url(run, "url")
    check_url(run, "image_url")
    _categories(run)
    status = run.lowered("status", default="enabled")
    run.timestamp("updated_at")

    enabled = np.equal(status, "enabled")
    for name in ("name", "currency"):
        missing = enabled & is_none(np.asarray(run.typed[name], dtype=object)) \
            & ~run.flagged(name)
        run.report_mask(missing, name, "required",
                        lambda v, n=name: f"{n} is required for an enabled product")
    missing_price = enabled & np.isnan(run.typed["price"]) & ~run.flagged("price")
    run.report_mask(missing_price, "price", "required",
                    lambda v: "price is required for an enabled product")

    pair = pd.Series([f"{s}\x1f{k}" for s, k in zip(store.tolist(),
                                                   run.typed["sku"].tolist(), strict=True)])
    repeated = pair.duplicated(keep=False).to_numpy() & ~is_none(run.typed["sku"])
    run.report_mask(repeated, "sku", "unique",
                    lambda v: f"sku {show(v)} appears more than once for its store")

    not_negative = pa.Check.ge(0, error="not_negative")
    schema = pa.DataFrameSchema(
        {
            "sku": pa.Column(_TEXT, nullable=False),
            "store": pa.Column(_TEXT, nullable=False),
            "price": pa.Column(float, not_negative, nullable=True),
            "sale_price": pa.Column(float, not_negative, nullable=True),
            "currency": pa.Column(
                _TEXT, pa.Check.isin(sorted(CURRENCY_CODES), error="iso4217"), nullable=True),
            "status": pa.Column(_TEXT, pa.Check.isin(list(STATUSES), error="status"),
                                nullable=True),
            "updated_at": pa.Column(_UTC, nullable=False),
        },
        strict=False,
        coerce=False,
    )
    frame = run.schema_frame(
        {c: _TEXT for c in ("sku", "store", "currency", "status")}
        | {"price": float, "sale_price": float, "updated_at": _UTC})
    templates = {
        "iso4217": lambda f, v, _i: f"currency {show(v)} is not an ISO 4217 code",
        "not_negative": lambda f, v, _i: f"{f} {show(v)} must not be negative",
        "status": lambda f, v, _i: (f"status {show(v)} is not one of "
                                    f"{', '.join(STATUSES)}"),
    }
    run.validate(schema, frame, templates)
    del frame, status
    return run.result(PRODUCT_COLUMNS)
