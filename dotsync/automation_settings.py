"""The settings of carts, the catalogue and program enrolment (SPEC §3, issue 16),
parsed apart from :mod:`dotsync.config` so each rule stays next to its message.

``DOTSYNC_PROGRAMS`` maps order events to Dotdigital program ids, as a
comma-separated list of ``event=id``: ``first_order=101,order_status:shipped=102,
refunded=103`` (a TOML table ``programs = {first_order = 101}`` says the same). An
unknown event or a program id that is not a positive whole number is refused with a
message naming the variable, so a typo cannot silently leave a journey unfed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Events a program may be started by (besides the abandoned cart).
PLAIN_EVENTS: frozenset[str] = frozenset({"first_order", "refunded"})
_STATUS_EVENT = re.compile(r"^order_status:(?P<status>\S.*)$")


class AutomationSettingError(ValueError):
    """A cart, catalogue or program setting is malformed; the message names it."""


def parse_programs(name: str, raw: Any) -> tuple[tuple[str, int], ...]:
    """``DOTSYNC_PROGRAMS`` as sorted (event, program id) pairs; order statuses in the
    event are lower-cased (statuses are compared lower-cased everywhere)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ()
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        items = []
        for part in str(raw).split(","):
            if not part.strip():
                continue
            event, sep, value = part.partition("=")
            if not sep:
                raise AutomationSettingError(
                    f"{name}: {part.strip()!r} is not event=program_id "
                    "(e.g. first_order=101,order_status:shipped=102)")
            items.append((event, value))
    out: dict[str, int] = {}
    for event, value in items:
        key = _event(name, event)
        if key in out:
            raise AutomationSettingError(f"{name}: event {key!r} is given twice")
        out[key] = positive_id(name, value, what=f"program id of {key!r}")
    return tuple(sorted(out.items()))


def _event(name: str, raw: str) -> str:
    event = raw.strip()
    if event in PLAIN_EVENTS:
        return event
    match = _STATUS_EVENT.match(event)
    if match:
        return f"order_status:{match['status'].strip().lower()}"
    raise AutomationSettingError(
        f"{name}: unknown event {event!r}; use first_order, refunded or "
        "order_status:<status>")


def positive_id(name: str, raw: Any, what: str = "value") -> int:
    """A Dotdigital id: a whole number above zero."""
    text = str(raw).strip()
    if not text.isdigit() or int(text) <= 0:
        raise AutomationSettingError(
            f"{name}: {what} must be a whole number above 0, got {raw!r}")
    return int(text)


def optional_id(name: str, raw: Any) -> int | None:
    if raw is None or not str(raw).strip():
        return None
    return positive_id(name, raw)


def bounded(name: str, raw: Any, default: int, low: int, high: int) -> int:
    """A whole number in ``[low, high]`` (the default when unset)."""
    if raw is None or not str(raw).strip():
        return default
    text = str(raw).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise AutomationSettingError(
            f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(text)
