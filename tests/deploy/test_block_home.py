"""The credentials blocks live beside the flows and are still found where they always were."""

from __future__ import annotations

import inspect

from prefect.blocks.core import Block

import deployments.credentials
import deployments.sources
import flows.blocks


def _block_slugs(module: object) -> set[str]:
    """What ``prefect block register -m MODULE`` registers: the module's block classes."""
    return {cls.get_block_type_slug() for _, cls in inspect.getmembers(module)
            if inspect.isclass(cls) and issubclass(cls, Block) and cls is not Block}


def test_deployments_re_export_the_same_classes_under_the_same_slugs() -> None:
    assert deployments.credentials.DotdigitalCredentials is flows.blocks.DotdigitalCredentials
    assert deployments.sources.BLOCKS is flows.blocks.BLOCKS
    assert deployments.sources.ShopifyCredentials is flows.blocks.ShopifyCredentials
    assert _block_slugs(deployments.credentials) == {"dotdigital-credentials"}
    assert _block_slugs(deployments.sources) == {
        "adobe-commerce-credentials", "commercetools-credentials", "shopify-credentials"}
