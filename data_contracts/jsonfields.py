"""The two JSON columns: a customer's ``data_fields`` and an order's ``lines``.

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

from data_contracts._display import show
from data_contracts._values import CONTROL_RE, _parse_decimal_text

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


# -- lines ---------------------------------------------------------------------------


def parse_lines(value: Any) -> list[dict[str, Any]] | Problems | Warned:
    """A non-empty JSON array of line objects, each normalised to
    ``{sku, name, quantity, unit_price, categories}``.

    ``name`` is non-blank text; ``quantity`` a number > 0 (an int when whole);
    ``unit_price`` a number >= 0 (float): problems there are :class:`Problems`. ``sku``
    is optional (tips, gift wrap and custom items have none: None; an integer sku
    becomes its digits) and ``categories`` an optional list of text (``[]`` when
    absent): a bad one is left out of its line and a :class:`Warned` says so. Numbers
    written as decimal text are accepted. Other keys are dropped.
    """
    if type(value) is not str:
        if value is None:
            return Problems([("required", "lines is required")])
        value = _plain(value)
    if isinstance(value, str):
        try:
            doc = _loads(value)
        except _JSONError as exc:
            if not value.strip():
                return Problems([("required", "lines is required")])
            return Problems([("json_syntax", f"lines is not valid JSON: {exc}")])
        if _canonical_in_place(doc):
            return doc
        # The quick check may have converted part of the document before giving up;
        # read it again for the full check.
        doc = _loads(value)
    elif isinstance(value, list | tuple):
        doc = list(value)
    else:
        return Problems([("json_shape", f"lines must be a JSON array, got {_kind(value)}")])
    return _check_lines(doc)


_INT64_LIMIT = 2**63


def _canonical_in_place(doc: Any) -> bool:
    """True when every line already has the normal form's keys and types (after turning
    an integer ``unit_price`` into a float and adding missing ``categories``, which this
    does in place on a document parsed here). False sends the document to the full check.

    This is the common case, kept to a few C-level calls a line: on a million orders it
    costs about a third of the full check.
    """
    if type(doc) is not list or not doc:
        return False
    for item in doc:
        if type(item) is not dict:
            return False
        size = len(item)
        sku = item.get("sku", _MISSING)
        if sku is _MISSING:
            size += 1
            sku = item["sku"] = None
        if size == 4:
            cats = None
        elif size == 5:
            cats = item.get("categories", _MISSING)
            if cats is _MISSING:
                return False
        else:
            return False
        try:
            name = item["name"]
            qty = item["quantity"]
            price = item["unit_price"]
        except KeyError:
            return False
        if not (
            (sku is None or (type(sku) is str and sku and sku.isprintable()
                             and sku.strip() is sku))
            and type(name) is str
            and name
            and name.isprintable()
            and name.strip() is name
            and type(qty) is int
            and 0 < qty < _INT64_LIMIT
        ):
            return False
        kind = type(price)
        if kind is float:
            if not 0 <= price < math.inf:
                return False
        elif kind is int:
            if not 0 <= price < _INT64_LIMIT:
                return False
            item["unit_price"] = float(price)
        else:
            return False
        if cats is None:
            item["categories"] = []
        elif type(cats) is list:
            for c in cats:
                if type(c) is not str or not c.isprintable():
                    return False
        else:
            return False
    return True


_MISSING: Any = object()


def _check_lines(doc: Any) -> list[dict[str, Any]] | Problems:
    """Every rule on every line, building new line dicts; collects all problems."""
    if type(doc) is not list:
        return Problems([("json_shape", f"lines must be a JSON array, got {_kind(doc)}")])
    if not doc:
        return Problems(
            [("json_shape", "lines is an empty array; an order needs at least one line")]
        )
    out: list[dict[str, Any]] = []
    problems = _Problems()
    warnings: list[tuple[str, str, Any, str]] = []
    for i, item in enumerate(doc):
        line = _slow_line(i, _plain(item), problems, warnings)
        if line is not None:
            out.append(line)
    if problems.items:
        return Problems(problems.done("lines"))
    if warnings:
        return Warned(out, warnings[:MAX_PROBLEMS])
    return out


def _slow_line(i: int, item: Any, problems: _Problems,
               warnings: list[tuple[str, str, Any, str]]) -> dict[str, Any] | None:
    where = f"lines[{i}]"
    if not isinstance(item, dict):
        problems.add("json_shape", f"{where} must be an object, got {_kind(item)}")
        return None
    before = len(problems.items) + problems.more
    sku = _line_sku(where, _plain(item.get("sku")), warnings)
    name = _line_text(where, "name", item.get("name"), problems, allow_int=False)
    qty = _line_number(where, "quantity", item.get("quantity"), problems, strictly_positive=True)
    price = _line_number(where, "unit_price", item.get("unit_price"), problems,
                         strictly_positive=False)
    cats = _line_categories(where, _plain(item.get("categories")), warnings)
    if len(problems.items) + problems.more != before:
        return None
    if isinstance(qty, float) and qty.is_integer():
        qty = int(qty)
    return {"sku": sku, "name": name, "quantity": qty, "unit_price": float(price),
            "categories": cats}


def _line_sku(where: str, value: Any, warnings: list[tuple[str, str, Any, str]]) -> str | None:
    """An optional sku: None when absent or blank; a bad one is left out with a warning."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        warnings.append(("lines.sku", "json_shape", value,
                         f"{where}.sku must be text, got {_kind(value)}"))
        return None
    if _has_control(value):
        warnings.append(("lines.sku", "control_chars", value,
                         f"{where}.sku {show(value)} holds control characters"))
        return None
    return value.strip()


