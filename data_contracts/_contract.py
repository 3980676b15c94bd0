"""The machinery the three contracts share: raw columns in, rejects and ``valid`` out.

A contract run goes: read each SPEC column as an object array (:class:`Run`), coerce and
normalise it column by column (vectorised, once per distinct value where that pays),
recording parse problems; then hand the typed columns to a pandera schema, lazily, for
the declarative rules (required, unique, enums, lengths, ranges); turn pandera's
failure cases into rejects worded like the others; finally keep the rows with no
problem, in input order, with the input's index.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts import _timestamps, _values
from dotsync.data_contracts._display import show
from dotsync.data_contracts._pandera import Template, validate_frame
from dotsync.data_contracts._values import is_none as is_none  # the contracts import it from here
from dotsync.data_contracts.jsonfields import Problems, Warned
from dotsync.data_contracts.optional import PERSONAL_FIELDS, is_optional
from dotsync.data_contracts.result import ContractError, ContractResult, Rejects

from dotsync.masking import mask_phone, mask_text


def _kind(value: Any) -> str:
    return type(value).__name__


#: How a personal field's value is masked in a warning.
_MASKS: dict[str, Callable[[Any], str]] = {
    "mobile_number": mask_phone,
}


class Run:
    """One contract run over one frame.

    Every problem goes through :meth:`report`: a problem in an optional field
    (:mod:`dotsync.data_contracts.optional`) that ``strict`` does not name becomes a *warning*
    and the typed value is dropped (None/NaN/NaT), so the record goes on without it;
    any other problem is a reject.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        columns: Sequence[str],
        required: Sequence[str],
        key: str,
        entity: str,
        strict: Collection[str] = (),
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise ContractError(f"{entity}: expected a pandas DataFrame, got {_kind(df)}")
        names = [str(c) for c in df.columns]
        duplicated = sorted({c for c in names if names.count(c) > 1})
        if duplicated:
            raise ContractError(
                f"{entity}: column(s) {', '.join(duplicated)} appear more than once"
            )
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise ContractError(
                f"{entity}: required column(s) missing: {', '.join(missing)}"
            )
        self.df = df
        self.entity = entity
        self.columns = list(columns)
        self.n = len(df)
        self.raw: dict[str, np.ndarray] = {c: _values.column(df, c) for c in columns}
        self.rejects = Rejects(self.n, self.columns)
        self.warnings = Rejects(self.n, self.columns)
        self.strict = frozenset(strict)
        self.key_name = key
        keys, bad = _values.text(self.raw[key], strip=False)
        # The reported key is the record's id as given (digits for a typed integer id).
        self.report_keys = np.where(bad, self.raw[key], keys)
        self._type_rejects(key, bad)
        keys = self.control(key, keys)
        self.typed: dict[str, Any] = {key: keys}

    # -- problems: rejects or warnings ---------------------------------------------------

    def soft(self, name: str) -> bool:
        """Whether a problem in ``name`` is a warning (optional and not strict)."""
        return is_optional(self.entity, name, self.strict)

    def report(
        self,
        positions: Sequence[int] | np.ndarray,
        name: str,
        check: str | Sequence[str],
        values: Sequence[Any],
        reasons: Sequence[str],
        *,
        soft: bool | None = None,
        drop: bool = True,
    ) -> None:
        """Record problems of ``name`` at ``positions``: warnings (the typed value is
        dropped, personal values masked) when ``name`` is optional, else rejects.

        ``soft`` overrides the field's rule (a mobile number is optional only when the
        record has an e-mail to be identified by); ``drop=False`` keeps the typed value
        (the parser already left out the bad part of it).
        """
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size == 0:
            return
        if not (self.soft(name) if soft is None else soft):
            self.rejects.add(pos, name, check, values, reasons)
            return
        if name.split(".", 1)[0] in PERSONAL_FIELDS:
            masker = _MASKS.get(name, mask_text)
            masked = [masker(v) for v in values]
            reasons = [_masked_reason(r, v, m) for r, v, m in zip(reasons, values, masked,
                                                                  strict=True)]
            values = masked
        self.warnings.add(pos, name, check, values, reasons)
        if drop:
            self.drop(name, pos)

    def report_mask(
        self, mask: np.ndarray, name: str, check: str, reason: Callable[[Any], str],
        raw: np.ndarray | None = None,
    ) -> None:
        """:meth:`report` every position of ``mask``; ``reason(raw value)`` words each."""
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        values = (self.raw[name] if raw is None else raw)[pos]
        self.report(pos, name, check, values, [reason(v) for v in values])

    def drop(self, name: str, pos: np.ndarray) -> None:
        """Leave the typed value of ``name`` out at ``pos`` (an optional field's problem)."""
        values = self.typed.get(name)
        if values is None or pos.size == 0:
            return
        if isinstance(values, pd.Series):
            values.iloc[pos] = pd.NaT if values.dtype.kind == "M" else None
        elif isinstance(values, np.ndarray) and values.dtype.kind == "f":
            values[pos] = np.nan
        elif isinstance(values, np.ndarray):
            values[pos] = None

    def flagged(self, name: str) -> np.ndarray:
        """Positions where ``name`` already has a problem (rejected or warned)."""
        return self.rejects.flagged(name) | self.warnings.flagged(name)

    # -- column helpers ----------------------------------------------------------------

    def _type_rejects(self, name: str, bad: np.ndarray, what: str = "text") -> None:
        self.report_mask(bad, name, "type", lambda v: f"{name} must be {what}, got {_kind(v)}")

    def text(self, name: str, *, control: bool = True, strip: bool = True) -> np.ndarray:
        """A text column: stripped, blank -> None, non-text and control characters rejected.

        ``strip=False`` keeps the text exactly as given (for references to record keys).
        """
        values, bad = _values.text(self.raw[name], strip=strip)
        self._type_rejects(name, bad)
        if control:
            values = self.control(name, values)
        self.typed[name] = values
        return values

    def control(self, name: str, values: np.ndarray) -> np.ndarray:
        """Reject (and null) text values holding control characters or lone surrogates."""
        mask = _values.control_mask(values)
        if mask.any():
            values = values.copy()  # it may be the input's own array
            values[mask] = None
            self.report_mask(mask, name, "control_chars",
                             lambda v: f"{name} {show(v)} holds control characters")
        return values

    def lowered(self, name: str, default: str | None = None) -> np.ndarray:
        """An enum-like text column: lower-cased, ``default`` where null."""
        values = self.text(name)
        low = _values.distinct_map(values, str.lower)
        if default is not None:  # only where nothing was given (not where a value was left out)
            low[np.equal(low, None) & ~self.flagged(name)] = default
        self.typed[name] = low
        return low

    def uppered(self, name: str) -> np.ndarray:
        """A code column (country, currency): upper-cased, null stays null."""
        values = self.text(name)
        up = _values.distinct_map(values, str.upper)
        self.typed[name] = up
        return up

    def decimal(self, name: str) -> np.ndarray:
        values, bad = _values.decimals(self.raw[name])
        self.report_mask(bad, name, "decimal",
                         lambda v: f"{name} {show(v)} is not a decimal number")
        self.typed[name] = values
        return values

    def timestamp(self, name: str) -> pd.Series:
        values, bad = _timestamps.timestamps(self.raw[name])
        self.report_mask(bad, name, "iso8601",
                         lambda v: f"{name} {show(v)} is not an ISO 8601 timestamp")
        self.typed[name] = values
        return values

    def integer(self, name: str) -> np.ndarray:
        values, bad = _values.integers(self.raw[name])
        self.report_mask(bad, name, "integer",
                         lambda v: f"{name} {show(v)} is not a whole number")
        self.typed[name] = values
        return values

    def per_value(self, name: str, parse: Callable[[Any], Any]) -> np.ndarray:
        """A column parsed value by value (JSON columns): a :class:`Problems` result
        becomes rejects (and a null), a :class:`Warned` one its value plus warnings on
        the sub-fields it names (rejects where those are strict), anything else is the
        parsed value.

        Done in this process: measured on a million orders, parsing in pool workers
        cost more CPU in pickling the parsed lines than it saved here.
        """
        raw = self.raw[name]
        with _values.gc_paused():
            parsed = [parse(v) if v is not None else None for v in raw.tolist()]
        out = np.empty(self.n, dtype=object)
        out[:] = parsed
        bad_pos: list[int] = []
        bad_checks: list[str] = []
        bad_values: list[Any] = []
        bad_reasons: list[str] = []
        warned: list[int] = []
        for i, p in enumerate(parsed):
            kind = type(p)
            if kind is Problems:
                out[i] = None
                for check, reason in p:
                    bad_pos.append(i)
                    bad_checks.append(check)
                    bad_values.append(raw[i])
                    bad_reasons.append(reason)
            elif kind is Warned:
                out[i] = p.value
                warned.append(i)
        self.rejects.add(bad_pos, name, bad_checks, bad_values, bad_reasons)
        self.typed[name] = out
        for i in warned:
            for sub, check, value, reason in parsed[i].warnings:
                if self.soft(sub):
                    self.report([i], sub, check, [value], [reason], drop=False)
                else:  # strict: the whole value is refused, as any other problem in it
                    self.rejects.add([i], name, check, [raw[i]], [reason])
        return out

    def add(
        self, mask: np.ndarray, name: str, check: str, reason: Callable[[Any], str]
    ) -> None:
        """A problem at positions of ``mask`` on ``name`` (reason from the raw value)."""
        self.report_mask(mask, name, check, reason)

    def add_reasons(
        self, name: str, check: str, reasons: np.ndarray, prefix: str,
        soft_rows: np.ndarray | None = None,
    ) -> None:
        """A problem where ``reasons`` is set, wording each as ``prefix + reason``.

        ``soft_rows`` (a boolean mask) decides per row whether it is a warning.
        """
        pos = np.flatnonzero(np.not_equal(reasons, None))
        if not pos.size:
            return
        words = np.array([prefix + r for r in reasons[pos]], dtype=object)
        raw = self.raw[name][pos]
        if soft_rows is None:
            self.report(pos, name, check, raw, list(words))
            return
        soft = soft_rows[pos]
        for part, flag in ((soft, True), (~soft, False)):
            if part.any():
                self.report(pos[part], name, check, raw[part], list(words[part]), soft=flag)

    # -- pandera -----------------------------------------------------------------------

    def schema_frame(self, dtypes: Mapping[str, Any]) -> pd.DataFrame:
        """The typed columns as one frame on positions 0..n-1, for pandera."""
        data: dict[str, Any] = {}
        for name, dtype in dtypes.items():
            values = self.typed[name]
            if isinstance(values, pd.Series):
                data[name] = values.reset_index(drop=True)
            else:
                data[name] = pd.Series(values, dtype=dtype, copy=False)
        return pd.DataFrame(data, index=pd.RangeIndex(self.n), copy=False)

    def validate(
        self,
        schema: pa.DataFrameSchema,
        frame: pd.DataFrame,
        templates: Mapping[str, Template],
        names: Mapping[str, str] | None = None,
    ) -> None:
        """Run ``schema`` lazily; every failure case becomes a reject worded by templates.

        ``templates`` are keyed by the pandera check's ``error`` name; ``names`` maps an
        error name to the reject's ``check`` when they differ (one check name, several
        wordings).

        A failure on a cell whose value was already refused while parsing is dropped (a
        timestamp that could not be read is null in ``frame``; one reject is enough).
        """
        validate_frame(self, schema, frame, templates, names)

    # -- result ------------------------------------------------------------------------

    def result(self, names: Sequence[str]) -> ContractResult:
        """``valid``: the typed columns ``names`` (normalised) then any other input columns
        untouched, rows without problems only, input index kept.

        Each full-length typed column is released as soon as its valid rows are taken, so
        the peak holds one copy of the data, not two (callers should not keep references).
        """
        keep = np.flatnonzero(~self.rejects.bad_rows())
        index = self.df.index[keep]
        data: dict[str, Any] = {}
        for name in names:
            values = self.typed.pop(name)
            if isinstance(values, pd.Series):
                data[name] = pd.Series(values.array.take(keep), index=index, copy=False)
            elif isinstance(values, np.ndarray) and values.dtype != object:
                data[name] = pd.Series(values[keep], index=index, copy=False)
            else:
                data[name] = pd.Series(
                    np.asarray(values, dtype=object)[keep], index=index, dtype=object, copy=False
                )
            del values
        for name in self.df.columns:
            if name not in data:
                data[name] = self.df[name].iloc[keep]
        valid = pd.DataFrame(data, index=index, copy=False)
        bad = self.rejects.bad_rows()
        rejects = self.rejects.frame(self.report_keys, self.df.index)
        warnings = self.warnings.frame(self.report_keys, self.df.index, drop=bad)
        return ContractResult(valid=valid, rejects=rejects, warnings=warnings)


def _masked_reason(reason: str, value: Any, masked: str) -> str:
    """``reason`` with every spelling of a personal ``value`` replaced by its mask."""
    if not isinstance(value, str):
        return reason.replace(show(value), show(masked))
    for text in dict.fromkeys((value, value.strip())):
        if text:
            reason = reason.replace(show(text), show(masked))
            if len(text) >= 3:
                reason = reason.replace(text, masked)
    return reason
