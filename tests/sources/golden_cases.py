"""The golden cases: published platform payloads and the staging rows they must give.

``python -m tests.sources.golden_cases`` rewrites ``tests/sources/golden/`` from the
current mappings; review the diff before committing it (a changed golden row is a
changed mapping, and docs/SOURCES.md must say the same).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from dotsync.sources import staging_entity
from dotsync.sources.load import load_platform_file
from dotsync.store import LoadError, Store
from dotsync.store.schema import ENTITY_KEYS

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
#: (platform, entity, fixture file) — every published example the connectors read.
CASES: list[tuple[str, str, str]] = [
    ("adobe-commerce", "customers", "adobe-commerce/POST_V1_customers.response.json"),
    ("adobe-commerce", "orders", "adobe-commerce/GET_V1_orders_id.response.json"),
    ("adobe-commerce", "orders", "adobe-commerce/GET_V1_invoices_id.response.json"),
    ("commercetools", "customers", "commercetools/customers.example.json"),
    ("commercetools", "customers", "commercetools/customer.example.json"),
    ("commercetools", "customers", "commercetools/sunrise-customers.json"),
    ("commercetools", "orders", "commercetools/orders.example.json"),
    ("commercetools", "orders", "commercetools/order.example.json"),
    ("commercetools", "orders", "commercetools/order-import-create.example.json"),
    ("commercetools", "orders", "commercetools/cart.example.json"),
    ("shopify", "customers", "shopify/customers.json"),
    ("shopify", "orders", "shopify/orders.json"),
    ("shopify", "orders", "shopify/order-refunded.json"),
    ("shopify", "orders", "shopify/order-custom-items.json"),
    ("shopify", "certificates", "shopify/gift-card-created.json"),
    ("shopify", "certificates", "shopify/gift-cards.json"),
    ("adobe-commerce", "shipments", "adobe-commerce/GET_V1_shipments.response.json"),
    ("adobe-commerce", "giftcardaccounts",
     "adobe-commerce/GET_V1_giftcardaccounts.response.json"),
]
#: What a case loads first: documents change rows staged from other payloads.
BEFORE: dict[str, list[tuple[str, str]]] = {
    "shipments": [("orders", "adobe-commerce/GET_V1_orders_id.response.json")],
}


def golden_path(platform: str, entity: str, fixture: str) -> Path:
    return GOLDEN / f"{platform}__{entity}__{Path(fixture).stem}.json"


def run_case(platform: str, entity: str, fixture: str) -> dict[str, Any]:
    """Load the fixture into an empty SQLite store; the staged rows and the report."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/golden.db")
        try:
            for entity_before, fixture_before in BEFORE.get(entity, []):
                load_platform_file(store, platform, entity_before, FIXTURES / fixture_before)
            try:
                report = load_platform_file(store, platform, entity, FIXTURES / fixture,
                                            link_template="https://shop.example/gift/{code}")
            except LoadError as exc:
                return {"refused": str(exc)}
            staging = staging_entity(entity)
            staged = store.read_staged(staging).sort_values(ENTITY_KEYS[staging])
            rows = staged.to_dict("records")
        finally:
            store.dispose()
    return {"rows": rows,
            "problems": [{"position": p.line, "id": p.key, "reason": p.reason}
                         for p in report.problems]}


def write_all() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for case in CASES:
        result = run_case(*case)
        golden_path(*case).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write_all()
