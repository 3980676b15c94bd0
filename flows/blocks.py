"""Credentials as Prefect blocks: the Dotdigital API user, and each shop platform's.

The flows load them by name (:func:`dotsync.flows.common.load_settings`, the ``extract-source``
flow), so they live on the flows' side; ``dotsync.deployments.credentials`` and
``dotsync.deployments.sources`` re-export them, so ``prefect block register -m
dotsync.deployments.credentials`` (or ``-m dotsync.deployments.sources``), saved blocks and
``prefect.yaml`` keep working: Prefect finds a block type by its slug, which is unchanged.

Every secret is a ``SecretStr`` field: Prefect stores it encrypted and shows
``**********``; only :meth:`DotdigitalCredentials.apply` and the platforms' ``to_config``
hand the value on, still a ``SecretStr`` (the one secret type of
:class:`dotsync.config.Settings` and :class:`dotsync.sources.extract.SourceConfig` too).
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from dotsync.config import Settings
from dotsync.sources.extract import SourceConfig

#: What ``extract-source`` extracts from a platform when no entities are named.
DEFAULT_ENTITIES = {
    "adobe-commerce": ("customers", "orders", "creditmemos", "shipments"),
    "commercetools": ("customers", "orders"),
    "shopify": ("customers", "orders"),
}


class DotdigitalCredentials(Block):
    """An API user of one Dotdigital account, with its regional endpoint.

    The password is a ``SecretStr``: Prefect stores it as a secret field and the
    block's ``repr`` masks it. :meth:`apply` hands it on as it is: the settings hold
    the same type.
    """

    _block_type_name = "Dotdigital Credentials"
    _block_type_slug = "dotdigital-credentials"
    _description = (
        "API user credentials for Dotdigital, used by dotsync's sync, backfill and "
        "replay flows. The password is stored as a secret."
    )

    api_user: str = Field(
        ...,
        title="API user",
        description="The API user's e-mail, e.g. apiuser-…@apiconnector.com.",
    )
    api_password: SecretStr = Field(
        ..., title="API password", description="The API user's password (kept secret)."
    )
    api_endpoint: str | None = Field(
        default=None,
        title="API endpoint",
        description=(
            "Regional base URL, e.g. https://r1-api.dotdigital.com. Leave empty to keep "
            "DOTDIGITAL_API_ENDPOINT or discover the region through account-info."
        ),
    )

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with this block's credentials in place of the environment's.

        The endpoint is replaced only when the block names one, so a block made
        before the account's region was known keeps working.
        """
        return settings.model_copy(update={
            "api_user": self.api_user,
            "api_password": self.api_password,
            "api_endpoint": self.api_endpoint or settings.api_endpoint,
        })


class AdobeCommerceCredentials(Block):
    """An Adobe Commerce integration: base URL and its access token (kept secret)."""

    _block_type_name = "Adobe Commerce Credentials"
    _block_type_slug = "adobe-commerce-credentials"
    _description = "Adobe Commerce REST API: store URL and integration access token."

    base_url: str = Field(..., description="The store's base URL, e.g. https://shop.example")
    access_token: SecretStr = Field(..., description="Integration access token (secret).")

    def to_config(self, name: str, entities: tuple[str, ...]) -> SourceConfig:
        return SourceConfig(name=name, platform="adobe-commerce", base_url=self.base_url,
                            token=self.access_token,
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
                            client_secret=self.client_secret,
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
                            token=self.access_token,
                            api_version=self.api_version, entities=entities)


BLOCKS: dict[str, type[Block]] = {
    "adobe-commerce": AdobeCommerceCredentials,
    "commercetools": CommercetoolsCredentials,
    "shopify": ShopifyCredentials,
}
