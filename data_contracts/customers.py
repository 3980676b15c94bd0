"""The ``customers`` contract (SPEC §1) and the merge of customers into contacts.

``validate_customers`` checks and normalises; ``merge_customers`` turns the valid rows
into one row per Dotdigital contact: rows sharing an e-mail become one contact carrying
the most recently updated row's fields (ties: the smallest ``customer_id``), and the
others are listed as merged, not rejected. Rows with no e-mail but a mobile number are
contacts keyed by that number, merged the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts import columns
from dotsync.data_contracts._contract import Run, is_none
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import without_gc
from dotsync.data_contracts.countries import COUNTRY_CODES
from dotsync.data_contracts.jsonfields import parse_data_fields
from dotsync.data_contracts.phones import usable_region
from dotsync.data_contracts.result import ContractResult

from dotsync.store.schema import ENTITY_COLUMNS

#: SPEC §1 columns, from the store's one list (``deleted_at`` is the sync's concern: erasure).
CUSTOMER_COLUMNS: tuple[str, ...] = tuple(
    c for c in ENTITY_COLUMNS["customers"] if c != "deleted_at"
)
#: The optional consent record (SPEC §1), sent as a Dotdigital consent record.
CONSENT_RECORD_COLUMNS: tuple[str, ...] = (
    "consent_text", "consent_url", "consent_at", "consent_ip", "consent_user_agent")
#: Columns a frame must have; the others are null when absent.
REQUIRED_COLUMNS: tuple[str, ...] = ("customer_id", "updated_at")

EMAIL_TYPES: tuple[str, ...] = ("html", "plaintext")
OPT_IN_TYPES: tuple[str, ...] = ("unknown", "single", "double", "verified_double")
#: ``pending``: double opt-in asked, not confirmed (SPEC §1); never sent as a status.
CONSENTS: tuple[str, ...] = ("subscribed", "unsubscribed", "pending")
NAME_MAX = 50

_TEXT = object
_UTC = pd.DatetimeTZDtype("us", "UTC")


def _enum(allowed: tuple[str, ...]) -> Any:
    return lambda field, v, _i: f"{field} {show(v)} must be one of: {', '.join(allowed)}"


_TEMPLATES = {
    "max_length": lambda field, v, _i: (
        f"{field} {show(v)} is {len(str(v).strip())} characters long; at most {NAME_MAX} "
        "are allowed"
    ),
    "iso3166": lambda field, v, _i: f"country {show(v)} is not an ISO 3166-1 alpha-2 code",
}


def _schema() -> pa.DataFrameSchema:
    name_check = pa.Check.str_length(max_value=NAME_MAX, error="max_length")
    return pa.DataFrameSchema(
        {
            "customer_id": pa.Column(_TEXT, nullable=False, unique=True),
            "first_name": pa.Column(_TEXT, name_check, nullable=True),
            "last_name": pa.Column(_TEXT, name_check, nullable=True),
            "country": pa.Column(
                _TEXT, pa.Check.isin(sorted(COUNTRY_CODES), error="iso3166"), nullable=True
            ),
            "email_type": pa.Column(
                _TEXT, pa.Check.isin(EMAIL_TYPES, error="enum_email_type"), nullable=False
            ),
            "opt_in_type": pa.Column(
                _TEXT, pa.Check.isin(OPT_IN_TYPES, error="enum_opt_in_type"), nullable=False
            ),
            "email_consent": pa.Column(
                _TEXT, pa.Check.isin(CONSENTS, error="enum_consent"), nullable=True
            ),
            "sms_consent": pa.Column(
                _TEXT, pa.Check.isin(CONSENTS, error="enum_consent"), nullable=True
            ),
            "updated_at": pa.Column(_UTC, nullable=False),
        },
        strict=False,
        coerce=False,
    )


def _check_region(default_region: str | None) -> str | None:
    if default_region is None or (isinstance(default_region, str) and not default_region.strip()):
        return None
    code = usable_region(default_region)
    if code is None:
        raise ValueError(
            f"default_region {default_region!r} is not a region phone numbers can be read in "
            "(use an ISO 3166-1 alpha-2 code such as 'GB')"
        )
    return code


@without_gc
def validate_customers(
    df: pd.DataFrame, default_region: str | None, strict: Collection[str] = ()
) -> ContractResult:
    """Check and normalise staged customers (SPEC §1).

    Problems in optional fields (:data:`dotsync.data_contracts.optional.OPTIONAL_FIELDS`: names,
    mobile number, country, store, locale, data fields, e-mail type, opt-in type) are
    *warnings*: the field is left out (None in ``valid``; a bad data field entry is
    dropped from the dict) and the record goes on, unless ``strict`` names the field. A
    mobile number is optional only on a row with an e-mail (otherwise it is the
    identifier). A bad ``email_type`` or ``opt_in_type`` is left out too (not replaced by
    the default): Dotdigital keeps what it has, or uses its own default for a new contact.

    ``default_region`` (``DOTSYNC_DEFAULT_REGION``) reads national mobile numbers of rows
    without a ``country``; a number with neither a ``+`` nor a region is rejected.
    ``valid`` columns: ``customer_id``, ``email`` (trimmed, lower-cased), ``first_name``,
    ``last_name``, ``mobile_number`` (E.164 with ``+``), ``country`` (upper case),
    ``email_type`` (``html`` default), ``opt_in_type`` (``unknown`` default),
    ``email_consent``, ``sms_consent`` (lower case or None), ``store``, ``locale``,
    ``data_fields`` (dict or None), ``updated_at`` (UTC), then any other input columns.
    Text columns are object columns holding ``str`` or ``None``.

    Raises ``ValueError`` for an unknown ``default_region`` and
    :class:`~dotsync.data_contracts.result.ContractError` for a frame without the required
    columns; problems in the data are never raised, only reported.
    """
    region = _check_region(default_region)
    run = Run(df, CUSTOMER_COLUMNS, REQUIRED_COLUMNS, "customer_id", "customers", strict)
    # E-mails and phones first: their left-over library work may run in the pool while
    # the other columns are done here.
    email_text = run.text("email", control=False)
    mobile_text = run.text("mobile_number", control=False)
    country = run.uppered("country")
    regions = np.where(is_none(country), region, country)
    email_job = columns.email_column(email_text)
    phone_job = columns.phone_column(mobile_text, regions)

    run.text("first_name")
    run.text("last_name")
    run.lowered("email_type", default="html")
    run.lowered("opt_in_type", default="unknown")
    run.lowered("email_consent")
    run.lowered("sms_consent")
    run.text("store")
    run.text("locale")
    run.per_value("data_fields", parse_data_fields)
    run.timestamp("updated_at")
    for column in CONSENT_RECORD_COLUMNS:
        run.text(column)

    emails, email_why = email_job.result()
    run.add_reasons("email", "email_syntax", email_why, "email ")
    run.typed["email"] = emails
    mobiles, mobile_why = phone_job.result()
    run.typed["mobile_number"] = mobiles
    # Optional where an e-mail identifies the contact; the identifier where none does.
    soft_mobile = ~is_none(email_text) & run.soft("mobile_number")
    run.add_reasons("mobile_number", "e164", mobile_why, "mobile_number ", soft_mobile)

    neither = is_none(email_text) & is_none(mobile_text) & ~run.rejects.flagged("email")
    run.add(neither, "email", "required",
            lambda _v: "email is required unless mobile_number is given")

    frame = run.schema_frame(
        {c: _TEXT for c in ("customer_id", "first_name", "last_name", "country", "email_type",
                            "opt_in_type", "email_consent", "sms_consent")}
        | {"updated_at": _UTC}
    )
    templates = dict(_TEMPLATES)
    templates["enum_email_type"] = _enum(EMAIL_TYPES)
    templates["enum_opt_in_type"] = _enum(OPT_IN_TYPES)
    templates["enum_consent"] = _enum(CONSENTS)
    names = {e: "enum" for e in ("enum_email_type", "enum_opt_in_type", "enum_consent")}
    run.validate(_schema(), frame, templates, names)
    del email_text, mobile_text, country, regions, emails, email_why, mobiles, mobile_why
    del neither, frame
    return run.result(CUSTOMER_COLUMNS)


# -- merge ---------------------------------------------------------------------------

MERGED_COLUMNS: tuple[str, ...] = ("customer_id", "email", "mobile_number", "merged_into")


@without_gc
def merge_customers(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per contact, and the customer rows merged into another.

    Rows are grouped by ``email`` (already normalised, so ``Jo@X.com`` and ``jo@x.com``
    are one group) or, for rows without an e-mail, by ``mobile_number``. Per group the
    row with the latest ``updated_at`` wins (ties: the smallest ``customer_id`` in text
    order, so the outcome never depends on input order); it is returned in ``contacts``
    with all its fields, plus ``match_identifier`` (``email`` or ``mobileNumber``, as
    Dotdigital names them). ``merged`` lists the others: ``customer_id``, ``email``,
    ``mobile_number``, ``merged_into`` (the winner's ``customer_id``). Both keep the input
    index and order.
    """
    if valid.empty:
        contacts = valid.copy()
        contacts["match_identifier"] = pd.Series([], dtype=object)
        merged = pd.DataFrame({c: pd.Series([], dtype=object) for c in MERGED_COLUMNS})
        return contacts, merged
    n = len(valid)
    email = valid["email"].to_numpy(dtype=object)
    mobile = valid["mobile_number"].to_numpy(dtype=object)
    customer_id = valid["customer_id"].to_numpy(dtype=object)
    has_email = ~pd.isna(email)
    # An e-mail holds "@" and an E.164 number starts with "+": one key column serves both.
    codes, _ = pd.factorize(np.where(has_email, email, mobile))
    updated = valid["updated_at"].to_numpy(dtype="datetime64[us]").view(np.int64)
    order = np.lexsort((-updated, codes))  # by group, newest first
    group = codes[order]
    newest = updated[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], n]
    winners = order[starts]
    # Ties on the newest timestamp: the smallest customer_id (as text) wins.
    tied = np.flatnonzero((ends - starts > 1) & (newest[np.minimum(starts + 1, n - 1)]
                                                 == newest[starts]))
    for g in tied:
        s, e = starts[g], ends[g]
        candidates = order[s:e][newest[s:e] == newest[s]]
        winners[g] = min(candidates.tolist(), key=lambda p: str(customer_id[p]))
    winner_of_code = np.empty(len(starts), dtype=np.int64)
    winner_of_code[group[starts]] = winners
    is_winner = np.zeros(n, dtype=bool)
    is_winner[winners] = True
    keep = np.flatnonzero(is_winner)
    contacts = valid.iloc[keep].copy()
    contacts["match_identifier"] = pd.Series(
        np.where(has_email[keep], "email", "mobileNumber"), index=contacts.index, dtype=object
    )
    losers = np.flatnonzero(~is_winner)
    merged = pd.DataFrame(
        {
            "customer_id": pd.Series(customer_id[losers], dtype=object),
            "email": pd.Series(email[losers], dtype=object),
            "mobile_number": pd.Series(mobile[losers], dtype=object),
            "merged_into": pd.Series(customer_id[winner_of_code[codes[losers]]], dtype=object),
        }
    )
    merged.index = valid.index[losers]
    return contacts, merged
