"""Dotdigital API credentials as a Prefect block.

Operators keep the API user's password in Prefect (encrypted at rest by the
server, shown as ``**********`` in the UI) instead of in every worker's
environment. Flows read it through :func:`dotsync.flows.common.load_settings` when a block
name is given (the ``credentials_block`` parameter or ``DOTSYNC_CREDENTIALS_BLOCK``);
without one they fall back to ``DOTDIGITAL_API_USER`` / ``DOTDIGITAL_API_PASSWORD``.

The class lives in :mod:`dotsync.flows.blocks`, beside the flows that load it (the flows never
import ``deployments``); it is re-exported here, where block registration, saved blocks
and the docs find it. Its slug, ``dotdigital-credentials``, is unchanged.

Register the block type once per Prefect server::

    prefect block register -m dotsync.deployments.credentials
"""

from __future__ import annotations

from dotsync.flows.blocks import DotdigitalCredentials

__all__ = ["DotdigitalCredentials"]
