"""Platform credentials as Prefect blocks, and a scheduled deployment per source.

Each block keeps its secret in a ``SecretStr`` field: Prefect stores it encrypted and
shows ``**********``; only :meth:`to_config` reads the clear value, straight into a
:class:`dotsync.config.Secret` (which masks it again), and nothing logs it.

Register the block types once per Prefect server::

    prefect block register -m deployments.sources

A *source* is one block; ``DOTSYNC_SOURCES`` lists them, separated by spaces or
``;``, as ``PLATFORM:BLOCK[:ENTITY,ENTITY…]``, e.g.
``shopify:main-shop adobe-commerce:eu-store:customers,orders,creditmemos``. Each
gets a deployment ``extract-<block>`` on the sync schedule: extract, then sync.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from dotsync.config import Secret
from dotsync.sources.extract import SourceConfig

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

SOURCES_ENV = "DOTSYNC_SOURCES"
DEFAULT_ENTITIES = {
    "adobe-commerce": ("customers", "orders", "creditmemos", "shipments"),
    "commercetools": ("customers", "orders"),
    "shopify": ("customers", "orders"),
}


class AdobeCommerceCredentials(Block):
    """An Adobe Commerce integration: base URL and its access token (kept secret)."""

    _block_type_name = "Adobe Commerce Credentials"
    _block_type_slug = "adobe-commerce-credentials"
    _description = "Adobe Commerce REST API: store URL and integration access token."

    base_url: str = Field(..., description="The store's base URL, e.g. https://shop.example")
    access_token: SecretStr = Field(..., description="Integration access token (secret).")

    def to_config(self, name: str, entities: tuple[str, ...]) -> SourceConfig:
        return SourceConfig(name=name, platform="adobe-commerce", base_url=self.base_url,
                            token=Secret(self.access_token.get_secret_value()),
                            entities=entities)


class CommercetoolsCredentials(Block):
    """A commercetools API client (OAuth2 client credentials; the secret kept secret)."""

    _block_type_name = "commercetools Credentials"
    _block_type_slug = "commercetools-credentials"
    _description = "commercetools API client: project, regions, client id and secret."

    project_key: str = Field(...)
    api_url: str = Field(..., description="e.g. https://api.europe-west1.gcp.commercetools.com")
    auth_url: str = Field(..., description="e.g. https://auth.europe-west1.gcp.commercetools.com")
    client_id: str = Field(...)
    client_secret: SecretStr = Field(..., description="The API client's secret.")
    scope: str | None = Field(default=None, description="e.g. view_orders:PROJECT "
                              "view_customers:PROJECT")

    def to_config(self, name: str, entities: tuple[str, ...]) -> SourceConfig:
        return SourceConfig(name=name, platform="commercetools", base_url=self.api_url,
                            auth_url=self.auth_url, project_key=self.project_key,
                            client_id=self.client_id,
                            client_secret=Secret(self.client_secret.get_secret_value()),
                            scope=self.scope, entities=entities)


class ShopifyCredentials(Block):
    """A Shopify custom app's Admin API access token (kept secret)."""

    _block_type_name = "Shopify Credentials"
    _block_type_slug = "shopify-credentials"
    _description = "Shopify Admin API: shop URL, API version and access token."

    shop_url: str = Field(..., description="e.g. https://my-shop.myshopify.com")
    access_token: SecretStr = Field(..., description="Admin API access token (shpat_…).")
    api_version: str = Field(default="2024-04")

    def to_config(self, name: str, entities: tuple[str, ...]) -> SourceConfig:
        return SourceConfig(name=name, platform="shopify", base_url=self.shop_url,
                            token=Secret(self.access_token.get_secret_value()),
                            api_version=self.api_version, entities=entities)


BLOCKS: dict[str, type[Block]] = {
    "adobe-commerce": AdobeCommerceCredentials,
    "commercetools": CommercetoolsCredentials,
    "shopify": ShopifyCredentials,
}


def parse_sources(text: str | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``PLATFORM:BLOCK[:ENTITIES]`` items separated by spaces or ``;``."""
    from dotsync.sources import ENTITIES

    out = []
    for item in (text or "").replace(";", " ").split():
        parts = item.split(":")
        if len(parts) not in (2, 3) or parts[0] not in BLOCKS or not parts[1]:
            raise ValueError(f"{SOURCES_ENV}: {item!r} is not PLATFORM:BLOCK[:ENTITIES] "
                             f"with PLATFORM one of {', '.join(BLOCKS)}")
        entities = tuple(e for e in parts[2].split(",") if e) if len(parts) == 3 \
            else DEFAULT_ENTITIES[parts[0]]
        unknown = [e for e in entities if e not in ENTITIES[parts[0]]]
        if unknown:
            raise ValueError(f"{SOURCES_ENV}: {parts[0]} has no {', '.join(unknown)}; use "
                             f"{', '.join(ENTITIES[parts[0]])}")
        out.append((parts[0], parts[1], entities))
    return out


def source_deployments(schedule: dict[str, Any], common: dict[str, Any],
                       sources: str | None = None) -> list[RunnerDeployment]:
    """One ``extract-<block>`` deployment per configured source (extract, then sync);
    ``extract-<block>-<account>`` when ``common`` passes an account, so that serving
    several accounts never gives two deployments one name."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    from flows.extract import extract_source

    out = []
    for platform, block, entities in parse_sources(sources or os.environ.get(SOURCES_ENV)):
        params = {**common.get("parameters", {}), "platform": platform,
                  "block_name": block, "entities": list(entities)}
        account = params.get("account")
        out.append(extract_source.to_deployment(
            f"extract-{block}-{account}" if account else f"extract-{block}", **schedule,
            **{**common, "parameters": params},
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE"),
            description=f"{platform} ({block}): fetch what changed, stage it, then sync."))
    return out


__all__ = ["BLOCKS", "parse_sources", "source_deployments", "timedelta"]
