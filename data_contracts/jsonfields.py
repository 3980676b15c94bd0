"""The two JSON columns: a customer's ``data_fields`` (here) and an order's ``lines``
(:mod:`dotsync.data_contracts.orderlines`), and what both parsers return.

Each parser takes the stored JSON text (or an already-parsed value from a typed load),
never raises, and returns the normalised value (``None`` for a null), or a
:class:`Problems` list of ``(check, reason)`` when the value is refused. (Not a
``(value, problems)`` pair: on a million orders that pair and its empty list were a
million tuples and a million tracked lists for the garbage collector to walk.)

Text is parsed with orjson: on a million orders, JSON parsing is most of the work, and
orjson does it about 1.7x faster than the standard library while being stricter (no
``NaN``/``Infinity``, no lone surrogates, no raw control characters), which is what a
contract wants anyway.

Problems per value are capped at :data:`MAX_PROBLEMS` (a final entry says how many more
there were), so one hostile order with a million bad lines cannot flood the report.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import orjson
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import CONTROL_RE

MAX_PROBLEMS = 20

_FIELD_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,20}\Z")
_loads = orjson.loads
_JSONError = orjson.JSONDecodeError

Problem = tuple[str, str]


class Problems(list[Problem]):
    """Why a JSON value was refused: ``(check, reason)`` pairs (a distinct type, so it
    cannot be confused with a parsed array)."""


class Warned:
    """A value accepted with parts left out: ``value`` is what is sent, ``warnings``
    ``(field, check, offending value, reason)`` say what was left out and why (a
    distinct type; returned only when there is something to say, so the common case
    stays a plain dict or list)."""

    __slots__ = ("value", "warnings")

    def __init__(self, value: Any, warnings: list[tuple[str, str, Any, str]]) -> None:
        self.value = value
        self.warnings = warnings


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, str):
        return f"text {show(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _plain(value: Any) -> Any:
    """numpy scalars/arrays from a typed load as plain Python."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _has_control(text: str) -> bool:
    return not text.isprintable() and CONTROL_RE.search(text) is not None


class _Problems:
    __slots__ = ("items", "more")

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.more = 0

    def add(self, check: str, reason: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append((check, reason))
        else:
            self.more += 1

    def done(self, field: str) -> list[Problem]:
        if self.more:
            self.items.append(("json_shape", f"{field} has {self.more} more problems"))
        return self.items


# -- data_fields ---------------------------------------------------------------------


def parse_data_fields(value: Any) -> dict[str, Any] | Problems | Warned | None:
    """A JSON object of Dotdigital data fields: names of 1-20 letters, digits, ``-`` or
    ``_``; values text, numbers, true/false or null (nothing nested).

    Data fields are optional: an entry with a bad name or value is left out (the others
    are sent) and a :class:`Warned` says which and why; a value that is not a JSON
    object at all leaves every data field out the same way. ``Problems`` is never
    returned: the contract decides (``DOTSYNC_STRICT_FIELDS``) whether a warning rejects.
    """
    if value is None:
        return None
    value = _plain(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            doc = _loads(text)
        except _JSONError as exc:
            return Warned(None, [("data_fields", "json_syntax", value,
                                  f"data_fields is not valid JSON: {exc}")])
    elif isinstance(value, dict):
        doc = dict(value)
    else:
        return Warned(None, [("data_fields", "json_shape", value,
                              f"data_fields must be a JSON object, got {_kind(value)}")])
    if type(doc) is not dict:
        return Warned(None, [("data_fields", "json_shape", value,
                              f"data_fields must be a JSON object, got {_kind(doc)}")])
    warnings: list[tuple[str, str, Any, str]] = []
    out: dict[str, Any] = {}
    for name, raw in doc.items():
        item = _plain(raw)
        problem: tuple[str, str] | None = None
        if not isinstance(name, str) or not _FIELD_NAME_RE.match(name):
            problem = ("data_field_name",
                       f"data field name {show(name)} must be 1-20 letters, digits, '-' or '_'")
        elif item is None or isinstance(item, bool | int):
            pass
        elif isinstance(item, float):
            if not math.isfinite(item):
                problem = ("json_shape", f"data field {show(name)} is not a finite number")
        elif isinstance(item, str):
            if _has_control(item):
                problem = ("control_chars", f"data field {show(name)} holds control characters")
        else:
            problem = ("json_shape",
                       f"data field {show(name)} holds {_kind(item)}; only text, numbers, "
                       "true/false or null are allowed")
        if problem is None:
            out[str(name)] = item
        elif len(warnings) < MAX_PROBLEMS:
            warnings.append(("data_fields", problem[0], item,
                             problem[1]))
    if warnings:
        return Warned(out or None, warnings)
    return out
