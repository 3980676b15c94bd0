"""Shared mechanics of the platform mappings: exact money, ids, timestamps, consent.

Every mapping function takes one decoded JSON object as the platform's API returns
it and gives back one staging row (SPEC §1 column → text or None), or raises
:class:`MappingError` with a reason a shop owner can act on. :func:`map_safely`
wraps a mapping so that arbitrary JSON never raises: any other exception becomes a
reported problem too, naming the platform id when one can be found.

Money is :class:`~decimal.Decimal` from end to end. The file readers parse JSON
numbers straight into ``Decimal`` (never ``float``), and amounts are written to the
store as plain decimal text (``format(value, "f")``), so ``19.99`` stays ``19.99``
and ``1E+2`` never appears.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Any

Row = dict[str, str | None]
Payload = Mapping[str, Any]

#: Arithmetic on amounts: far more digits than any money has, and an inexact result
#: raises instead of rounding (Decimal's default context keeps only 28 digits).
EXACT = Context(prec=200, traps=[Inexact, InvalidOperation])

#: Longest text a mapped value may hold before it is cut from a report message.
_SHOWN = 80


class MappingError(ValueError):
    """One platform object cannot become a staging row; the message says why."""


@dataclass(frozen=True)
class Mapped:
    """The outcome of mapping one object: a row, or a problem naming the object."""

    platform_id: str | None
    row: Row | None = None
    problem: str | None = None


def shown(value: Any) -> str:
    """A value as it may appear in a problem message (short, one line)."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def obj(payload: Any, name: str) -> Payload:
    """``payload`` as a JSON object, or a MappingError naming what it is."""
    if type(payload) is dict:  # the decoders' own type: no ABC check per call
        return payload
    if not isinstance(payload, Mapping):
        raise MappingError(f"expected a JSON object for {name}, found {_kind(payload)}")
    return payload


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def get_path(payload: Any, *path: str | int) -> Any:
    """The value at ``path`` inside nested objects/arrays, or None where any step is
    missing or of the wrong kind (payloads leave out what they do not have)."""
    current = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return None
            current = current[step]
        elif type(current) is dict:
            current = current.get(step)
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(step)
    return current


def as_list(value: Any, name: str) -> list[Any]:
    """A JSON array (null or absent is an empty one)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(f"{name} should be an array, found {_kind(value)}")
    return value


def platform_id(value: Any) -> str | None:
    """An id as text: integers and non-empty strings; anything else is no id.

    A ``null`` or ``None`` reference is *no* reference: it never becomes the text
    ``"None"`` (which would attach a guest's order to whichever customer has that id).
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str and value and not value[0].isspace() and not value[-1].isspace() \
            and value.lower() not in _NO_ID:
        return value  # the common case: nothing to strip, not a null word
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() in _NO_ID:
            return None
        return text
    return None


_NO_ID = frozenset({"none", "null", "undefined", "nan"})


def required_id(value: Any, name: str) -> str:
    found = platform_id(value)
    if found is None:
        raise MappingError(f"{name} is missing or not an id (found {shown(value)})")
    return found


def text(value: Any) -> str | None:
    """Optional text: strings as given (empty is None), numbers as their digits."""
    if type(value) is str:
        return value if value and not value.isspace() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return None


def decimal(value: Any, name: str) -> Decimal:
    """An exact amount from a JSON number or numeric string."""
    if type(value) is Decimal:
        if value.is_finite():
            return value
        raise MappingError(f"{name} is not a finite number: {shown(value)}")
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, bool) or value is None:
        raise MappingError(f"{name} is missing or not a number (found {shown(value)})")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        # Only reached when a caller parsed JSON with floats; repr is the shortest text
        # that reads back as the same float, i.e. the digits that were in the file.
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MappingError(f"{name} is not a number: {shown(value)}") from None
    else:
        raise MappingError(f"{name} is not a number (found {_kind(value)})")
    if not result.is_finite():
        raise MappingError(f"{name} is not a finite number: {shown(value)}")
    return result


def optional_decimal(value: Any, name: str) -> Decimal | None:
    return None if value is None else decimal(value, name)


