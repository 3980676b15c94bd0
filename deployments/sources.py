"""Platform credentials as Prefect blocks, and a scheduled deployment per source.

The block classes live in :mod:`dotsync.flows.blocks` (the ``extract-source`` flow loads them)
and are re-exported here. Each block keeps its secret in a ``SecretStr`` field: Prefect
stores it encrypted and shows ``**********``; :meth:`to_config` hands it on as the
same ``SecretStr`` (masked again in the source's config), and nothing logs it.

Register the block types once per Prefect server::

    prefect block register -m dotsync.deployments.sources

A *source* is one block; ``DOTSYNC_SOURCES`` lists them, separated by spaces or
``;``, as ``PLATFORM:BLOCK[:ENTITY,ENTITY…]``, e.g.
``shopify:main-shop adobe-commerce:eu-store:customers,orders,creditmemos``. Each
gets a deployment ``extract-<block>`` on the sync schedule: extract, then sync.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dotsync.flows.blocks import (
    BLOCKS,
    DEFAULT_ENTITIES,
    AdobeCommerceCredentials,
    CommercetoolsCredentials,
    ShopifyCredentials,
)

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

SOURCES_ENV = "DOTSYNC_SOURCES"


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
    from dotsync.flows.extract import extract_source
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

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


__all__ = ["BLOCKS", "DEFAULT_ENTITIES", "AdobeCommerceCredentials", "CommercetoolsCredentials",
           "ShopifyCredentials", "parse_sources", "source_deployments", "timedelta"]
