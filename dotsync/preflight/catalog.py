"""The catalogue check: every store with staged products names a valid collection of
its own, and none of those collections exists in the account with the wrong scope.

A store whose ``catalog_<store>`` cannot be made valid, or two stores (or one
``DOTSYNC_CATALOG_COLLECTION`` for several stores) sharing a collection, would leave
those stores' products rejected run after run; an existing contact-scoped collection
of the same name would refuse every catalogue import. Both are found before any write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dotsync.dotdigital import DotdigitalError
from dotsync.preflight.results import _STORE_FIX, Check, _first_line, _plural, _skipped
from dotsync.sync.automation_checks import catalog_problems
from dotsync.sync.catalog_plan import CATALOG_SCOPE, collection_name
from dotsync.sync.steps.products import staged_stores

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context

NAME = "catalog_collections"
FIX = ("set DOTSYNC_CATALOG_COLLECTION (one store) or rename the stores so that each "
       "makes its own valid collection name")


def check_catalog_collections(ctx: _Context) -> Check:
    """The stores' catalogue collection names, and their scope where they exist."""
    if ctx.store is None:
        return _skipped(NAME, "no staging store was given", _STORE_FIX)
    try:
        stores = staged_stores(ctx.store)
    except Exception as exc:  # any database error: report, don't crash
        return _skipped(NAME, f"could not read the staged products: {type(exc).__name__}: "
                        f"{_first_line(str(exc))}", _STORE_FIX)
    if not stores:
        return Check(NAME, ok=True, detail="no products are staged: no catalogue to load")
    override = ctx.settings.catalog_collection
    problems = catalog_problems(stores, override)
    if problems:
        return Check(NAME, ok=False, detail="; ".join(p.message for p in problems), fix=FIX)
    names = sorted({collection_name(s, override) for s in stores})
    shown = ", ".join(repr(n) for n in names[:5]) + (" …" if len(names) > 5 else "")
    if ctx.api_blocked is not None or ctx.client is None:
        return Check(NAME, ok=True, detail=f"{_plural(len(names), 'catalogue')} ({shown}); "
                     "existence not checked")
    try:
        listed = {c.name: c for c in ctx.collections()}
    except DotdigitalError as exc:
        return Check(NAME, ok=True, detail=f"{_plural(len(names), 'catalogue')} ({shown}); "
                     f"collections could not be listed: {_first_line(str(exc))}")
    wrong = [f"{n!r} exists with {listed[n].scope} scope" for n in names
             if n in listed and listed[n].scope not in (None, CATALOG_SCOPE)]
    if wrong:
        return Check(NAME, ok=False, detail="; ".join(wrong) + ": a catalogue needs an "
                     "account-scoped collection", fix="set DOTSYNC_CATALOG_COLLECTION to "
                     "another name (dotsync creates it)")
    missing = [n for n in names if n not in listed]
    later = f"; {len(missing)} created by the first run" if missing else ""
    return Check(NAME, ok=True, detail=f"{_plural(len(names), 'catalogue')} ({shown}){later}")
