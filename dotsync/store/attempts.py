"""The append-only attempt log: every try to deliver a record, for ``dotsync trace``.

The ledger says where a record stands now and keeps only its last error; this log
keeps each attempt (time, run, operation, outcome, Dotdigital's answer, the import or
send it went in), so the story of a record can be told after later runs overwrote the
ledger row. Rows are written in bulk by the ledger as it settles outcomes (one
``executemany`` per batch, in the same transaction) and never updated. What Dotdigital
answers can quote the record: e-mail addresses, phone-like digit runs and anything
that looks like a credential are scrubbed before a row is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dotsync.masking import mask_email
from dotsync.store import schema
from dotsync.store.db import Store, chunks

#: Operations, as the log names them.
CONTACT_UPSERT = "contact upsert"
CONTACT_CREATE = "contact create"
CONTACT_IMPORT = "contact import"
INSIGHT_IMPORT = "insight import"
INSIGHT_PUT = "insight put"
CAMPAIGN_SEND = "campaign send"
CAMPAIGN_CLAIM = "send claimed"
REPLAY = "replay"
RESEND = "resend requested"
ENROLMENT = "program enrolment"
ENROLMENT_READ = "enrolment read back"

#: Default of ``DOTSYNC_ATTEMPT_RETENTION_DAYS``.
DEFAULT_RETENTION_DAYS = 90
#: The longest answer kept per attempt.
MAX_MESSAGE = 500

COLUMNS: tuple[str, ...] = ("entity", "key", "at", "run_id", "operation", "outcome",
                            "error_code", "error_message", "reference")

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")
# Seven or more digits, with the separators people write numbers with; not a run inside
# an id or a timestamp (``6c1b-1234-5678``, ``2026-10-03T10:00``).
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{5,}\d(?![\w-])")
_SECRET = re.compile(
    r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization)\b(\s*[:=]\s*|\s+)"
    r"(basic\s+|bearer\s+)?\S+")


def scrub(text: Any) -> str | None:
    """Dotdigital's answer as the log keeps it: e-mails masked (``j***@example.com``),
    phone-like numbers and credentials replaced, cut to :data:`MAX_MESSAGE` characters.
    """
    if text is None:
        return None
    out = str(text)
    out = _SECRET.sub(lambda m: f"{m.group(1)}=***", out)
    out = _EMAIL.sub(lambda m: mask_email(m.group(0)), out)
    out = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-3:]
                     if len(re.sub(r"\D", "", m.group(0))) >= 7 else m.group(0), out)
    if len(out) > MAX_MESSAGE:
        out = out[: MAX_MESSAGE - 1] + "…"
    return out


def _db_time(value: datetime, dialect: str) -> Any:
    if dialect == "sqlite":  # as SQLAlchemy's SQLite DATETIME stores it
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def write(conn: sa.Connection, entity: str, rows: Iterable[Mapping[str, Any]], *,
          operation: str, run_id: str | None, at: datetime | None = None) -> int:
    """Append one attempt per ledger row (``key``, ``state``, optional ``error_code``,
    ``error_message``, ``dotdigital_ref``): one ``executemany`` through the driver."""
    dialect = conn.dialect.name
    when = _db_time(at or datetime.now(UTC), dialect)
    params = [(entity, str(r["key"]), when, run_id, operation, r["state"],
               scrub(r.get("error_code")), scrub(r.get("error_message")),
               r.get("dotdigital_ref") or r.get("reference"))
              for r in rows]
    if not params:
        return 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO attempts ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in COLUMNS)}) "
           f"VALUES ({', '.join([mark] * len(COLUMNS))})")
    for part in chunks(params, 5_000):
        conn.exec_driver_sql(sql, list(part))
    return len(params)


def log(store: Store, entity: str, rows: Sequence[Mapping[str, Any]], *, operation: str,
        run_id: str | None) -> int:
    """:func:`write` in a transaction of its own."""
    if not rows:
        return 0
    with store.engine.begin() as conn:
        return write(conn, entity, rows, operation=operation, run_id=run_id)


def of_record(store: Store, entity: str, key: str) -> list[dict[str, Any]]:
    """Every attempt logged for one record, oldest first (the (entity, key, at) index)."""
    t = schema.attempts
    query = (sa.select(*[t.c[c] for c in COLUMNS])
             .where(t.c.entity == entity, t.c.key == key).order_by(t.c.at))
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def forget(conn: sa.Connection, entity: str, keys: Sequence[str]) -> int:
    """Delete the attempts of records erased from the ledger (no e-mail stays behind)."""
    t = schema.attempts
    total = 0
    for part in chunks(list(keys), 900):
        total += conn.execute(t.delete().where(t.c.entity == entity,
                                               t.c.key.in_(part))).rowcount
    return total


def prune(store: Store, retention_days: int, *, now: datetime | None = None) -> int:
    """Delete attempts older than ``retention_days`` (0 keeps nothing older than now):
    one range delete on the ``at`` index, cheap enough for the end of every run."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=max(0, retention_days))
    t = schema.attempts
    with store.engine.begin() as conn:
        return conn.execute(t.delete().where(t.c.at < cutoff)).rowcount
