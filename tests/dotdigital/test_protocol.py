"""``DotdigitalAPI``: the client fits it, and code typed against it takes a fake."""

from __future__ import annotations

import inspect

from dotsync.dotdigital import DotdigitalClient, wait_for_import
from dotsync.dotdigital.api import DotdigitalAPI, ImportStatusAPI
from dotsync.dotdigital.models import ContactImportReport, InsightImportReport
from tests.dotdigital.fakes import FakeClock, make_client


def test_the_client_is_a_dotdigital_api(clock: FakeClock) -> None:
    client = make_client(clock)
    assert isinstance(client, DotdigitalAPI)
    client.close()


def test_every_protocol_method_matches_the_clients_parameters() -> None:
    """The type checker proves this statically (client.py's ``_fits_protocol``); this
    also catches a parameter renamed on one side only."""
    members = [name for name in dir(DotdigitalAPI)
               if not name.startswith("_") and callable(getattr(DotdigitalAPI, name))]
    assert len(members) >= 18
    for name in members:
        wanted = inspect.signature(getattr(DotdigitalAPI, name)).parameters
        actual = inspect.signature(getattr(DotdigitalClient, name)).parameters
        assert list(wanted) == list(actual), name
        for param in wanted.values():
            assert param.kind == actual[param.name].kind, (name, param.name)


class FakeImports:
    """A fake that knows import statuses and nothing else."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.polls = 0

    def get_contact_import(self, import_id: str, *, contacts: bool = True
                           ) -> ContactImportReport:
        self.polls += 1
        return ContactImportReport.from_json(
            {"importId": import_id, "status": self.statuses.pop(0)}, import_id)

    def get_insight_import(self, import_id: str) -> InsightImportReport:
        raise AssertionError("not an insight import")


def test_waiting_for_an_import_takes_any_import_status_api() -> None:
    fake = FakeImports(["NotFinished", "NotFinished", "Finished"])
    assert isinstance(fake, ImportStatusAPI)
    clock = FakeClock()
    report = wait_for_import(fake, "imp-1", poll_interval=1, min_poll=0,
                             sleep=clock.sleep, clock=clock.time)
    assert report.status == "Finished" and fake.polls == 3
