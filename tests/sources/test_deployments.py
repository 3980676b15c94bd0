"""Source blocks keep secrets secret; DOTSYNC_SOURCES gives one deployment per source."""

from __future__ import annotations

import pytest
from dotsync.deployments.sources import (
    AdobeCommerceCredentials,
    CommercetoolsCredentials,
    ShopifyCredentials,
    parse_sources,
)


def test_blocks_mask_their_secrets_and_hand_them_to_a_masked_config():
    block = ShopifyCredentials(shop_url="https://s.myshopify.com", access_token="shpat_123")
    assert "shpat_123" not in repr(block)
    config = block.to_config("main", ("customers",))
    assert config.token.get_secret_value() == "shpat_123" and "shpat_123" not in repr(config)
    ct = CommercetoolsCredentials(project_key="p", api_url="https://api.x", auth_url="https://a.x",
                                  client_id="id", client_secret="s3cret")
    assert "s3cret" not in repr(ct) and "s3cret" not in repr(ct.to_config("ct", ("orders",)))
    ac = AdobeCommerceCredentials(base_url="https://shop.example", access_token="tok")
    assert ac.to_config("eu", ("orders",)).platform == "adobe-commerce"


def test_sources_are_parsed_with_default_entities():
    assert parse_sources("shopify:main adobe-commerce:eu:orders,creditmemos") == [
        ("shopify", "main", ("customers", "orders")),
        ("adobe-commerce", "eu", ("orders", "creditmemos")),
    ]
    with pytest.raises(ValueError, match="PLATFORM:BLOCK"):
        parse_sources("magento:eu")
    with pytest.raises(ValueError, match="no certificates"):
        parse_sources("commercetools:ct:certificates")


def test_serve_builds_an_extract_deployment_per_source(monkeypatch):
    from dotsync.deployments.serve import build_deployments

    monkeypatch.setenv("DOTSYNC_SOURCES", "shopify:main;commercetools:ct")
    names = [d.name for d in build_deployments(15)]
    assert {"extract-main", "extract-ct"} <= set(names)
    extract = next(d for d in build_deployments(15) if d.name == "extract-main")
    assert extract.parameters["platform"] == "shopify"
    assert extract.parameters["block_name"] == "main"


def test_each_account_gets_its_own_source_deployments(monkeypatch):
    from dotsync.deployments.serve import build_deployments

    monkeypatch.setenv("DOTSYNC_SOURCES", "shopify:main")
    names = [d.name for a in ("eu", "us") for d in build_deployments(15, account=a)]
    assert len(names) == len(set(names))
    eu = next(d for d in build_deployments(15, account="eu") if d.name == "extract-main-eu")
    assert eu.parameters["account"] == "eu" and eu.parameters["block_name"] == "main"
