"""The emulator's high-water mark of imports in flight: what a test of a shared limit
(one account's imports across runs and workers) reads afterwards."""

from __future__ import annotations

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import by_email, import_body, insight_body, make_client, order


def test_the_most_imports_active_at_once_is_kept_per_kind() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, \
            make_client(server) as api:
        state = server.state
        assert api.get("/_emulator/imports/max-active").json() == {
            "contacts": 0, "insight": 0, "delete": 0}
        for i in range(3):
            r = api.put("/contacts/v3/import", json=import_body(by_email(f"c{i}@example.com")))
            assert r.status_code == 202
        api.patch("/contacts/v3/email/jo@example.com", json={})
        r = api.put("/insightData/v3/import", json=insight_body(order("o1", "jo@example.com")))
        assert r.status_code == 202
        assert state.max_active_imports("contacts") == 3
        assert state.max_active_imports("insight") == 1

        state.complete_imports()  # none active now; the mark stays where it was
        assert state.active_imports("contacts") == 0
        r = api.put("/contacts/v3/import", json=import_body(by_email("late@example.com")))
        assert r.status_code == 202
        assert api.get("/_emulator/imports/max-active").json() == {
            "contacts": 3, "insight": 1, "delete": 0}

        api.post("/_emulator/reset")
        assert state.max_active_imports("contacts") == 0


def test_imports_applied_at_once_count_one_at_a_time() -> None:
    """Without a delay each import is applied inside its own call: never two in flight."""
    with EmulatorServer(EmulatorConfig()) as server, make_client(server) as api:
        for i in range(3):
            api.put("/contacts/v3/import", json=import_body(by_email(f"c{i}@example.com")))
        assert server.state.max_active_imports("contacts") == 1
