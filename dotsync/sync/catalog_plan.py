"""What the catalogue step will do, decided by pure functions (no I/O).

Per store, an account-scoped insight collection of type ``catalog`` (the insight spec's
``collectionScope`` ``account`` and ``collectionType`` ``catalog``; its own example is
named ``catalog_myStore``), keyed by SKU. Enabled products are upserted through bulk
imports; disabled and deleted ones are removed through the bulk delete-records call
(``DELETE /insightData/v3/accounts/{collectionName}/deleteRecords``, 1 to 5000 keys),
so a catalogue never keeps what the shop no longer sells.

Collection names follow the spec's pattern ``^[-A-Za-z_][-A-Za-z0-9_]{1,255}$`` with
``maxLength: 255``. ``catalog_<store>`` is made valid by replacing every other
character with ``_``; a name that stays invalid, or that two stores would share after
that replacement, is refused with a message naming the store, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from dotsync.data_contracts.currencies import minor_units

CATALOG_SCOPE: Final = "account"
CATALOG_TYPE = "catalog"
#: The insight spec's ``collectionName`` schema.
COLLECTION_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]{1,255}$")
MAX_COLLECTION_NAME = 255
#: ``deleteRecords`` takes 1 to 5000 keys a call.
MAX_DELETE_KEYS = 5000
REMOVED_STATUSES = frozenset({"disabled", "deleted"})
_INVALID = re.compile(r"[^-A-Za-z0-9_]")


class CollectionNameError(ValueError):
    """A catalogue collection name cannot be made valid; the message says why."""


def is_valid_collection_name(name: str) -> bool:
    return len(name) <= MAX_COLLECTION_NAME and COLLECTION_NAME.match(name) is not None


def collection_name(store: str, override: str | None = None) -> str:
    """``catalog_<store>`` made valid, or ``override`` (``DOTSYNC_CATALOG_COLLECTION``)
    checked as given: a name the user chose is never rewritten."""
    if override is not None:
        if not is_valid_collection_name(override):
            raise CollectionNameError(
                f"DOTSYNC_CATALOG_COLLECTION {override!r} is not a valid Dotdigital "
                "collection name (letters, digits, '-' and '_', not starting with a digit, "
                f"2 to {MAX_COLLECTION_NAME} characters)")
        return override
    cleaned = _INVALID.sub("_", store.strip())
    if not cleaned.strip("_-"):
        raise CollectionNameError(
            f"store {store!r} has no letter or digit to name its catalogue collection; "
            "set DOTSYNC_CATALOG_COLLECTION")
    name = f"catalog_{cleaned}"
    if len(name) > MAX_COLLECTION_NAME:
        raise CollectionNameError(
            f"store {store[:40]!r}… makes a catalogue collection name longer than "
            f"{MAX_COLLECTION_NAME} characters; set DOTSYNC_CATALOG_COLLECTION")
    return name


def collection_names(stores: Iterable[str], override: str | None = None) -> dict[str, str]:
    """Each store's collection. Refuses two stores that would share one (after
    sanitising, or under one override when there are several stores)."""
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for store in sorted(set(stores)):
        name = collection_name(store, override)
        if name in owner:
            why = ("DOTSYNC_CATALOG_COLLECTION names one collection for several stores"
                   if override is not None else
                   f"stores {owner[name]!r} and {store!r} both make the collection "
                   f"name {name!r}")
            raise CollectionNameError(f"{why}; each store needs its own catalogue")
        owner[name] = store
        out[store] = name
    return out


def minor_amount(value: Any, currency: str) -> int:
    """An amount in the currency's minor units, exactly (``"10.50"`` GBP -> 1050,
    ``"1500"`` JPY -> 1500), rounding half away from zero past them."""
    digits = minor_units(currency)
    scale = 2 if digits is None else digits
    exact = Decimal(str(value)).scaleb(scale)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def major_amount(minor: int, currency: str) -> float:
    """Minor units back as the number a template shows (1050 GBP -> 10.5): the float
    nearest to the exact decimal, so no binary noise reaches an e-mail."""
    digits = minor_units(currency)
    scale = 2 if digits is None else digits
    return float(Decimal(minor).scaleb(-scale))


def product_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The catalogue record JSON of a validated product row.

    Prices are given twice: ``price`` as the currency's decimal number and
    ``price_minor`` as an exact integer of minor units (``sale_price`` likewise), so
    templates can show one and segments compare the other without float error.
    Absent optional values are left out, never null (one type per field).
    """
    currency = str(row["currency"])
    record: dict[str, Any] = {"sku": str(row["sku"]), "name": str(row["name"]),
                              "currency": currency}
    for column in ("price", "sale_price"):
        value = row.get(column)
        if value is not None and value == value and value != "":
            minor = minor_amount(value, currency)
            record[column] = major_amount(minor, currency)
            record[f"{column}_minor"] = minor
    for column in ("url", "image_url"):
        if row.get(column):
            record[column] = str(row[column])
    categories = row.get("categories") or []
    if categories:
        record["categories"] = ", ".join(map(str, categories))
    stock = row.get("stock")
    if stock is not None and stock == stock and stock != "":
        record["stock"] = float(Decimal(str(stock)))
    record["store"] = str(row["store"])
    return record


@dataclass(frozen=True)
class CatalogPlan:
    """Per collection: records to upsert (key = SKU) and SKUs to remove."""

    upserts: dict[str, list[dict[str, Any]]]
    removals: dict[str, list[str]]


def plan_catalog(rows: Iterable[Mapping[str, Any]], names: Mapping[str, str],
                 in_catalog: Mapping[str, set[str]] | None = None) -> CatalogPlan:
    """Which products go in and which come out. ``in_catalog`` lists, per collection,
    the SKUs the ledger says are in it: a disabled or deleted product is removed only
    when it was sent (a delete of a key never sent is a wasted call); without it every
    disabled or deleted product is removed (the delete answers ``notFound`` for any
    key it does not hold, which is harmless)."""
    upserts: dict[str, list[dict[str, Any]]] = {}
    removals: dict[str, list[str]] = {}
    for row in rows:
        name = names[str(row["store"])]
        sku = str(row["sku"])
        if str(row.get("status") or "enabled").lower() in REMOVED_STATUSES:
            if in_catalog is None or sku in in_catalog.get(name, set()):
                removals.setdefault(name, []).append(sku)
        else:
            upserts.setdefault(name, []).append({"key": sku, "json": product_record(row)})
    return CatalogPlan(upserts, removals)


def delete_batches(keys: Iterable[str], size: int = MAX_DELETE_KEYS) -> Iterator[list[str]]:
    """Distinct keys, at most ``size`` (≤ 5000) per delete-records call."""
    if not 1 <= size <= MAX_DELETE_KEYS:
        raise ValueError(f"a delete-records call takes 1 to {MAX_DELETE_KEYS} keys")
    batch: list[str] = []
    for key in dict.fromkeys(keys):
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
