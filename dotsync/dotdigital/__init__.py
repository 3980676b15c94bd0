"""The Dotdigital API client: plain httpx, no Prefect.

``DotdigitalClient`` covers the operations dotsync needs (contacts, insight data,
triggered-campaign sends, campaigns, consent read-back) with typed results, the SPEC §3
host allow-list, safe retries and pacing; :mod:`.bulk` sizes imports and waits for them.
"""

from dotsync.dotdigital.bulk import (
    DEFAULT_MAX_BYTES,
    chunk_by_size,
    chunk_contacts,
    chunk_insight_records,
    insight_record,
    wait_for_import,
)
from dotsync.dotdigital.client import DotdigitalClient, dumps, mask_path
from dotsync.dotdigital.errors import (
    AuthenticationError,
    ConflictError,
    DotdigitalError,
    HostNotAllowedError,
    ImportWaitTimeout,
    NotFoundError,
    RateLimitedError,
    RecordTooLargeError,
    SendOutcomeUnknown,
    ServerError,
    TransportError,
    ValidationError,
)
from dotsync.dotdigital.hosts import DISCOVERY_URL, check_endpoint, is_allowed_host
from dotsync.dotdigital.models import (
    CONTACT_IMPORT_TERMINAL,
    INSIGHT_IMPORT_DONE,
    AccountInfo,
    BatchSendResult,
    CallStats,
    Campaign,
    ContactDeleteReport,
    ContactImportFailure,
    ContactImportReport,
    ContactRef,
    ContactUpsert,
    InsightImportFailure,
    InsightImportReport,
    Suppression,
    TriggeredSend,
)
from dotsync.dotdigital.pacing import Pacer

__all__ = [
    "CONTACT_IMPORT_TERMINAL",
    "DEFAULT_MAX_BYTES",
    "DISCOVERY_URL",
    "INSIGHT_IMPORT_DONE",
    "AccountInfo",
    "AuthenticationError",
    "BatchSendResult",
    "CallStats",
    "Campaign",
    "ConflictError",
    "ContactDeleteReport",
    "ContactImportFailure",
    "ContactImportReport",
    "ContactRef",
    "ContactUpsert",
    "DotdigitalClient",
    "DotdigitalError",
    "HostNotAllowedError",
    "ImportWaitTimeout",
    "InsightImportFailure",
    "InsightImportReport",
    "NotFoundError",
    "Pacer",
    "RateLimitedError",
    "RecordTooLargeError",
    "SendOutcomeUnknown",
    "ServerError",
    "Suppression",
    "TransportError",
    "TriggeredSend",
    "ValidationError",
    "check_endpoint",
    "chunk_by_size",
    "chunk_contacts",
    "chunk_insight_records",
    "dumps",
    "insight_record",
    "is_allowed_host",
    "mask_path",
    "wait_for_import",
]
