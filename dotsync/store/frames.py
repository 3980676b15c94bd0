"""Turning staged rows into DataFrames and back, and fingerprinting them.

Every staged value is text or null. Frames handed to the contracts therefore hold
Python ``str`` or ``None`` in object columns (never pandas' ``NaN``), whatever
pandas version infers by default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def object_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A frame of object columns holding exactly the values given (None stays None)."""
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # Transposed in Python, then one object Series per column: much faster than
    # pandas inferring a frame from row objects (database rows are not tuples).
    values = list(zip(*rows, strict=True))
    if len(values) != len(columns):
        raise ValueError(f"rows have {len(values)} values, expected {len(columns)} columns")
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(columns, values,
                                                                          strict=True)})


def as_text(value: Any) -> str | None:
    """One value from a file as the text the store keeps, or None for a missing value.

    JSON-typed values (a Parquet or JSON Lines object or list) become JSON text, as they
    would be in a CSV file; numbers keep their digits; timestamps become ISO 8601.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return repr(float(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    if value is pd.NaT or (not isinstance(value, dict | list) and pd.isna(value)):
        return None
    return str(value)


def _plain(value: Any) -> Any:
    """Nested numpy/pandas values (from Parquet) as plain JSON-able Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell of ``df`` as :func:`as_text` would store it, in object columns."""
    out = {
        c: pd.Series([as_text(v) for v in df[c].tolist()], index=df.index, dtype=object)
        for c in df.columns
    }
    return pd.DataFrame(out, index=df.index)


def row_hashes(df: pd.DataFrame, columns: Sequence[str],
               later: Sequence[str] = ()) -> pd.Series:
    """A 16-hex-digit fingerprint of each row's values in ``columns``, vectorised.

    Used to tell whether a staged record changed since dotsync last processed it;
    pandas hashes a million rows in well under a second. Columns in ``later`` (added
    to the schema after fingerprints were first kept) count only in rows where one
    of them holds a value, so rows that leave them empty keep their old fingerprint.
    """
    if df.empty:
        return pd.Series([], index=df.index, dtype=object)
    base = [c for c in columns if c not in later]
    hashed = _hash_rows(df, base)
    extra = [c for c in later if c in df.columns]
    if extra:
        present = df[extra].notna().any(axis=1).to_numpy()
        if present.any():
            hashed = hashed.copy()
            hashed[present] = _hash_rows(df.loc[present], list(columns))
    return pd.Series([f"{h:016x}" for h in hashed], index=df.index, dtype=object)


def _hash_rows(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    filled = df[columns].astype(object).where(df[columns].notna(), "\x00null")
    return pd.util.hash_pandas_object(filled, index=False, categorize=False).to_numpy()
