"""E-mail and phone columns normalised at scale: distinct values, fast paths, then a pool.

For a column of a million values the work is cut three ways before any library call:
each distinct value (or distinct ``(number, region)`` pair) is looked at once; values
the provably-equivalent fast paths decide (:func:`dotsync.data_contracts.emails.fast_email`,
:func:`dotsync.data_contracts.phones.fast_phone`) never reach the library; what is left goes to
the process pool when there is enough of it (:mod:`dotsync.data_contracts.parallel`).

Both functions return a :class:`Pending` at once, so the caller can do its other
columns while the pool works, then call :meth:`Pending.result`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from dotsync.data_contracts import emails, parallel, phones


class Pending:
    """Normalised values and reasons of one column, once :meth:`result` is called."""

    def __init__(self, finish: Callable[[], tuple[np.ndarray, np.ndarray]]) -> None:
        self._finish = finish
        self._done: tuple[np.ndarray, np.ndarray] | None = None

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, reasons)``: object arrays; a reason is set where a value was refused."""
        if self._done is None:
            self._done = self._finish()
        return self._done


def email_column(values: np.ndarray) -> Pending:
    """Normalise a column of stripped e-mail text (None = missing)."""
    n = len(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = len(uniques)
    out = np.full(u + 1, None, dtype=object)
    why = np.full(u + 1, None, dtype=object)
    fast = emails.fast_email
    slow_idx: list[int] = []
    for j, value in enumerate(uniques.tolist()):
        got = fast(value)
        if got is None:
            slow_idx.append(j)
        else:
            out[j] = got
    job = parallel.map_batches(emails.normalise_batch, [uniques[j] for j in slow_idx])

    def finish() -> tuple[np.ndarray, np.ndarray]:
        for j, (value, reason) in zip(slow_idx, job.result(), strict=True):
            out[j] = value
            why[j] = reason
        if n == 0:
            return np.empty(0, dtype=object), np.empty(0, dtype=object)
        return out[codes], why[codes]

    return Pending(finish)


def phone_column(values: np.ndarray, regions: np.ndarray) -> Pending:
    """Normalise a column of stripped phone text, each read in its row's region.

    ``regions`` holds an upper-case region phonenumbers knows, or None, per row.
    """
    n = len(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = len(uniques)
    res = np.full(n, None, dtype=object)
    why = np.full(n, None, dtype=object)
    if n == 0 or u == 0:
        return Pending(lambda: (res, why))

    # 1. International text: the region does not matter; one look per distinct value.
    fast_u = np.full(u + 1, None, dtype=object)
    e164 = phones.fast_e164
    fast_u[:-1] = [e164(v) if v[:1] == "+" else None for v in uniques.tolist()]
    got = fast_u[codes]
    todo = (codes >= 0) & np.equal(got, None)
    res[~todo] = got[~todo]

    # 2. The rest: one look per distinct (value, region) pair.
    rows = np.flatnonzero(todo)
    if rows.size == 0:
        return Pending(lambda: (res, why))
    rcodes, runiques = pd.factorize(regions[rows], use_na_sentinel=True)
    width = len(runiques) + 1
    pair = codes[rows].astype(np.int64) * width + (rcodes + 1)
    distinct, inverse = np.unique(pair, return_inverse=True)
    region_of = [None, *runiques]
    pairs = [(uniques[k // width], region_of[k % width]) for k in distinct.tolist()]
    pair_out = np.full(len(pairs), None, dtype=object)
    pair_why = np.full(len(pairs), None, dtype=object)
    national = phones.fast_national
    slow_idx: list[int] = []
    for i, (value, region) in enumerate(pairs):
        fast = national(value, region) if region is not None and value[:1] != "+" else None
        if fast is None:
            slow_idx.append(i)
        else:
            pair_out[i] = fast
    job = parallel.map_batches(phones.normalise_batch, [pairs[i] for i in slow_idx])

    def finish() -> tuple[np.ndarray, np.ndarray]:
        for i, (value, reason) in zip(slow_idx, job.result(), strict=True):
            pair_out[i] = value
            pair_why[i] = reason
        res[rows] = pair_out[inverse]
        why[rows] = pair_why[inverse]
        return res, why

    return Pending(finish)
