"""Column-at-a-time coercion of raw staged values, shared by the three contracts.

Every helper takes a column as a numpy object array (``str`` or ``None``, or an already
typed value from a Parquet load), never raises on a value, and returns the coerced
column plus masks of the values it could not accept. Work on text is done once per
distinct value (``pd.factorize``) where a column repeats, which is most of them.

The whitespace rule, the same everywhere: a missing value, ``NaN``, ``NaT`` and a string
that is empty or only whitespace are all *null*. Other text is stripped of surrounding
whitespace, except record keys, which are kept exactly as given (the ledger matches on
them).
"""

from __future__ import annotations

import functools
import gc
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd

#: Characters no text field may hold: C0 controls other than tab, newline and carriage
#: return, DEL, C1 controls, and lone surrogates (which cannot even be encoded as UTF-8,
#: so they would crash the store, the JSON encoder or the HTTP client later on).
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: A plain decimal number: digits, an optional point and exponent; nothing else.
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN[1:-1] + r"\Z")
_INTEGER_RE = re.compile(r"[+-]?[0-9]{1,19}\Z")
_INT64_MAX = 2**63 - 1


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small containers.

    Parsing a million JSON documents allocates millions of dicts and lists; each
    allocation burst triggers a collection that walks every live container, which
    made parsing 2-3x slower in measurements. Nothing created here is cyclic, so
    nothing is lost by collecting once afterwards instead.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


F = TypeVar("F", bound=Callable[..., Any])


def without_gc(func: F) -> F:
    """Run ``func`` with the cyclic garbage collector paused (see :func:`gc_paused`).

    A contract run over a million orders creates millions of line dicts and lists;
    left on, the collector walks all of them several times during the run (gen 0, 1,
    then 2 as they are promoted), which measured 2x slower on this project's machines.
    The contracts create no reference cycles of their own, so nothing accumulates.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with gc_paused():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array in which every missing value is ``None``.

    The array may share memory with ``df`` (it is copied only when NaN-like values must
    become None): callers must not write into it.
    """
    if name not in df.columns:
        return np.full(len(df), None, dtype=object)
    arr = df[name].to_numpy(dtype=object)
    if arr.ndim != 1:  # duplicate column names give a 2-D block
        raise ValueError(f"column {name!r} appears more than once")
    missing = _missing_mask(arr)
    if missing.any():
        idx = np.flatnonzero(missing)
        if not np.equal(arr[idx], None).all():
            arr = arr.copy()
            arr[idx] = None
    return arr


