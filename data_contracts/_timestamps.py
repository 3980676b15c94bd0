"""Timestamp columns: ISO 8601 text (or typed datetimes) to UTC, refusing what only
looks like a date to a lenient parser (``now``, ``today``, years before 1900).

Split from :mod:`dotsync.data_contracts._values` (the other column coercions), whose rules it
follows: never raises on a value; null for missing or blank; a mask for the rest.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from dotsync.data_contracts._values import all_text

_TIMESTAMP_START_RE = re.compile(r"[0-9]{4}")


def timestamps(arr: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Tz-aware UTC timestamps (NaT for null) and a mask of values that are not ISO 8601.

    Text is read by pandas' ISO 8601 parser and must start with a four-digit year (so
    the parser's ``now``/``today`` shortcuts are not accepted) no earlier than 1900 (the
    parser reads ``-1`` as the year -1). A timestamp without an offset is taken as UTC.
    Typed datetimes are accepted.

    Vectorised: the parser runs on the whole column; only values it refused, and values
    it placed at or after the moment of the call (where ``now``/``today`` would land),
    are looked at one by one.
    """
    n = len(arr)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return pd.Series(pd.NaT, index=range(0), dtype="datetime64[us, UTC]"), bad
    typed: dict[int, pd.Timestamp] = {}
    if all_text(arr):
        strs = arr
    else:
        strs = np.full(n, None, dtype=object)
        for i, v in enumerate(arr):
            if v is None:
                continue
            if isinstance(v, str):
                strs[i] = v
            elif isinstance(v, datetime | date | np.datetime64 | pd.Timestamp):
                ts = _typed_timestamp(v)
                if ts is None:
                    bad[i] = True
                else:
                    typed[i] = ts
            else:
                bad[i] = True
    started = pd.Timestamp.now(tz="UTC")
    parsed = _parse_iso(strs)
    present = ~pd.isna(strs)
    values = parsed.to_numpy(dtype="datetime64[us]", copy=True)
    missed = np.flatnonzero(present & np.isnat(values))
    cutoff = np.datetime64(started.tz_localize(None).as_unit("us"))
    late = np.flatnonzero(present & ~np.isnat(values) & (values >= cutoff))
    if late.size:  # maybe "now" or "today": require the four-digit year
        for i in late:
            if not _TIMESTAMP_START_RE.match(strs[i].strip()):
                values[i] = np.datetime64("NaT")
                bad[i] = True
    if missed.size:  # blank text is null; text with odd surrounding space gets a retry
        retry: list[int] = []
        for i in missed:
            text = strs[i].strip()
            if not text:
                continue
            if text != strs[i] and _TIMESTAMP_START_RE.match(text):
                retry.append(i)
            else:
                bad[i] = True
        if retry:
            again = _parse_iso(np.array([strs[i].strip() for i in retry], dtype=object))
            again_values = again.to_numpy(dtype="datetime64[us]")
            for i, v in zip(retry, again_values, strict=True):
                if np.isnat(v):
                    bad[i] = True
                else:
                    values[i] = v
    for i, ts in typed.items():
        values[i] = ts.tz_convert("UTC").tz_localize(None).to_datetime64()
    # Years before 1900 are no commerce date: '-1' or '0-1' parse as years -1 and 0,
    # which Dotdigital cannot take and strftime cannot even print.
    ancient = ~np.isnat(values) & (values < _EARLIEST)
    if ancient.any():
        values[ancient] = np.datetime64("NaT")
        bad |= ancient
    out = pd.Series(values, dtype="datetime64[us]").dt.tz_localize("UTC")
    return out, bad


_EARLIEST = np.datetime64("1900-01-01T00:00:00", "us")


def _parse_iso(strs: np.ndarray) -> pd.Series:
    with np.errstate(all="ignore"):
        parsed = pd.to_datetime(
            pd.Series(strs, dtype=object), format="ISO8601", utc=True, errors="coerce"
        )
    return _as_us(parsed)


def _as_us(series: pd.Series) -> pd.Series:
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True, errors="coerce")
    try:
        return series.dt.as_unit("us")
    except (ValueError, OverflowError):  # pragma: no cover - finer units always fit in us
        return series


def _typed_timestamp(v: Any) -> pd.Timestamp | None:
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    try:
        return ts.as_unit("us")
    except (ValueError, OverflowError):
        return None
