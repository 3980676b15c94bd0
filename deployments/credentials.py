"""Dotdigital API credentials as a Prefect block.

Operators keep the API user's password in Prefect (encrypted at rest by the
server, shown as ``**********`` in the UI) instead of in every worker's
environment. Flows read it through :func:`flows.common.load_settings` when a
block name is given (the ``credentials_block`` parameter or
``DOTSYNC_CREDENTIALS_BLOCK``); without one they fall back to
``DOTDIGITAL_API_USER`` / ``DOTDIGITAL_API_PASSWORD``.

Register the block type once per Prefect server::

    prefect block register -m deployments.credentials
"""

from __future__ import annotations

import dataclasses

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from dotsync.config import Secret, Settings


class DotdigitalCredentials(Block):
    """An API user of one Dotdigital account, with its regional endpoint.

    The password is a ``SecretStr``: Prefect stores it as a secret field and the
    block's ``repr`` masks it. Only :meth:`apply` reads the clear value, and it
    hands it straight to a :class:`dotsync.config.Secret`, which masks it again.
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
        return dataclasses.replace(
            settings,
            api_user=self.api_user,
            api_password=Secret(self.api_password.get_secret_value()),
            api_endpoint=self.api_endpoint or settings.api_endpoint,
        )