_PLAIN_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,40})(?:\.[0-9]{1,40})?")
#: An amount already in the plain decimal form the store keeps (mappings that test
#: it inline skip :func:`amount_text`'s call).
PLAIN_AMOUNT = _PLAIN_AMOUNT


def amount_text(value: Any, name: str) -> str:
    """An amount as stored text. A string already in plain decimal form (``"598.94"``,
    as Shopify sends money) is kept as it is, exactly the digits given; anything else
    goes through :func:`decimal`."""
    if type(value) is str and _PLAIN_AMOUNT.fullmatch(value):
        return value
    return money_text(decimal(value, name))  # type: ignore[return-value]


def money_text(value: Decimal | None) -> str | None:
    """An amount as the plain decimal text the store keeps (never an exponent)."""
    if value is None:
        return None
    if not value:
        value = value.copy_abs()  # no "-0.00"
    return format(value, "f")


_NAIVE_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}")


def iso_timestamp(value: Any, name: str, *, naive_is_utc: bool = True) -> str:
    """An ISO 8601 timestamp; ``2017-08-21 22:22:19`` (Adobe Commerce, stored in UTC)
    becomes ``2017-08-21T22:22:19+00:00``."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{name} is missing or not a timestamp (found {shown(value)})")
    raw = value.strip()
    if len(raw) == 19 and raw[10] in " T" and _NAIVE_SECONDS.fullmatch(raw) \
            and raw[11:13] != "24" and naive_is_utc:
        try:  # Adobe Commerce's "2017-08-21 22:22:19": validated, then spelled out
            datetime.fromisoformat(raw)
        except ValueError:
            raise MappingError(f"{name} is not an ISO 8601 timestamp: {shown(value)}") \
                from None
        return f"{raw[:10]}T{raw[11:]}+00:00"
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise MappingError(f"{name} is not an ISO 8601 timestamp: {shown(value)}") from None
        parsed = datetime(day.year, day.month, day.day)
    if parsed.tzinfo is not None:
        return raw  # already ISO 8601 with its offset: kept as the platform wrote it
    if naive_is_utc:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


def optional_timestamp(value: Any, name: str) -> str | None:
    return None if value is None or value == "" else iso_timestamp(value, name)


def email(value: Any) -> str | None:
    """An e-mail as given (the contracts normalise and validate it)."""
    found = text(value)
    return found.strip() if found else None


def map_safely(
    mapper: Callable[[Any], Row], payload: Any, id_of: Callable[[Any], str | None]
) -> Mapped:
    """Run ``mapper`` on one object; never raises, whatever the JSON holds."""
    try:
        ident = id_of(payload) if isinstance(payload, Mapping) else None
    except Exception:  # an id getter must not stop the report either
        ident = None
    try:
        return Mapped(ident, row=mapper(payload))
    except MappingError as exc:
        return Mapped(ident, problem=str(exc))
    except (RecursionError, MemoryError):
        return Mapped(ident, problem="the object is nested too deeply to map")
    except Exception as exc:  # arbitrary JSON: report, never crash the load
        return Mapped(ident, problem=f"cannot be mapped ({type(exc).__name__}: {exc})")


def currency_exponent(code: Any) -> int | None:
    """ISO 4217 minor units of ``code`` (JPY 0, EUR 2, BHD 3), from the maintained
    ``iso4217`` data package; None for a code it does not know."""
    if not isinstance(code, str):
        return None
    from iso4217 import Currency

    try:
        exponent = Currency(code.strip().upper()).exponent
    except (ValueError, KeyError, AttributeError):
        return None
    return exponent if isinstance(exponent, int) else None


def exact_sum(values: list[Decimal] | tuple[Decimal, ...]) -> Decimal:
    """The exact sum of amounts (never rounded to the default 28 digits)."""
    total = Decimal(0)
    for value in values:
        try:
            total = EXACT.add(total, value)
        except (Inexact, InvalidOperation):
            raise MappingError("an amount has more digits than dotsync can add exactly") \
                from None
    return total


def scaled(units: int, digits: int) -> Decimal:
    """``units`` × 10^-``digits`` exactly (``scaleb`` would round to 28 digits)."""
    return Decimal(f"{units}E-{digits}")