def _line_categories(
    where: str, value: Any, warnings: list[tuple[str, str, Any, str]]
) -> list[str]:
    """Optional categories: a list of text; a bad list is left out with a warning."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        warnings.append(("lines.categories", "json_shape", value,
                         f"{where}.categories must be a list of text, got {_kind(value)}"))
        return []
    cats: list[str] = []
    for k, c in enumerate(value):
        c = _plain(c)
        why = (f"{where}.categories[{k}] must be text, got {_kind(c)}"
               if not isinstance(c, str) else
               f"{where}.categories[{k}] holds control characters" if _has_control(c) else None)
        if why is not None:
            warnings.append(("lines.categories", "control_chars" if isinstance(c, str)
                             else "json_shape", value,
                             why))
            return []
        cats.append(c)
    return cats


def _line_text(
    where: str, key: str, value: Any, problems: _Problems, *, allow_int: bool
) -> str | None:
    value = _plain(value)
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.add("required", f"{where}.{key} is required")
        return None
    if not isinstance(value, str):
        problems.add("json_shape", f"{where}.{key} must be text, got {_kind(value)}")
        return None
    if _has_control(value):
        problems.add("control_chars", f"{where}.{key} {show(value)} holds control characters")
        return None
    return value.strip()


def _line_number(
    where: str, key: str, value: Any, problems: _Problems, *, strictly_positive: bool
) -> float | int | None:
    value = _plain(value)
    number: Any
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.add("required", f"{where}.{key} is required")
        return None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value if abs(value) < 2**63 else None
    elif isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, str):
        parsed = _parse_decimal_text(value)
        number = parsed if isinstance(parsed, float) else None
    else:
        number = None
    if number is None:
        problems.add("json_shape", f"{where}.{key} must be a number, got {_kind(value)}")
        return None
    if strictly_positive and number <= 0:
        problems.add("positive", f"{where}.{key} must be greater than 0, got {number!r}")
        return None
    if not strictly_positive and number < 0:
        problems.add("not_negative", f"{where}.{key} must not be negative, got {number!r}")
        return None
    return number
