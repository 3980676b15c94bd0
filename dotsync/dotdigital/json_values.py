"""Lenient readers for JSON values: Dotdigital omits empty lists and fields, and the typed
results (:mod:`.models`, :mod:`.reports`) read what is there without failing on the rest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["as_dict", "as_int", "as_list", "as_str", "parse_datetime"]


def as_int(value: Any) -> int | None:
    """An integer, or None for anything that is not one (booleans included)."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def as_str(value: Any) -> str | None:
    """``str(value)``, keeping None."""
    return None if value is None else str(value)


def as_dict(value: Any) -> dict[str, Any]:
    """A copy of a mapping, else empty."""
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A copy of a list, else empty."""
    return list(value) if isinstance(value, list) else []


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 as Dotdigital writes it (``Z`` suffix, 0-7 fraction digits), else None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python < 3.12 accepts only 3 or 6 fraction digits
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
