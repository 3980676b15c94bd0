"""Where the staging store lives, judged for runs that may land on any worker host.

A deployed run can be picked up by any worker of its work pool. A SQLite store is a
file on one host: a run on another host would open (or create) another file, whose
empty ledger says no gift certificate was ever sent, and would send them all again.
So a deployed run on SQLite is refused unless the operator says every run of it
happens on one host (``DOTSYNC_SINGLE_HOST``), and then only with an absolute path: a
relative ``sqlite:///dotsync.db`` depends on the worker's working directory, which
differs between a served process, a worker and a shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

SINGLE_HOST_ENV = "DOTSYNC_SINGLE_HOST"


@dataclass(frozen=True)
class Finding:
    """What preflight's ``store_location`` check reports."""

    ok: bool
    detail: str
    fix: str = ""


def judge(database_url: str, *, deployed: bool, single_host: bool) -> Finding:
    """Whether runs may use this store; ``deployed`` for a run started by a deployment."""
    try:
        url = sa.make_url(database_url)
    except Exception:  # the credentials/other checks report an unreadable URL
        return Finding(True, "not checked: the URL is not one SQLAlchemy reads")
    if url.get_backend_name() != "sqlite":
        where = f"{url.get_backend_name()} at {url.host or 'localhost'}/{url.database or ''}"
        return Finding(True, f"{where}: shared by every worker")
    path = url.database or ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return Finding(not deployed, "an in-memory SQLite store: gone when the run ends",
                       "use a file or PostgreSQL")
    absolute = Path(path).is_absolute()
    shown = path if absolute else f"{path} (relative: {Path(path).resolve()} here)"
    if not deployed:
        return Finding(True, f"SQLite at {shown}: for runs on this machine")
    if not single_host:
        return Finding(
            False,
            f"a deployed run on SQLite ({shown}): a run on another worker host would "
            "use another file, whose empty ledger would send every gift certificate again",
            "use PostgreSQL (DOTSYNC_DATABASE_URL=postgresql+psycopg://…), or, when every "
            f"run of this deployment runs on this one host, set {SINGLE_HOST_ENV}=true "
            "with an absolute SQLite path")
    if not absolute:
        return Finding(
            False,
            f"{SINGLE_HOST_ENV} is set but the SQLite path {path!r} is relative: it "
            "depends on the worker's working directory",
            "give an absolute path: sqlite:////srv/dotsync/dotsync.db")
    return Finding(True, f"SQLite at {path}, one host ({SINGLE_HOST_ENV})")
