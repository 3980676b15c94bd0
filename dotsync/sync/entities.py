"""The entities a sync run may be limited to (``dotsync sync --entities``), in a module
of their own: the command line reads them without importing the engine."""

from __future__ import annotations

ENTITIES: tuple[str, ...] = ("contacts", "orders", "certificates", "carts", "products")
