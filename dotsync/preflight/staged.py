"""Staged data reduced chunk by chunk to counts of distinct values.

Only running counts are kept between chunks, so memory grows with the number of
distinct values, never with the row count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd


class StoreUnreadable(RuntimeError):
    """The staging store could not be read; the checks that need it are skipped."""


@dataclass(frozen=True)
class Tally:
    """Row count and counts of distinct (normalised, ``""`` = missing) values per column."""

    rows: int
    values: Mapping[str, pd.Series]

    def __getitem__(self, column: str) -> pd.Series:
        return self.values[column]


def _clean(series: pd.Series, case: Literal["lower", "upper", None] = None) -> pd.Series:
    text = series.astype("string").str.strip()
    if case == "lower":
        text = text.str.lower()
    elif case == "upper":
        text = text.str.upper()
    return text.fillna("")


def tally(frames: Iterable[pd.DataFrame],
          columns: Mapping[str, Literal["lower", "upper", None]]) -> Tally:
    """Distinct-value counts of ``columns`` over a stream of frames (vectorised per frame).

    Only the running counts are kept between frames, so memory grows with the number of
    distinct values, not with the number of rows.
    """
    rows = 0
    counts = {c: pd.Series(dtype="int64") for c in columns}
    for frame in frames:
        rows += len(frame)
        for column, case in columns.items():
            part = _clean(frame[column], case).value_counts()
            counts[column] = counts[column].add(part, fill_value=0)
    return Tally(rows, {c: s.astype("int64").sort_values(ascending=False, kind="stable")
                        for c, s in counts.items()})


_STAGED_COLUMNS: dict[str, dict[str, Literal["lower", "upper", None]]] = {
    "orders": {"currency": "upper", "store": "lower"},
    "customers": {"country": "upper", "store": "lower"},
}


def _hashes(values: pd.Series) -> np.ndarray:
    """64-bit hashes of text values: what is kept of high-cardinality columns."""
    return pd.util.hash_pandas_object(values, index=False).to_numpy()


def _split_addresses(addresses: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(local part, domain) of each address; an address without ``@`` is all domain.

    ``str.extract`` keeps its two columns when no row is left (``str.rpartition`` gives a
    frame with no columns then, which made every certificate check fail with ``KeyError``
    when all certificates went to a known test address).
    """
    parts = addresses.str.extract(r"^(.*)@([^@]*)$")
    return parts[0].fillna(""), parts[1].fillna(addresses)


def _add_counts(total: pd.Series, part: pd.Series) -> pd.Series:
    part = part.astype("int64")
    return part if total.empty else total.add(part, fill_value=0).astype("int64")
