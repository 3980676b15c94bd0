"""Import slots (``import_slots=``): one taken before each import is submitted, held until
its status says it ended, handed back when the submission fails or the client closes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import respx

from dotsync.dotdigital import DotdigitalClient, ValidationError
from dotsync.dotdigital.slots import HeldImports, ImportKind, ImportSlotsBusy, Release
from dotsync.emulator import EmulatorConfig, EmulatorServer
from dotsync.sync.imports import run_imports
from tests.dotdigital.fakes import PASSWORD, R2, USER, FakeClock, make_client

PEOPLE = [{"identifiers": {"email": "jo@example.com"}}]
ORDERS = [{"key": "o1", "json": {"total": 1},
           "contactIdentity": {"identifier": "email", "value": "jo@example.com"}}]


class CountingSlots:
    """A shared count per kind, as a Prefect concurrency limit keeps it for every worker."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.taken = 0
        self.lock = threading.Lock()

    def try_take(self, kind: ImportKind) -> Release | None:
        with self.lock:
            if self.held[kind] >= self.limit:
                return None
            self.held[kind] += 1
            self.taken += 1
            self.most[kind] = max(self.most[kind], self.held[kind])
        released = False

        def release() -> None:
            nonlocal released
            with self.lock:
                assert not released, "a slot released twice"
                released = True
                self.held[kind] -= 1
        return release


@pytest.fixture
def slots() -> CountingSlots:
    return CountingSlots(limit=1)


@pytest.fixture
def slotted(clock: FakeClock, slots: CountingSlots) -> Iterator[DotdigitalClient]:
    c = make_client(clock, import_slots=slots)
    yield c
    c.close()


def test_a_slot_is_held_from_submission_until_the_import_ends(
        slotted: DotdigitalClient, slots: CountingSlots, api: respx.MockRouter) -> None:
    api.put("/contacts/v3/import").respond(202, json={"importId": "c1"})
    status = api.get("/contacts/v3/import/c1")
    status.side_effect = [httpx.Response(200, json={"id": "c1", "status": "NotFinished"}),
                          httpx.Response(200, json={"id": "c1", "status": "Finished"})]
    assert slotted.import_contacts(PEOPLE) == "c1"
    assert slots.held["contacts"] == 1
    assert slotted.get_contact_import("c1").status == "NotFinished"
    assert slots.held["contacts"] == 1  # still running
    assert slotted.get_contact_import("c1").status == "Finished"
    assert slots.held["contacts"] == 0


def test_with_every_slot_taken_nothing_is_sent(
        slotted: DotdigitalClient, slots: CountingSlots, api: respx.MockRouter) -> None:
    submit = api.put("/insightData/v3/import").respond(202, json={"importId": "i1"})
    api.get("/insightData/v3/import/i1").respond(200, json={"status": "Finished"})
    assert slotted.import_insight_data("Orders", ORDERS) == "i1"
    with pytest.raises(ImportSlotsBusy, match="insight import slot"):
        slotted.import_insight_data("Orders", ORDERS)
    assert submit.call_count == 1
    slotted.get_insight_import("i1")  # it ends: its slot frees
    assert slotted.import_insight_data("Orders", ORDERS) == "i1"
    assert submit.call_count == 2


def test_kinds_are_counted_apart(slotted: DotdigitalClient, slots: CountingSlots,
                                 api: respx.MockRouter) -> None:
    api.put("/contacts/v3/import").respond(202, json={"importId": "c1"})
    api.put("/insightData/v3/import").respond(202, json={"importId": "i1"})
    slotted.import_contacts(PEOPLE)
    slotted.import_insight_data("Orders", ORDERS)
    assert slots.held == Counter({"contacts": 1, "insight": 1})


def test_a_refused_submission_hands_its_slot_back(
        slotted: DotdigitalClient, slots: CountingSlots, api: respx.MockRouter) -> None:
    api.put("/contacts/v3/import").respond(400, json={"message": "bad"})
    with pytest.raises(ValidationError):
        slotted.import_contacts(PEOPLE)
    assert slots.taken == 1 and slots.held["contacts"] == 0


def test_closing_the_client_hands_back_what_it_holds(clock: FakeClock) -> None:
    slots = CountingSlots(limit=5)
    client = make_client(clock, import_slots=slots)
    with respx.mock(base_url=R2) as api:
        api.put("/contacts/v3/import").respond(202, json={"importId": "c1"})
        client.import_contacts(PEOPLE)
    assert slots.held["contacts"] == 1
    client.close()
    assert slots.held["contacts"] == 0


def test_held_imports_without_outside_slots_take_nothing() -> None:
    held = HeldImports()
    assert held.submit("contacts", lambda: "x", "import_contacts") == "x"
    held.ended("x")
    held.ended("never-seen")  # an import submitted before, or by someone else: no-op
    assert len(held) == 0


def test_two_runs_sharing_slots_never_have_more_imports_in_flight_than_the_limit() -> None:
    """``run_imports`` takes a busy slot as a rate limit: it polls what it has in flight
    and submits again later. Two clients (as two workers) share a limit of 2."""
    slots = CountingSlots(limit=2)
    config = EmulatorConfig(user=USER, password=PASSWORD, import_delay=0.05)
    with EmulatorServer(config) as server:
        clients = [DotdigitalClient(USER, PASSWORD, endpoint=server.url, import_slots=slots)
                   for _ in range(2)]
        results: list[list[str]] = [[], []]

        def run(n: int) -> None:
            chunks = [[{"identifiers": {"email": f"r{n}c{i}@example.com"}}] for i in range(6)]
            for done in run_imports(chunks, clients[n].import_contacts,
                                    clients[n].get_contact_import, max_in_flight=5,
                                    poll_interval=0.01):
                assert done.error is None
                results[n].append(done.report.status)  # type: ignore[union-attr]

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for c in clients:
            c.close()
        assert results == [["Finished"] * 6] * 2
        assert slots.most["contacts"] == 2
        assert server.state.max_active_imports("contacts") <= 2
        assert slots.held["contacts"] == 0
        assert len(server.state.contacts()) == 12
