"""The ``certificates`` contract (SPEC §1)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts import columns
from dotsync.data_contracts._contract import Run, is_none
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import distinct_map, without_gc
from dotsync.data_contracts.currencies import CURRENCY_CODES
from dotsync.data_contracts.result import ContractResult
from dotsync.data_contracts.urls import https_url_problem

from dotsync.store.schema import ENTITY_COLUMNS

#: SPEC §1 columns, from the store's one list.
CERTIFICATE_COLUMNS: tuple[str, ...] = ENTITY_COLUMNS["certificates"]
#: Columns a frame must have; the others are null when absent.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "certificate_id", "recipient_email", "code", "amount", "currency", "link", "updated_at",
)

_TEXT = object
_UTC = pd.DatetimeTZDtype("us", "UTC")


def _check_default(default_campaign_id: int | None) -> int | None:
    if default_campaign_id is None:
        return None
    whole = isinstance(default_campaign_id, int | np.integer)
    if isinstance(default_campaign_id, bool) or not whole:
        raise ValueError(
            f"default_campaign_id must be a whole number, got {default_campaign_id!r}"
        )
    if default_campaign_id <= 0:
        raise ValueError(f"default_campaign_id must be positive, got {default_campaign_id!r}")
    return int(default_campaign_id)


@without_gc
def validate_certificates(
    df: pd.DataFrame, default_campaign_id: int | None, strict: Collection[str] = ()
) -> ContractResult:
    """Check and normalise staged gift certificates (SPEC §1).

    ``default_campaign_id`` (``DOTSYNC_CERTIFICATE_CAMPAIGN_ID``) fills a missing
    ``campaign_id``; a certificate with neither is rejected on ``campaign_id``. ``valid``
    columns: ``certificate_id``, ``recipient_email`` (trimmed, lower-cased), ``code``,
    ``amount`` (float), ``currency`` (upper case), ``link``, ``expires_at`` (UTC or NaT),
    ``campaign_id`` (int64), ``updated_at`` (UTC), then any other input columns.

    ``expires_at`` and ``campaign_id`` are optional (unless ``strict`` names them): an
    unreadable expiry is left out with a warning; a campaign id that is not a positive
    whole number is replaced by the default campaign with a warning (rejected when there
    is no default).
    """
    default = _check_default(default_campaign_id)
    run = Run(df, CERTIFICATE_COLUMNS, REQUIRED_COLUMNS, "certificate_id", "certificates",
              strict)
    email_text = run.text("recipient_email", control=False)
    email_job = columns.email_column(email_text)

    run.text("code")
    run.decimal("amount")
    run.uppered("currency")
    link = run.text("link", control=False)
    problems = distinct_map(link, https_url_problem)
    pos = np.flatnonzero(np.not_equal(problems, None))
    if pos.size:
        run.rejects.add(pos, "link", "https_url", run.raw["link"][pos], list(problems[pos]))
    run.timestamp("expires_at")
    campaign = run.integer("campaign_id")
    given = ~is_none(campaign)
    not_positive = np.zeros(run.n, dtype=bool)
    not_positive[given] = [v <= 0 for v in campaign[given]]
    run.add(not_positive, "campaign_id", "positive",
            lambda v: f"campaign_id {show(v)} must be greater than 0")
    missing = is_none(campaign) & ~run.rejects.flagged("campaign_id")
    if default is not None:
        campaign[missing] = default
    else:
        pos = np.flatnonzero(missing)  # no campaign to send with: never a mere warning
        run.report(pos, "campaign_id", "required", run.raw["campaign_id"][pos], [
            "campaign_id is missing and no default certificate campaign is configured "
            "(DOTSYNC_CERTIFICATE_CAMPAIGN_ID)"] * pos.size, soft=False)
    run.timestamp("updated_at")

    emails, email_why = email_job.result()
    run.add_reasons("recipient_email", "email_syntax", email_why, "recipient_email ")
    run.typed["recipient_email"] = emails

    ok = ~is_none(campaign)
    campaign_int = pd.Series(pd.array([None] * run.n, dtype="Int64"))
    if ok.any():
        campaign_int[ok] = [int(v) for v in campaign[ok]]
    run.typed["campaign_id"] = campaign_int
    schema = pa.DataFrameSchema(
        {
            "certificate_id": pa.Column(_TEXT, nullable=False, unique=True),
            "recipient_email": pa.Column(_TEXT, nullable=False),
            "code": pa.Column(_TEXT, nullable=False),
            "amount": pa.Column(float, pa.Check.gt(0, error="positive"), nullable=False),
            "currency": pa.Column(
                _TEXT, pa.Check.isin(sorted(CURRENCY_CODES), error="iso4217"), nullable=False
            ),
            "link": pa.Column(_TEXT, nullable=False),
            "expires_at": pa.Column(_UTC, nullable=True),
            "campaign_id": pa.Column("Int64", nullable=True),
            "updated_at": pa.Column(_UTC, nullable=False),
        },
        strict=False,
        coerce=False,
    )
    frame = run.schema_frame(
        {c: _TEXT for c in ("certificate_id", "recipient_email", "code", "currency", "link")}
        | {"amount": float, "expires_at": _UTC, "updated_at": _UTC, "campaign_id": "Int64"}
    )
    templates = {
        "iso4217": lambda f, v, _i: f"currency {show(v)} is not an ISO 4217 code",
        "positive": lambda f, v, _i: f"{f} {show(v)} must be greater than 0",
    }
    run.validate(schema, frame, templates)
    del frame, emails, email_why, campaign, campaign_int, link, problems
    result = run.result(CERTIFICATE_COLUMNS)
    valid = result.valid
    valid["campaign_id"] = valid["campaign_id"].astype("int64")
    return result
