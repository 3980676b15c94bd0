"""An order's ``lines`` column: a JSON array of line objects, normalised.

The second JSON column (:mod:`dotsync.data_contracts.jsonfields` has the first, and the
:class:`Problems` / :class:`Warned` results both return). Most orders' lines are
already in the normal form, which a quick pass checks in place; only the rest take the
full, per-line check.
"""

from __future__ import annotations

import math
from typing import Any

from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import _parse_decimal_text
from dotsync.data_contracts.jsonfields import (
    MAX_PROBLEMS,
    Problems,
    Warned,
    _has_control,
    _JSONError,
    _kind,
    _loads,
    _plain,
    _Problems,
)


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
