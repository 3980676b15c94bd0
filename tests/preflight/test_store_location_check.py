"""preflight's store_location check: a deployed run may not use a one-host SQLite store
unless the deployment is marked single-host with an absolute path (issue 17)."""

from __future__ import annotations


def test_on_demand_a_sqlite_store_passes(emulator, preflight, store):
    result = preflight(emulator(), database_url=str(store.engine.url))
    check = result.check("store_location")
    assert check.ok and "for runs on this machine" in check.detail


def test_a_deployed_run_on_sqlite_fails_preflight(emulator, preflight, store):
    result = preflight(emulator(), deployed=True, database_url=str(store.engine.url))
    check = result.check("store_location")
    assert check.status == "fail" and check.blocking
    assert "another worker host" in check.detail and "PostgreSQL" in check.fix
    assert not result.ok


def test_single_host_with_an_absolute_path_passes_but_not_a_relative_one(
        emulator, preflight, store):
    server = emulator()
    absolute = str(store.engine.url)
    assert absolute.startswith("sqlite:////")
    ok = preflight(server, deployed=True, single_host=True, database_url=absolute)
    assert ok.check("store_location").ok
    relative = preflight(server, deployed=True, single_host=True,
                         database_url="sqlite:///dotsync.db")
    assert "is relative" in relative.check("store_location").detail
    assert not relative.ok
