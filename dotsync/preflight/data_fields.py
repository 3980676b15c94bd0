"""The ``data_fields`` check: every data field dotsync sends exists with a fitting type.

Dotdigital refuses a contact carrying a data field the account does not have.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from dotsync.dotdigital import DataField, DotdigitalError
from dotsync.preflight.results import _STORE_FIX, Check, _listing, _plural, _skipped
from dotsync.preflight.staged import StoreUnreadable, _clean

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


#: Data field names dotsync can send (SPEC §1); other names are the contracts' business.
_DATA_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
#: Distinct ``data_fields`` keys followed; past this a file is broken, not a schema.
MAX_DATA_FIELD_KEYS = 500
_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_DATE_TEXT = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?\s*$")
#: Which kinds of staged value each Dotdigital data field type takes.
_TYPE_TAKES: dict[str, frozenset[str]] = {
    "String": frozenset({"text", "number", "numeric text", "date text", "boolean",
                         "boolean text"}),
    "Numeric": frozenset({"number", "numeric text"}),
    "Date": frozenset({"date text"}),
    "Boolean": frozenset({"boolean", "boolean text"}),
}
#: The type a field must be created with for values of one kind.
_KIND_TYPE = {"number": "Numeric", "numeric text": "Numeric", "date text": "Date",
              "boolean": "Boolean", "boolean text": "Boolean"}


def _value_kind(value: Any) -> str | None:
    """What a staged data-field value is, as far as Dotdigital's types care."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        if _NUMERIC_TEXT.match(value):
            return "numeric text"
        if _DATE_TEXT.match(value):
            return "date text"
        if value.strip().lower() in ("true", "false"):
            return "boolean text"
        return "text"
    return None  # an object or a list: the contracts refuse it, it is never sent


@dataclass
class FieldFacts:
    """The data fields staged customers would send, reduced chunk by chunk.

    Per field: how many customers carry it and the kinds of their values (counts, never
    the values: a data field may hold anything personal). ``FIRSTNAME``/``LASTNAME``,
    ``STORE`` and ``LOCALE`` come from their columns, the rest from ``data_fields`` JSON.
    """

    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # upper-cased -> as staged
    dropped_keys: int = 0

    def _note(self, name: str, kind: str, n: int = 1) -> None:
        key = name.upper()
        if key not in self.kinds:
            if len(self.kinds) >= MAX_DATA_FIELD_KEYS:
                self.dropped_keys += n
                return
            self.kinds[key] = Counter()
            self.names[key] = name
        self.kinds[key][kind] += n

    def add(self, frame: pd.DataFrame) -> None:
        if "deleted_at" in frame:
            frame = frame[frame["deleted_at"].isna()]  # erased customers are never sent
        for column, name in (("first_name", "FIRSTNAME"), ("last_name", "LASTNAME"),
                             ("store", "STORE"), ("locale", "LOCALE")):
            present = int((_clean(frame[column]) != "").sum())
            if present:
                self._note(name, "text", present)
        for raw in frame["data_fields"].dropna():
            try:
                parsed = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            except orjson.JSONDecodeError:
                continue  # the contracts reject it with its reason
            if not isinstance(parsed, dict):
                continue
            for name, value in parsed.items():
                kind = _value_kind(value)
                if kind is not None and isinstance(name, str) and _DATA_FIELD_NAME.match(name):
                    self._note(name, kind)


def check_data_fields(ctx: _Context) -> Check:
    """Every data field dotsync will send exists in the account with a type its values fit.

    Dotdigital refuses a contact carrying a data field the account does not have, so a
    missing ``STORE`` would hold every contact (and their orders and certificates).
    """
    name = "data_fields"
    try:
        facts = ctx.customers()[1]
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if not facts.kinds:
        return Check(name, ok=True, detail="no staged customer carries a data field")
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"data fields cannot be listed: {ctx.api_blocked}",
                        "fix the credentials and region first")
    try:
        account = {f.key: f for f in ctx.client.list_data_fields()}
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"the account's data fields could not be listed:"
                     f" {exc}", fix="try again; if it persists, check Dotdigital's status page")
    missing: list[str] = []
    to_create: list[str] = []
    clashes: list[str] = []
    for key, kinds in sorted(facts.kinds.items()):
        shown = facts.names[key]
        carried = sum(kinds.values())
        found: DataField | None = account.get(key)
        if found is None:
            missing.append(f"{shown} ({_plural(carried, 'customer')})")
            wanted = {_KIND_TYPE.get(k, "String") for k in kinds}
            to_create.append(f"{key} ({wanted.pop() if len(wanted) == 1 else 'String'})")
            continue
        takes = _TYPE_TAKES.get(found.type or "String", _TYPE_TAKES["String"])
        unfit = {k: n for k, n in kinds.items() if k not in takes}
        if unfit:
            clashes.append(f"{found.name} is {found.type} in Dotdigital, but "
                           + _listing(f"{n:,} staged {'value is' if n == 1 else 'values are'}"
                                      f" {k}" for k, n in sorted(unfit.items())))
    problems = []
    if missing:
        problems.append("missing in Dotdigital: " + _listing(missing, 10))
    if clashes:
        problems.append("; ".join(clashes))
    if facts.dropped_keys:
        problems.append(f"more than {MAX_DATA_FIELD_KEYS} distinct data_fields names staged")
    if problems:
        fix = []
        if to_create:
            fix.append("create " + ", ".join(to_create) + " in Dotdigital (Settings → Data"
                       " fields, or POST /v2/data-fields) before the first run")
        if clashes:
            fix.append("stage values that fit the field's type, or use a field of the right"
                       " type")
        return Check(name, ok=False, detail="; ".join(problems), fix="; ".join(fix))
    return Check(name, ok=True, detail=f"{_plural(len(facts.kinds), 'data field')} sent, each"
                 " in the account with a fitting type: " + _listing(
                     sorted(facts.names[k] for k in facts.kinds), 8))
