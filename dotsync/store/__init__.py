"""The staging store (SPEC §1) and the sync ledger. Plain SQLAlchemy; no Prefect."""

from dotsync.store.db import Store, UpsertCounts
from dotsync.store.ledger import STATES, Ledger
from dotsync.store.loader import LoadError, LoadReport, load_file
from dotsync.store.schema import ENTITIES, ENTITY_COLUMNS, ENTITY_KEYS

__all__ = [
    "ENTITIES",
    "ENTITY_COLUMNS",
    "ENTITY_KEYS",
    "STATES",
    "Ledger",
    "LoadError",
    "LoadReport",
    "Store",
    "UpsertCounts",
    "load_file",
]
