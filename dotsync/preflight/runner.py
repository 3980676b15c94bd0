"""Running the checks in order: never raising, scrubbing secrets, marking accepted warnings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from dotsync.config import Settings
from dotsync.dotdigital import DotdigitalClient
from dotsync.preflight.account import (
    check_address_book,
    check_credentials,
    check_region,
    check_store_location,
)
from dotsync.preflight.campaigns import (
    check_certificate_campaign,
    check_example_campaign_ids,
    check_order_campaign,
)
from dotsync.preflight.catalog import check_catalog_collections
from dotsync.preflight.certificates import check_certificate_links, check_certificate_recipients
from dotsync.preflight.context import _Context
from dotsync.preflight.currencies import check_order_currencies
from dotsync.preflight.data_fields import check_data_fields
from dotsync.preflight.insight import check_insight_collection, check_send_history
from dotsync.preflight.programs import check_programs
from dotsync.preflight.results import CHECK_NAMES, Check, PreflightResult, _first_line
from dotsync.store import Store

_CHECKS: tuple[tuple[str, Callable[[_Context], Check]], ...] = (
    ("credentials", check_credentials),
    ("region", check_region),
    ("certificate_campaign", check_certificate_campaign),
    ("order_campaign", check_order_campaign),
    ("data_fields", check_data_fields),
    ("address_book", check_address_book),
    ("insight_collection", check_insight_collection),
    ("send_history", check_send_history),
    ("example_campaign_ids", check_example_campaign_ids),
    ("certificate_recipients", check_certificate_recipients),
    ("certificate_links", check_certificate_links),
    ("order_currencies", check_order_currencies),
    ("store_location", check_store_location),
    ("catalog_collections", check_catalog_collections),
    ("programs", check_programs),
)
assert tuple(n for n, _ in _CHECKS) == CHECK_NAMES


def _secrets(settings: Settings) -> list[str]:
    """Strings that must not appear in any output: the API password, the database password.

    Very short values are left alone: they occur in ordinary words by chance, and blanking
    them would garble every message (Dotdigital API passwords are at least 8 characters).
    """
    out = [settings.api_password.get_secret_value()]
    try:
        from sqlalchemy.engine import make_url

        out.append(make_url(settings.database_url).password or "")
    except Exception:
        pass
    return [s for s in out if s and len(s) >= 4]


def _scrub(check: Check, secrets: list[str]) -> Check:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "**********")
        return text

    return replace(check, detail=clean(check.detail), fix=clean(check.fix))


def unknown_accepted(settings: Settings) -> tuple[str, ...]:
    """Names in ``DOTSYNC_PREFLIGHT_ACCEPT`` that are not check names."""
    return tuple(n for n in settings.preflight_accept if n not in CHECK_NAMES)


def _accept(check: Check, settings: Settings) -> Check:
    """A warning named in ``DOTSYNC_PREFLIGHT_ACCEPT`` is marked accepted; errors never are."""
    if check.status == "warn" and check.name in settings.preflight_accept:
        return replace(check, accepted=True)
    return check


#: Said of a data check that looked only at what the next sync reads.
CHANGED_ONLY_NOTE = "only records changed since the last sync, or to retry, were checked"


def iter_checks(settings: Settings, store: Store | None, client: DotdigitalClient | None, *,
                chunk_rows: int = 20_000, changed_only: bool = False,
                deployed: bool = False) -> Iterator[Check]:
    """The checks one by one as they finish (for progress output); see :func:`run_preflight`."""
    ctx = _Context(settings=settings, store=store, client=client, chunk_rows=chunk_rows,
                   changed_only=changed_only, deployed=deployed)
    secrets = _secrets(settings)
    for name, run in _CHECKS:
        ctx.read_staged = False
        try:
            check = run(ctx)
            if changed_only and ctx.read_staged and check.status != "skipped":
                check = replace(check, detail=f"{check.detail} ({CHANGED_ONLY_NOTE})")
        except Exception as exc:  # a bug or an unforeseen answer must not hide the others
            check = Check(name, ok=False, detail=f"the check itself failed: {type(exc).__name__}:"
                          f" {_first_line(str(exc))}", fix="report this as a dotsync bug")
        yield _accept(_scrub(check, secrets), settings)


def run_preflight(settings: Settings, store: Store | None, client: DotdigitalClient | None,
                  *, chunk_rows: int = 20_000, changed_only: bool = False,
                  deployed: bool = False) -> PreflightResult:
    """Run every go-live check; never raises.

    ``client`` may be ``None`` (no credentials configured): the API checks are then
    skipped, which fails the preflight. Reads staged data in ``chunk_rows`` frames. The
    API calls are reads only (``account-info``, campaigns); nothing is written.

    With ``changed_only`` the data checks read only the staged records the next sync
    will read (stamped since its mark, or to retry: :meth:`ChangeFeed.since_mark`),
    so a scheduled run's preflight costs what changed, not the store; records checked
    and sent by earlier runs are not checked again. ``dotsync preflight`` checks every
    row unless asked otherwise. ``deployed`` (a run started by a deployment) makes a
    SQLite store an error unless ``DOTSYNC_SINGLE_HOST`` is set (``store_location``).
    """
    return PreflightResult(list(iter_checks(settings, store, client, chunk_rows=chunk_rows,
                                            changed_only=changed_only, deployed=deployed)),
                           unknown_accepted=unknown_accepted(settings))