def _missing_mask(arr: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(pd.isna(arr), dtype=bool)
    except (TypeError, ValueError):  # exotic objects: decide one by one
        return np.fromiter((_is_missing(v) for v in arr), dtype=bool, count=len(arr))


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(result) if isinstance(result, bool | np.bool_) else False


def all_text(arr: np.ndarray) -> bool:
    """True when every value is ``str`` or ``None`` (the staging store's promise)."""
    return pd.api.types.infer_dtype(arr, skipna=True) in ("string", "empty")


def distinct_map(arr: np.ndarray, func: Callable[[str], Any]) -> np.ndarray:
    """``func`` applied once per distinct string of an all-text column (None stays None)."""
    out = np.full(len(arr), None, dtype=object)
    if len(arr) == 0:
        return out
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [func(u) for u in uniques.tolist()]
    mapped[-1] = None
    return mapped[codes]  # code -1 picks the trailing None


def _scalar_text(value: Any) -> str | None:
    """A typed scalar as text (ints keep their digits); None when it is not text-like."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return None
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    return None


def text(arr: np.ndarray, *, strip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Text values (stripped, blank → None) and a mask of values that are not text.

    Numbers from typed loads become their digits (an integer customer id ``42`` is
    ``"42"``); anything else that is not a string (a dict in a name, bytes, a bool) is
    flagged and set to None.
    """
    n = len(arr)
    bad = np.zeros(n, dtype=bool)
    if all_text(arr):
        values = arr
    else:
        values = np.empty(n, dtype=object)
        for i, v in enumerate(arr):
            if v is None or type(v) is str:
                values[i] = v
                continue
            if isinstance(v, str):  # a str subclass: keep plain text only
                values[i] = str.__str__(v)
                continue
            t = _scalar_text(v)
            if t is None:
                bad[i] = True
            values[i] = t
    texts = values.tolist()
    out = np.empty(n, dtype=object)
    if strip:
        out[:] = [None if v is None else (v.strip() or None) for v in texts]
    else:
        out[:] = [None if v is None or not v.strip() else v for v in texts]
    return out, bad


def control_mask(values: np.ndarray) -> np.ndarray:
    """Mask of text values holding a character from :data:`CONTROL_RE`.

    The common case (no such character anywhere) is one C-level scan of the column
    joined by newlines (newline is allowed, so it cannot cause a false match).
    """
    n = len(values)
    if CONTROL_RE.search("\n".join(filter(None, values.tolist()))) is None:
        return np.zeros(n, dtype=bool)
    search = CONTROL_RE.search
    return np.fromiter(
        (v is not None and search(v) is not None for v in values), dtype=bool, count=n
    )


def decimals(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN for null) and a mask of values that are not finite decimal numbers.

    Text must be a plain decimal (``12``, ``-3.50``, ``1e3``): no thousands separators,
    currency signs, ``NaN`` or ``Infinity``. Typed ints, floats and Decimals are taken
    as they are, except non-finite ones; a typed float NaN is a null.
    """
    n = len(arr)
    out = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return out, bad
    if all_text(arr):
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        values, wrong = _parse_decimal_uniques(np.asarray(uniques, dtype=object))
        values = np.append(values, np.nan)
        wrong = np.append(wrong, False)
        return values[codes], wrong[codes]
    for i, v in enumerate(arr):
        if v is None:
            continue
        f = _parse_decimal_text(v) if isinstance(v, str) else _typed_decimal(v)
        if f is _BAD:
            bad[i] = True
        elif f is not None:
            out[i] = f
    return out, bad


def _parse_decimal_uniques(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats and a bad mask for distinct decimal texts: Arrow's regex and float parser
    (C++, vectorised) for the strict pattern, the Python rule as a fallback.

    For text matching :data:`DECIMAL_PATTERN` both parsers give the correctly rounded
    float; ``tests/contracts`` checks that this path and ``_parse_decimal_text`` agree.
    """
    n = len(uniques)
    values = np.full(n, np.nan)
    wrong = np.zeros(n, dtype=bool)
    if n == 0:
        return values, wrong
    stripped = np.empty(n, dtype=object)
    stripped[:] = [u.strip() for u in uniques.tolist()]
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.array(stripped, type=pa.string())
        ok = np.asarray(pc.match_substring_regex(text, DECIMAL_PATTERN), dtype=bool)
        floats = np.asarray(pc.cast(text.filter(pa.array(ok)), pa.float64()), dtype=float)
    except Exception:  # no Arrow, or a value it cannot take: the Python rule
        for j, u in enumerate(uniques):
            f = _parse_decimal_text(u)
            if f is _BAD:
                wrong[j] = True
            elif f is not None:
                values[j] = f
        return values, wrong
    blank = np.fromiter((not t for t in stripped), dtype=bool, count=n)
    finite = np.isfinite(floats)
    idx = np.flatnonzero(ok)
    values[idx[finite]] = floats[finite] + 0.0  # -0.0 -> 0.0
    wrong[idx[~finite]] = True
    wrong |= ~ok & ~blank
    return values, wrong


class _Bad:
    """Marker for a value that was present but not acceptable."""

    def __repr__(self) -> str:
        return "<bad>"


_BAD: Any = _Bad()


def _parse_decimal_text(s: str) -> float | _Bad | None:
    t = s.strip()
    if not t:
        return None
    if not _DECIMAL_RE.match(t):
        return _BAD
    f = float(t)
    if not math.isfinite(f):
        return _BAD
    return f + 0.0  # -0.0 -> 0.0


def _typed_decimal(v: Any) -> float | _Bad | None:
    if isinstance(v, bool | np.bool_):
        return _BAD
    if isinstance(v, int | np.integer | float | np.floating | Decimal):
        try:
            f = float(v)
        except (OverflowError, ValueError):
            return _BAD
        if math.isnan(f) and not isinstance(v, Decimal):
            return None
        return f + 0.0 if math.isfinite(f) else _BAD
    return _BAD


def integers(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers as Python ints in an object array (None for null) and a bad mask.

    Accepts digit text and typed integers, and floats that are whole (Parquet turns an
    integer column with nulls into floats).
    """
    n = len(arr)
    out = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)
    for i, v in enumerate(arr):
        if v is None:
            continue
        r = _parse_integer(v)
        if r is _BAD:
            bad[i] = True
        else:
            out[i] = r
    return out, bad


def _parse_integer(v: Any) -> int | _Bad | None:
    if isinstance(v, str):
        t = v.strip()
        if not t:
            return None
        if not _INTEGER_RE.match(t):
            return _BAD
        i = int(t)
    elif isinstance(v, bool | np.bool_):
        return _BAD
    elif isinstance(v, int | np.integer):
        i = int(v)
    elif isinstance(v, float | np.floating):
        f = float(v)
        if math.isnan(f):
            return None
        if not math.isfinite(f) or not f.is_integer():
            return _BAD
        i = int(f)
    elif isinstance(v, Decimal):
        if not v.is_finite() or v != v.to_integral_value():
            return _BAD
        i = int(v)
    else:
        return _BAD
    return i if abs(i) <= _INT64_MAX else _BAD


def is_none(values: np.ndarray) -> np.ndarray:
    """Elementwise ``value is None`` for an object array."""
    return np.equal(values, None)
