"""What every contract returns: the rows that passed, and one reject row per problem.

A reject names the record (``key``), the column (``field``), a short machine name for
the rule (``check``), the offending value (``value``, cut to about 80 characters, with
control characters escaped so a terminal or log line cannot be hijacked by it) and a
sentence for humans (``reason``). ``row`` is the input frame's index label, so a record
whose key is missing or repeated can still be found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from dotsync.data_contracts._display import VALUE_CHARS, clip, show

#: Columns of :attr:`ContractResult.rejects`, in this order.
REJECT_COLUMNS: tuple[str, ...] = ("key", "field", "check", "value", "reason", "row")
#: Columns of :attr:`ContractResult.warnings`: the same, ``value`` masked where personal.
WARNING_COLUMNS: tuple[str, ...] = REJECT_COLUMNS

__all__ = ["REJECT_COLUMNS", "VALUE_CHARS", "WARNING_COLUMNS", "ContractError",
           "ContractResult", "Rejects", "clip", "empty_rejects", "empty_warnings", "show"]

class ContractError(ValueError):
    """The frame itself cannot be checked (e.g. a required column is missing).

    Raised instead of rejecting every record, because the fault is in the caller's
    query or file, not in the data of any one record.
    """


@dataclass(frozen=True)
class ContractResult:
    """Rows that passed (normalised, typed, input index kept) and the problems found.

    ``warnings`` lists problems in optional fields of rows that are in ``valid``: each
    such field is left out (None/NaN/NaT in ``valid``), the record goes on. Rows that are
    rejected carry no warnings (their rejects say what to fix).
    """

    valid: pd.DataFrame
    rejects: pd.DataFrame
    warnings: pd.DataFrame = field(default_factory=lambda: empty_warnings())

    @property
    def rejected_keys(self) -> list[Any]:
        """Keys of the records with at least one problem, in input order, once each."""
        return list(dict.fromkeys(self.rejects["key"].tolist()))

    @property
    def warned_keys(self) -> list[Any]:
        """Keys of the valid records sent with a field left out, in input order, once each."""
        return list(dict.fromkeys(self.warnings["key"].tolist()))


class Rejects:
    """Collects problems as the contract finds them, then builds the rejects frame.

    Problems are kept per column as position arrays so that a million-row frame with a
    few thousand problems costs a few thousand small objects, not a million.
    """

    def __init__(self, n: int, fields: Sequence[str]) -> None:
        self.n = n
        self._rank = {f: i for i, f in enumerate(fields)}
        self._parts: list[tuple[np.ndarray, str, list[str], list[Any], list[str]]] = []
        self._flagged: dict[str, np.ndarray] = {}

    def add(
        self,
        positions: Iterable[int] | np.ndarray,
        field: str,
        check: str | Sequence[str],
        values: Sequence[Any],
        reasons: Sequence[str],
    ) -> None:
        """Record problems on ``field`` at ``positions`` (``check`` one name, or one each)."""
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size == 0:
            return
        checks = [check] * pos.size if isinstance(check, str) else list(check)
        if len(values) != pos.size or len(reasons) != pos.size or len(checks) != pos.size:
            raise ValueError("positions, checks, values and reasons must have one entry each")
        self._parts.append((pos, field, checks, list(values), list(reasons)))
        flags = self._flagged.get(field)
        if flags is None:
            flags = self._flagged[field] = np.zeros(self.n, dtype=bool)
        flags[pos] = True

    def add_mask(
        self,
        mask: np.ndarray,
        field: str,
        check: str,
        raw: np.ndarray,
        reason: Callable[[Any], str],
    ) -> None:
        """Flag every position where ``mask`` holds; ``reason(raw_value)`` words each one."""
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        values = raw[pos]
        self.add(pos, field, check, values, [reason(v) for v in values])

    def flagged(self, field: str) -> np.ndarray:
        """Boolean mask of positions already rejected on ``field``."""
        flags = self._flagged.get(field)
        return flags if flags is not None else np.zeros(self.n, dtype=bool)

    def bad_rows(self) -> np.ndarray:
        """Boolean mask of positions with at least one problem."""
        out = np.zeros(self.n, dtype=bool)
        for pos, *_ in self._parts:
            out[pos] = True
        return out

    def frame(
        self, keys: np.ndarray, index: pd.Index, drop: np.ndarray | None = None
    ) -> pd.DataFrame:
        """The table, ordered by input row, then column order, then discovery.

        ``drop``: a boolean mask of positions whose entries are left out (the warnings
        of rows that were rejected anyway).
        """
        parts = self._parts
        if drop is not None and parts:
            parts = [(p[0][keep], p[1], [p[2][i] for i in np.flatnonzero(keep)],
                      [p[3][i] for i in np.flatnonzero(keep)],
                      [p[4][i] for i in np.flatnonzero(keep)])
                     for p in parts for keep in [~drop[p[0]]] if keep.any()]
        if not parts:
            return empty_rejects()
        pos = np.concatenate([p[0] for p in parts])
        rank = np.concatenate(
            [np.full(p[0].size, self._rank.get(p[1], len(self._rank))) for p in parts]
        )
        seq = np.arange(pos.size)
        order = np.lexsort((seq, rank, pos))
        fields = np.concatenate([np.full(p[0].size, p[1], dtype=object) for p in parts])
        check_list: list[str] = []
        values: list[Any] = []
        reasons: list[str] = []
        for p in parts:
            check_list.extend(p[2])
            values.extend(p[3])
            reasons.extend(p[4])
        checks = np.empty(len(check_list), dtype=object)
        checks[:] = check_list
        vals = np.empty(len(values), dtype=object)
        vals[:] = [clip(v) for v in values]
        rsn = np.empty(len(reasons), dtype=object)
        rsn[:] = reasons
        sel = pos[order]
        return pd.DataFrame(
            {
                "key": pd.Series(keys[sel], dtype=object),
                "field": pd.Series(fields[order], dtype=object),
                "check": pd.Series(checks[order], dtype=object),
                "value": pd.Series(vals[order], dtype=object),
                "reason": pd.Series(rsn[order], dtype=object),
                "row": pd.Series(np.asarray(index, dtype=object)[sel], dtype=object),
            }
        )


def empty_rejects() -> pd.DataFrame:
    """A rejects table with no rows (object columns, so concatenation keeps types)."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in REJECT_COLUMNS})


def empty_warnings() -> pd.DataFrame:
    """A warnings table with no rows."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in WARNING_COLUMNS})
