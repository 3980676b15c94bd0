"""The credentials blocks live beside the flows and are still found where they always were."""

from __future__ import annotations

import inspect

import dotsync.deployments.credentials
import dotsync.deployments.sources
import dotsync.flows.blocks
from prefect.blocks.core import Block


def _block_slugs(module: object) -> set[str]:
    """What ``prefect block register -m MODULE`` registers: the module's block classes."""
    return {cls.get_block_type_slug() for _, cls in inspect.getmembers(module)
            if inspect.isclass(cls) and issubclass(cls, Block) and cls is not Block}


def test_deployments_re_export_the_same_classes_under_the_same_slugs() -> None:
    assert (
        dotsync.deployments.credentials.DotdigitalCredentials
        is dotsync.flows.blocks.DotdigitalCredentials
    )
    assert dotsync.deployments.sources.BLOCKS is dotsync.flows.blocks.BLOCKS
    assert dotsync.deployments.sources.ShopifyCredentials is dotsync.flows.blocks.ShopifyCredentials
    assert _block_slugs(dotsync.deployments.credentials) == {"dotdigital-credentials"}
    assert _block_slugs(dotsync.deployments.sources) == {
        "adobe-commerce-credentials", "commercetools-credentials", "shopify-credentials"}
