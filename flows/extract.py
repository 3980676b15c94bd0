"""The ``extract-source`` flow: one platform source's changes into the store, then sync.

Credentials come from the source's Prefect block (:mod:`dotsync.flows.blocks`); the
flow passes only names and entity lists as parameters, never a secret.
"""

from __future__ import annotations

from typing import Any

from dotsync.flows.shared_config import shared_settings
from dotsync.tasks.extract import extract_entity
from prefect import flow
from prefect.states import Failed

from dotsync.sources import ENTITIES
from dotsync.sources.http import SourceAuthError


@flow(name="extract-source", persist_result=False)
def extract_source(platform: str, block_name: str, entities: list[str] | None = None,
                   sync_after: bool = True, credentials_block: str | None = None,
                   preflight: bool = False, certificate_link: str | None = None,
                   account: str | None = None) -> Any:
    """Extract each entity of the source named by ``block_name``, then run ``sync``.

    ``certificate_link`` is the gift card link template (``…{code}``) for
    ``certificates``, which Adobe Commerce and Shopify do not give.
    """
    from dotsync.flows.blocks import BLOCKS, DEFAULT_ENTITIES

    if platform not in BLOCKS:
        return Failed(message=f"unknown platform {platform!r}; use {', '.join(BLOCKS)}")
    chosen = tuple(entities or DEFAULT_ENTITIES[platform])
    unknown = [e for e in chosen if e not in ENTITIES[platform]]
    if unknown:
        return Failed(message=f"{platform} has no {unknown}; use {', '.join(ENTITIES[platform])}")
    config = BLOCKS[platform].load(block_name).to_config(block_name, chosen)
    url = shared_settings(account).database_url
    summaries = []
    for entity in chosen:  # customers first: orders and gift cards refer to them
        try:
            summaries.append(extract_entity(url, config, entity, certificate_link))
        except SourceAuthError as exc:
            return Failed(message=str(exc))
    if sync_after:
        from dotsync.flows.sync import sync

        sync(credentials_block=credentials_block, preflight=preflight, account=account)
    return summaries
