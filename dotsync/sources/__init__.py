"""Connectors: each commerce platform's own API payloads → the staging tables.

Plain Python (no Prefect). One module per platform holds its mapping functions
(:mod:`adobe_commerce`, :mod:`commercetools`, :mod:`shopify`); :mod:`load` streams a
file of platform payloads into the store; :mod:`extract` fetches them from the live
APIs. ``docs/SOURCES.md`` documents every rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from dotsync.sources import adobe_commerce, commercetools, shopify

PLATFORMS: dict[str, ModuleType] = {
    "adobe-commerce": adobe_commerce,
    "commercetools": commercetools,
    "shopify": shopify,
}
#: Entities a file of each platform can be loaded as.
ENTITIES: dict[str, tuple[str, ...]] = {
    "adobe-commerce": ("customers", "orders", "certificates", "creditmemos", "shipments",
                       "giftcardaccounts"),
    "commercetools": ("customers", "orders"),
    "shopify": ("customers", "orders", "certificates"),
}
#: Human name of each platform, for messages.
TITLES = {"adobe-commerce": "Adobe Commerce", "commercetools": "commercetools",
          "shopify": "Shopify"}
#: Why a platform lacks an entity.
MISSING = {
    ("commercetools", "certificates"): "commercetools has no gift cards",
    ("commercetools", "creditmemos"): "credit memos are Adobe Commerce documents; "
    "commercetools refunds are read from the orders' payments",
    ("shopify", "creditmemos"): "credit memos are Adobe Commerce documents; Shopify "
    "refunds are read from each order's refunds",
    ("commercetools", "shipments"): "shipments are Adobe Commerce documents; "
    "commercetools orders carry their shipmentState",
    ("shopify", "shipments"): "shipments are Adobe Commerce documents; Shopify orders "
    "carry their fulfillments",
    ("commercetools", "giftcardaccounts"): "commercetools has no gift cards",
    ("shopify", "giftcardaccounts"): "gift card accounts are Adobe Commerce's; Shopify "
    "gift cards load as certificates",
}
#: Platform documents that change rows of another staging table.
STAGED_AS = {"creditmemos": "orders", "shipments": "orders",
             "giftcardaccounts": "certificates"}


def staging_entity(entity: str) -> str:
    """The staging table a loaded entity writes (credit memos and shipments change
    orders, gift card accounts change certificates)."""
    return STAGED_AS.get(entity, entity)


@dataclass(frozen=True)
class Mapper:
    """How one (platform, entity) is mapped: a function giving one row or several."""

    platform: str
    entity: str
    fn: Callable[..., Any]
    id_of: Callable[[Any], str | None]
    many: bool = False


def mapper(platform: str, entity: str) -> Mapper:
    module = PLATFORMS[platform]
    if platform == "adobe-commerce" and entity == "certificates":
        return Mapper(platform, entity, adobe_commerce.certificates_of_order,
                      adobe_commerce.id_of, many=True)
    if platform == "adobe-commerce" and entity == "creditmemos":
        return Mapper(platform, entity, adobe_commerce.map_creditmemo,
                      adobe_commerce.creditmemo_id)
    if platform == "adobe-commerce" and entity == "shipments":
        return Mapper(platform, entity, adobe_commerce.map_shipment,
                      adobe_commerce.shipment_id)
    if platform == "adobe-commerce" and entity == "giftcardaccounts":
        return Mapper(platform, entity, adobe_commerce.map_giftcardaccount,
                      adobe_commerce.giftcardaccount_id)
    fn = getattr(module, {"customers": "map_customer", "orders": "map_order",
                          "certificates": "map_certificate"}[entity])
    return Mapper(platform, entity, fn, module.id_of)


def check_entity(platform: str, entity: str) -> None:
    """Raise ValueError naming what a platform offers when ``entity`` is not one."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown format {platform!r}; use {', '.join(PLATFORMS)}")
    if entity not in ENTITIES[platform]:
        why = MISSING.get((platform, entity))
        raise ValueError(
            (f"{why}. " if why else f"{TITLES[platform]} has no {entity!r}. ")
            + f"{TITLES[platform]} files load as: {', '.join(ENTITIES[platform])}")
