"""Imports applied in the background: polls stay quick, Finished means applied, limits hold.

A slow apply is made by wrapping the state's per-record upsert with a short sleep: the
worker then spends a second applying while holding the lock in slices, which is what a
48 MB import does for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.emulator.state import EmulatorState
from tests.emulator.helpers import by_email, import_body, insight_body, make_client, order

RECORDS = 300
PER_RECORD = 0.003  # ~1 s to apply RECORDS contacts
PROMPT = 0.3  # a poll must come back well inside one record-apply of the whole import


def _slow_upserts(state: EmulatorState, per_record: float = PER_RECORD) -> threading.Event:
    """Make every contact upsert take ``per_record`` seconds; the event is set on the first."""
    started = threading.Event()
    original: Callable[..., Any] = state._upsert

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(per_record)
        return original(*args, **kwargs)

    state._upsert = slow  # type: ignore[method-assign]
    return started


def _many(prefix: str = "c", n: int = RECORDS) -> dict[str, Any]:
    return import_body(*(by_email(f"{prefix}{i}@example.com") for i in range(n)))


@pytest.fixture
def slow_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(import_delay=0.05)) as server:
        yield server


def _timed_get(api: Any, path: str) -> tuple[float, Any]:
    started = time.monotonic()
    r = api.get(path)
    assert r.status_code == 200, r.text
    return time.monotonic() - started, r.json()


def test_polls_are_answered_promptly_while_an_import_is_applied(slow_server) -> None:
    started = _slow_upserts(slow_server.state)
    with make_client(slow_server) as api:
        import_id = api.put("/contacts/v3/import", json=_many()).json()["importId"]
        assert started.wait(5), "the worker never started applying the import"
        took, report = _timed_get(api, f"/contacts/v3/import/{import_id}")
        assert report == {"importId": import_id, "status": "NotFinished"}
        assert took < PROMPT, f"a poll during the apply took {took:.3f} s"
        # Other calls get in too, not only status polls.
        r = api.get("/v2/account-info")
        assert r.status_code == 200
        slowest = 0.0
        deadline = time.monotonic() + 30
        while report["status"] == "NotFinished":
            assert time.monotonic() < deadline, "the import never finished"
            took, report = _timed_get(api, f"/contacts/v3/import/{import_id}")
            if report["status"] == "NotFinished":
                slowest = max(slowest, took)
            time.sleep(0.02)
        assert slowest < PROMPT, f"a poll during the apply took {slowest:.3f} s"
    assert report["status"] == "Finished"
    assert report["summary"] == {"newContacts": RECORDS, "updatedContacts": 0,
                                 "globallySuppressed": 0, "invalidEntries": 0,
                                 "duplicateIdentifiers": 0}
    assert sorted(c["identifiers"]["email"] for c in report["created"]) == \
        sorted(f"c{i}@example.com" for i in range(RECORDS))


def test_an_insight_poll_says_processing_until_the_records_are_stored(slow_server) -> None:
    state = slow_server.state
    with make_client(slow_server) as api:
        api.patch("/contacts/v3/email/jo@example.com", json={})
        started = threading.Event()
        original = state._store_insight

        def slow_store(*args: Any, **kwargs: Any) -> bool:
            started.set()
            time.sleep(PER_RECORD)
            return original(*args, **kwargs)

        state._store_insight = slow_store  # type: ignore[method-assign]
        records = [order(f"o{i}", "jo@example.com") for i in range(RECORDS)]
        import_id = api.put("/insightData/v3/import",
                            json=insight_body(*records)).json()["importId"]
        assert started.wait(5)
        took, report = _timed_get(api, f"/insightData/v3/import/{import_id}")
        assert report["status"] == "Processing" and took < PROMPT
        assert len(state.insight_records("Purchases")) < RECORDS
        while report["status"] == "Processing":
            time.sleep(0.02)
            _, report = _timed_get(api, f"/insightData/v3/import/{import_id}")
    assert report == {"importId": import_id, "status": "Complete", "collectionName": "Purchases",
                      "summary": {"totalRecords": RECORDS, "totalImported": RECORDS,
                                  "totalRejected": 0}}
    assert len(state.insight_records("Purchases")) == RECORDS


def test_finished_means_every_record_is_visible(slow_server) -> None:
    """The delay has long passed while the apply runs: the import stays NotFinished until
    the last record is in, and once Finished every contact can be read."""
    _slow_upserts(slow_server.state, per_record=0.001)
    with make_client(slow_server) as api:
        import_id = api.put("/contacts/v3/import", json=_many()).json()["importId"]
        submitted = time.monotonic()
        seen_not_finished_after_delay = False
        while True:
            report = api.get(f"/contacts/v3/import/{import_id}").json()
            if report["status"] == "Finished":
                break
            if time.monotonic() - submitted > 0.1:
                seen_not_finished_after_delay = True
            time.sleep(0.005)
        assert seen_not_finished_after_delay
        assert len(slow_server.state.contacts()) == RECORDS
        for i in (0, RECORDS // 2, RECORDS - 1):
            assert api.get(f"/contacts/v3/email/c{i}@example.com").status_code == 200


def test_complete_imports_waits_for_the_import_being_applied(slow_server) -> None:
    started = _slow_upserts(slow_server.state, per_record=0.001)
    with make_client(slow_server) as api:
        first = api.put("/contacts/v3/import", json=_many("a")).json()["importId"]
        second = api.put("/contacts/v3/import", json=_many("b", 10)).json()["importId"]
        assert started.wait(5)
        slow_server.state.complete_imports()
        statuses = {i["id"]: i["status"] for i in slow_server.state.imports()}
        assert statuses == {first: "Finished", second: "Finished"}
        assert len(slow_server.state.contacts()) == RECORDS + 10


def test_an_import_counts_as_active_until_it_is_applied() -> None:
    config = EmulatorConfig(import_delay=0.05, max_contact_imports=1)
    with EmulatorServer(config) as server, make_client(server) as api:
        started = _slow_upserts(server.state)
        import_id = api.put("/contacts/v3/import", json=_many()).json()["importId"]
        assert started.wait(5)  # due, and being applied: still active
        r = api.put("/contacts/v3/import", json=import_body(by_email("late@example.com")))
        assert r.status_code == 429
        assert r.json()["errorCode"] == "contacts:tooManyActiveImports"
        server.state.complete_imports()
        assert api.get(f"/contacts/v3/import/{import_id}").json()["status"] == "Finished"
        r = api.put("/contacts/v3/import", json=import_body(by_email("late@example.com")))
        assert r.status_code == 202


def test_insight_limit_holds_while_imports_wait_for_their_delay() -> None:
    config = EmulatorConfig(import_delay=60, max_insight_imports=2)
    with EmulatorServer(config) as server, make_client(server) as api:
        api.patch("/contacts/v3/email/jo@example.com", json={})
        for i in range(2):
            r = api.put("/insightData/v3/import",
                        json=insight_body(order(f"o{i}", "jo@example.com")))
            assert r.status_code == 202
        r = api.put("/insightData/v3/import", json=insight_body(order("x", "jo@example.com")))
        assert r.status_code == 429
        assert server.state.active_imports("insight") == 2
        server.state.complete_imports()
        assert server.state.active_imports("insight") == 0
        r = api.put("/insightData/v3/import", json=insight_body(order("x", "jo@example.com")))
        assert r.status_code == 202


def test_imports_are_applied_in_submission_order(slow_server) -> None:
    """A later import of the same contact wins, even though the first one is slow."""
    started = _slow_upserts(slow_server.state, per_record=0.001)
    with make_client(slow_server) as api:
        api.put("/contacts/v3/import", json=import_body(
            *(by_email(f"c{i}@example.com") for i in range(100)),
            by_email("jo@example.com", dataFields={"FIRSTNAME": "first"})))
        api.put("/contacts/v3/import", json=import_body(
            by_email("jo@example.com", dataFields={"FIRSTNAME": "second"})))
        assert started.wait(5)
        slow_server.state.complete_imports()
        assert slow_server.state.contact("jo@example.com")["dataFields"]["FIRSTNAME"] == "second"


def test_reset_drops_an_import_being_applied(slow_server) -> None:
    started = _slow_upserts(slow_server.state)
    with make_client(slow_server) as api:
        api.put("/contacts/v3/import", json=_many())
        assert started.wait(5)
        slow_server.state.reset()
        assert slow_server.state.imports() == []
        time.sleep(0.1)  # the worker notices at its next pause and lets the import go
        assert slow_server.state.contacts() == []
        r = api.put("/contacts/v3/import", json=import_body(by_email("after@example.com")))
        slow_server.state.complete_imports()
        report = api.get(f"/contacts/v3/import/{r.json()['importId']}").json()
        assert report["status"] == "Finished"
        assert [c["identifiers"]["email"] for c in slow_server.state.contacts()] == \
            ["after@example.com"]


def test_a_stopped_server_leaves_no_import_worker() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, make_client(server) as api:
        api.put("/contacts/v3/import", json=import_body(by_email("a@example.com")))
        assert any(t.name.startswith("dotsync-emulator-imports") for t in threading.enumerate())
    assert not any(t.name.startswith("dotsync-emulator-imports")
                   for t in threading.enumerate())
    assert server.state.imports()[0]["status"] == "NotFinished"


def test_a_report_is_served_from_its_stored_bytes_as_the_inspection_api_shows_it(
        api, emulator) -> None:
    api.patch("/contacts/v3/email/jo@example.com", json={})
    r = api.put("/insightData/v3/import", json=insight_body(
        order("ok", "jo@example.com", note="naïve – ünïcode"),
        order("guest", "guest@example.com", big=2 ** 63, tiny=1e-7)))
    import_id = r.json()["importId"]
    over_http = api.get(f"/insightData/v3/import/{import_id}").json()
    assert over_http == emulator.state.get_import("insight", import_id)
    failure = over_http["failures"][0]
    assert failure["json"] == {"id": "guest", "order_total": 10.5, "big": 2 ** 63, "tiny": 1e-7}
    record = emulator.state.insight_records("Purchases")[0]
    assert record["json"]["note"] == "naïve – ünïcode"
    assert list(record) == ["key", "json", "contactId", "email", "created", "updated"]
