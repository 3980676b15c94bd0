"""A scheduled sync's preflight checks what the run will read; ``dotsync preflight``
checks every row.

A store whose sync already processed its rows has change marks past them
(:class:`ChangeFeed`); rows written after (by plain SQL or ``upsert_staged``), and rows
the ledger says to retry, are what the next sync reads and what ``changed_only`` checks.
"""

from __future__ import annotations

from dotsync.preflight import CHANGED_ONLY_NOTE
from dotsync.store import Ledger, Store, schema
from dotsync.store.changes import ChangeFeed
from dotsync.sync.engine import RunFailed, SyncEngine
from tests.preflight.support import certificates, make_settings, stage


def processed(store: Store) -> None:
    """What a finished sync leaves: every entity's mark past every row staged so far."""
    feed = ChangeFeed(store.engine)
    for entity in schema.ENTITIES:
        feed.close(feed.open(entity), processed=True)


def old_bad_link(store: Store) -> None:
    rows = certificates(4)
    rows[1]["link"] = "http://shop.northwind.co.uk/gift/GC-0001"
    stage(store, "certificates", rows)
    processed(store)


def test_an_old_bad_row_is_not_on_the_scheduled_check_but_is_on_demand(
        emulator, preflight, store):
    old_bad_link(store)
    server = emulator()
    scheduled = preflight(server, changed_only=True).check("certificate_links")
    assert scheduled.ok, scheduled
    assert "no certificates staged" in scheduled.detail and CHANGED_ONLY_NOTE in scheduled.detail
    on_demand = preflight(server).check("certificate_links")
    assert on_demand.status == "fail" and "1 link not https" in on_demand.detail
    assert CHANGED_ONLY_NOTE not in on_demand.detail


def test_a_bad_row_changed_since_the_mark_is_reported(emulator, preflight, store):
    old_bad_link(store)
    stage(store, "certificates", [{"certificate_id": "C00009", "code": "GC-0009",
                                   "recipient_email": "buyer9@northwind-mail.co.uk",
                                   "link": "http://shop.northwind.co.uk/gift/GC-0009"}])
    server = emulator()
    scheduled = preflight(server, changed_only=True)
    check = scheduled.check("certificate_links")
    assert check.status == "fail" and "1 link not https" in check.detail, check
    assert CHANGED_ONLY_NOTE in check.detail and not scheduled.ok
    # The same check on demand sees both bad links.
    assert "2 links not https" in preflight(server).check("certificate_links").detail


def test_a_row_to_retry_is_checked_too(emulator, preflight, store):
    old_bad_link(store)
    Ledger(store).record("certificates", [{"key": "C00001", "state": "failed"}], run_id="r1")
    check = preflight(emulator(), changed_only=True).check("certificate_links")
    assert check.status == "fail" and "1 link not https" in check.detail, check


def test_a_deployed_sync_checks_changed_rows_and_a_backfill_every_row(emulator, store):
    from dotsync.dotdigital import DotdigitalClient

    old_bad_link(store)
    server = emulator()
    settings = make_settings(server)
    with DotdigitalClient.from_settings(settings, max_retries=0) as client:
        result = SyncEngine(store, settings, client, flow="sync").preflight()
        assert result.check("certificate_links").ok
        try:
            SyncEngine(store, settings, client, flow="backfill").preflight()
        except RunFailed as exc:
            assert "certificate_links" in str(exc)
        else:
            raise AssertionError("the backfill's preflight passed over a bad staged link")
