"""Go-live checks (``dotsync preflight``): is this setup safe to send real e-mail with?

The same checks serve the command line and the first task of a deployed run
(:meth:`PreflightResult.raise_if_failed`), so a run with wrong credentials, an unusable
campaign or placeholder data fails *before* it writes anything to Dotdigital. Plain Python,
no Prefect; the only API calls are reads (``account-info``, campaigns).

Why these checks: the costly go-live mistakes are the silent ones. A paused certificate
campaign refuses every send; a wrong region answers 403 on every call; and connectors that
ship placeholders (a fixed test recipient, an example campaign id, one sample link, ``USD``
everywhere) send real customers wrong e-mails that cannot be recalled (DOTDIGITAL.md, "What
other connectors teach"). Each check is a small function returning one :class:`Check`;
:func:`run_preflight` runs them in a fixed order, never raises, and reports a check that
could not run (because an earlier one failed, or the store could not be read) as
``skipped`` with the reason.

Staged data is read as text with :meth:`Store.iter_staged` in chunks, each reduced at once
(vectorised) to counts of distinct values; the nearly-unique certificate recipients and
links are counted by 64-bit hash. Memory does not grow with the row count of orders and
customers, and only by 8 bytes per certificate for certificates.

The package is split by kind of check: ``account`` (credentials, region, list, store
location), ``campaigns``, ``data_fields``, ``insight`` (collection name, send history),
``certificates``, ``currencies``; ``results`` holds :class:`Check` and
:class:`PreflightResult`, ``staged`` and ``context`` what the checks read, and ``runner``
the fixed order they run in.
"""

from __future__ import annotations

from dotsync.preflight.account import (
    check_address_book,
    check_credentials,
    check_region,
    check_store_location,
)
from dotsync.preflight.campaigns import (
    EXAMPLE_CAMPAIGN_IDS,
    check_certificate_campaign,
    check_example_campaign_ids,
    check_order_campaign,
)
from dotsync.preflight.certificates import (
    KNOWN_TEST_ADDRESSES,
    RECIPIENT_MAX_SHARE,
    RECIPIENT_MIN_CERTIFICATES,
    CertificateFacts,
    check_certificate_links,
    check_certificate_recipients,
)
from dotsync.preflight.currencies import (
    COUNTRY_CURRENCY,
    CURRENCY_CODES,
    MARKET_MIN_CUSTOMERS,
    MARKET_MIN_SHARE,
    check_order_currencies,
)
from dotsync.preflight.data_fields import MAX_DATA_FIELD_KEYS, FieldFacts, check_data_fields
from dotsync.preflight.insight import (
    COLLECTION_NAME_MAX,
    check_insight_collection,
    check_send_history,
)
from dotsync.preflight.results import (
    CHECK_NAMES,
    Check,
    PreflightFailed,
    PreflightResult,
    Severity,
    Status,
)
from dotsync.preflight.runner import CHANGED_ONLY_NOTE, iter_checks, run_preflight, unknown_accepted
from dotsync.preflight.staged import StoreUnreadable, Tally, tally

__all__ = [
    "CHANGED_ONLY_NOTE",
    "CHECK_NAMES",
    "COLLECTION_NAME_MAX",
    "COUNTRY_CURRENCY",
    "CURRENCY_CODES",
    "EXAMPLE_CAMPAIGN_IDS",
    "KNOWN_TEST_ADDRESSES",
    "MARKET_MIN_CUSTOMERS",
    "MARKET_MIN_SHARE",
    "MAX_DATA_FIELD_KEYS",
    "RECIPIENT_MAX_SHARE",
    "RECIPIENT_MIN_CERTIFICATES",
    "CertificateFacts",
    "Check",
    "FieldFacts",
    "PreflightFailed",
    "PreflightResult",
    "Severity",
    "Status",
    "StoreUnreadable",
    "Tally",
    "check_address_book",
    "check_certificate_campaign",
    "check_certificate_links",
    "check_certificate_recipients",
    "check_credentials",
    "check_data_fields",
    "check_example_campaign_ids",
    "check_insight_collection",
    "check_order_campaign",
    "check_order_currencies",
    "check_region",
    "check_send_history",
    "check_store_location",
    "iter_checks",
    "run_preflight",
    "tally",
    "unknown_accepted",
]
