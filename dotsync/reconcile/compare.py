"""Which fields dotsync owns differ between what it sends and what Dotdigital holds.

Contacts: the identifiers and the data fields dotsync sends (a data field it does not
send, the contact's status, its lists and consent belong to others: Dotdigital's
unsubscribes, other integrations, the account's users). Insight records: the whole
JSON, because dotsync's upsert replaces the record as a whole, so a field Dotdigital
holds that dotsync does not send is a difference too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def same_value(sent: Any, held: Any) -> bool:
    """Equal as Dotdigital stores them: numbers by value, text exactly, lists and
    objects element by element; a missing value equals None."""
    if sent is None or held is None:
        return sent is None and held is None
    if isinstance(sent, bool) or isinstance(held, bool):
        return sent is held or sent == held
    if isinstance(sent, int | float) and isinstance(held, int | float):
        return math.isclose(float(sent), float(held), rel_tol=0, abs_tol=1e-9)
    if isinstance(sent, Mapping) and isinstance(held, Mapping):
        return not json_differences(sent, held)
    if isinstance(sent, list) and isinstance(held, list):
        return len(sent) == len(held) and all(
            same_value(a, b) for a, b in zip(sent, held, strict=True))
    return str(sent) == str(held)


def json_differences(sent: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """Top-level fields whose values differ (in either direction), sorted."""
    if sent == held:  # the common case, at C speed (24 == 24.0 as Dotdigital stores it)
        return []
    return sorted(k for k in set(sent) | set(held) if not same_value(sent.get(k), held.get(k)))


def _data_fields(contact: Mapping[str, Any]) -> dict[str, Any]:
    raw = contact.get("dataFields") or {}
    if isinstance(raw, list):  # v2 shape: [{"key": …, "value": …}]
        raw = {str(i.get("key")): i.get("value") for i in raw if isinstance(i, Mapping)}
    return {str(k).upper(): v for k, v in raw.items()}


def contact_differences(sent: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """Owned fields of a contact payload that the contact Dotdigital holds has otherwise."""
    out: list[str] = []
    held_ids = held.get("identifiers") or {}
    for name, value in (sent.get("identifiers") or {}).items():
        have = held_ids.get(name)
        if name == "email":
            equal = isinstance(have, str) and have.strip().lower() == str(value).strip().lower()
        else:
            equal = have is not None and str(have).lstrip("+") == str(value).lstrip("+")
        if not equal:
            out.append(f"identifiers.{name}")
    fields = _data_fields(held)
    for name, value in (sent.get("dataFields") or {}).items():
        if not same_value(value, fields.get(name.upper())):
            out.append(f"dataFields.{name}")
    return out


def record_differences(sent: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """Fields of an insight record's JSON that differ from the one sent."""
    return json_differences(sent.get("json") or {}, held.get("json") or {})
