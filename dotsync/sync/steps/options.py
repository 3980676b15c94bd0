"""A run's options, and the defaults every entry point takes them from.

The flows, ``python -m dotsync.sync.run`` and the command line all start from the
constants here, so a default (an import's size, the poll interval, a send batch, the
rows read at a time) is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

#: Contacts/orders up to this many go as single calls (DOTSYNC_CONTACT_BULK_THRESHOLD).
BULK_THRESHOLD = 200
#: Serialised bytes per bulk import (Dotdigital's cap is 50 MB).
IMPORT_MAX_BYTES = 10_000_000
#: A backfill's imports: as large as fit under Dotdigital's 50 MB cap (fewer calls).
BACKFILL_IMPORT_MAX_BYTES = 48_000_000
#: Seconds between import status polls (Dotdigital advises 5-30 s).
POLL_INTERVAL = 5.0
#: Triggered-campaign sends per batch call.
SEND_BATCH_SIZE = 50
#: Staged rows a scheduled sync reads (and validates) at a time.
CHUNK_ROWS = 20_000
#: Staged rows a backfill reads at a time.
BACKFILL_CHUNK_ROWS = 50_000
#: Enrolment calls and fault-report reads in flight at once. Dotdigital documents no
#: limit on concurrent calls other than imports; its limit is calls per minute, which
#: the client's pacer (``DOTSYNC_CALLS_PER_MINUTE``) keeps across threads.
CALLS_IN_FLIGHT = 8


@dataclass
class Options:
    dry_run: bool = False
    #: Contacts/orders up to this many go as single calls; more go as a bulk import.
    bulk_threshold: int = BULK_THRESHOLD
    #: Serialised bytes per bulk import (Dotdigital's cap is 50 MB).
    import_max_bytes: int = IMPORT_MAX_BYTES
    #: Seconds between import status polls (Dotdigital advises 5-30 s).
    poll_interval: float = POLL_INTERVAL
    contact_imports_in_flight: int = 25
    insight_imports_in_flight: int = 5
    #: Records behind the imports in flight, at most: keeps a backfill's memory flat.
    records_in_flight: int = 600_000
    #: Records settled (written to the ledger) at a time when an import ends.
    settle_batch: int = 10_000
    #: Triggered-campaign sends per batch call; one dropped batch leaves this many in doubt.
    send_batch_size: int = SEND_BATCH_SIZE
    #: Enrolment calls and fault-report reads in flight at once (1: one after another).
    calls_in_flight: int = CALLS_IN_FLIGHT
    #: Send order confirmations for orders synced for the first time (never in a backfill).
    confirmations: bool = True
    #: Owed confirmations read, planned and sent at a time.
    confirmations_chunk: int = 2_000
    #: Remember settled keys so a retried task skips them (a streaming backfill re-reads
    #: the ledger instead, and keeps memory flat).
    track_settled: bool = True
    #: Transactional e-mails this run may send, instead of DOTSYNC_MAX_SENDS_PER_RUN.
    allow_sends: int | None = None
    #: Started by a Prefect deployment (any worker host may run it): preflight then
    #: refuses a store that lives on one host only.
    deployed: bool = False
    now: Callable[[], pd.Timestamp] = field(default=lambda: pd.Timestamp.now(tz="UTC"))
