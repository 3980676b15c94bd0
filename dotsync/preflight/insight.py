"""The insight-collection checks: a valid collection name, and a ledger that is this
account's send history.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dotsync.dotdigital import DotdigitalError, InsightCollection
from dotsync.preflight.results import _STORE_FIX, Check, _first_line, _plural, _skipped
from dotsync.store import Ledger, Store

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


#: Dotdigital's collection-name rule, from the insight-data spec (``collectionNameParam``):
#: ``^[-A-Za-z_][-A-Za-z0-9_]{1,255}$`` with ``maxLength: 255``; so 2 to 255 characters.
_COLLECTION_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]+$")
COLLECTION_NAME_MAX = 255


def _collection_summary(ctx: _Context) -> InsightCollection | str | None:
    """The configured collection as the account lists it, None when absent, or why the
    account could not be asked."""
    if ctx.api_blocked is not None or ctx.client is None:
        return f"collections cannot be listed: {ctx.api_blocked}"
    try:
        collections = ctx.collections()
    except DotdigitalError as exc:
        return f"collections could not be listed: {exc}"
    wanted = ctx.settings.insight_collection
    return next((c for c in collections if c.name == wanted), None)


def _ledger_records_a_send(store: Store) -> bool:
    """Whether the ledger holds anything sent: a synced order, a sent (or in-doubt)
    certificate or confirmation. One indexed ``EXISTS``, not a count of the ledger."""
    t = Ledger(store).table
    query = sa.select(sa.exists().where(
        t.c.entity.in_(["orders", "certificates", "confirmations"]),
        t.c.state.in_(["synced", "in_doubt"])))
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def check_send_history(ctx: _Context) -> Check:
    """The ledger is this account's history: not empty while Dotdigital holds orders.

    Exactly-once sends rest on the ledger. A ledger that records nothing sent while the
    account's insight collection already holds records means another store (or a lost
    database) sent before: certificates and confirmations would go out again.
    """
    name = "send_history"
    if ctx.store is None:
        return _skipped(name, "no staging store was given", _STORE_FIX)
    summary = _collection_summary(ctx)
    if isinstance(summary, str):
        return _skipped(name, summary, "fix the credentials and region first")
    if summary is None or summary.record_count == 0:
        return Check(name, ok=True, detail=f"Dotdigital's collection"
                     f" {ctx.settings.insight_collection!r} holds no records: nothing was"
                     " sent before")
    try:
        sent = _ledger_records_a_send(ctx.store)
    except Exception as exc:  # any database error: report, don't crash
        return _skipped(name, f"could not read the ledger: {type(exc).__name__}:"
                        f" {_first_line(str(exc))}", _STORE_FIX)
    if sent:
        return Check(name, ok=True, detail=f"the ledger records what was sent; Dotdigital's"
                     f" collection holds {summary.record_count:,} records")
    return Check(
        name, ok=False,
        detail=f"the ledger records nothing sent, but Dotdigital's collection {summary.name!r}"
        f" already holds {_plural(summary.record_count, 'record')}: another store or a lost"
        " database sent before, and a run now would send certificates and order"
        " confirmations again",
        fix="move the old ledger here: run `dotsync migrate --to URL` from the old store"
        " (URL = this DOTSYNC_DATABASE_URL); or, when the old store is gone, run `dotsync sync"
        " --assume-sent-before DATE` to take everything from before DATE as already sent")


def check_insight_collection(ctx: _Context) -> Check:
    """The insight collection name is one Dotdigital accepts; whether it exists already,
    and how many records it holds."""
    name = "insight_collection"
    value = ctx.settings.insight_collection
    fix = ("set DOTSYNC_INSIGHT_COLLECTION to 2-255 letters, digits, '-' or '_', not starting"
           " with a digit (default Purchases)")
    if not value:
        return Check(name, ok=False, detail="DOTSYNC_INSIGHT_COLLECTION is empty", fix=fix)
    if len(value) > COLLECTION_NAME_MAX:
        return Check(name, ok=False, fix=fix, detail="DOTSYNC_INSIGHT_COLLECTION is"
                     f" {len(value)} characters long (at most {COLLECTION_NAME_MAX})")
    if not _COLLECTION_NAME.fullmatch(value):
        if value[0].isdigit():
            why = "starts with a digit"
        elif len(value) < 2:
            why = "is shorter than 2 characters"
        else:
            bad = sorted({ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in
                                                                        "-_"))})
            why = "contains " + " ".join(repr(ch) for ch in bad)
        return Check(name, ok=False, fix=fix,
                     detail=f"DOTSYNC_INSIGHT_COLLECTION {value!r} {why}")
    summary = _collection_summary(ctx)
    if isinstance(summary, str):
        return Check(name, ok=True, detail=f"{value!r} is a valid collection name"
                     f" (existence not checked: {summary})")
    if summary is None:
        return Check(name, ok=True, detail=f"{value!r} does not exist yet: the first run"
                     " creates it (contact scope, type orders)")
    if summary.scope not in (None, "contact"):
        return Check(name, ok=False, detail=f"{value!r} exists with {summary.scope} scope;"
                     " orders need a contact-scoped collection",
                     fix="set DOTSYNC_INSIGHT_COLLECTION to another name (dotsync creates it)")
    kind = f", type {summary.type}" if summary.type else ""
    records = _plural(summary.record_count, "record")
    return Check(name, ok=True, detail=f"{value!r} exists ({records}{kind})")
