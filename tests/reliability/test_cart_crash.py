"""Cart enrolments killed with SIGKILL, then run again: exactly once, or in doubt.

Each moment runs ``python -m dotsync.sync.run sync`` with the abandoned-cart program
configured, against the emulator in this process, and kills it at a failpoint:

* ``after_enrol_claim``: the enrolment is claimed (``in_doubt``, committed) and not
  made: the cart stays in doubt and its contact is never enrolled automatically;
* ``after_enrol``: Dotdigital made the enrolment, the ledger does not say so yet: the
  claim keeps it from being made twice;
* ``after_import_report``/``before_mark``: the carts' import read, or their mark, before
  any enrolment.

30 contacts' carts, idle for months, make two enrolment calls (25 + 5) in one window
(claimed together, called at once, settled in order): ``after_enrol_claim:2`` kills
with both claimed and neither made, ``after_enrol:2`` with both made and the first one
settled. After each kill the ledger must
account for every enrolment Dotdigital holds; after runs allowed to finish, no
contact is enrolled twice and every cart is enrolled or in doubt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dotsync.emulator import EmulatorServer
from dotsync.store import Ledger, Store
from dotsync.sync.carts_plan import LEDGER_ENTITY
from tests.e2e.helpers import customer, stage
from tests.reliability.conftest import emulator_config, seeded_subset
from tests.reliability.harness import SYNC_ARGS, Job, jobs, settings_for, subprocess_env, sync_once

PROGRAM = 5150
CARTS = 30
#: Every kill moment of a cart enrolment (CORE always runs; the others are ``slow``).
MOMENTS = ("after_enrol_claim:1", "after_enrol_claim:2", "after_enrol:1", "after_enrol:2",
           "after_import_report:1", "before_mark:4")
CORE = {"after_enrol:1", "after_enrol_claim:2"}


def _stage(store: Store) -> None:
    stage(store, "customers", [customer(i) for i in range(CARTS)])
    stage(store, "carts", [
        {"cart_id": f"K{i}", "customer_email": f"customer{i}@example.com", "currency": "GBP",
         "total": "12.00", "created_at": "2026-01-01T09:00:00Z",
         "updated_at": "2026-01-01T09:05:00Z",
         "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 12.0}]}
        for i in range(CARTS)])


def _enrolled(emulator: EmulatorServer) -> dict[str, int]:
    # Enrolments are processed asynchronously; the emulator settles one when it is read.
    # One nobody reads (its run died) is still processed, as Dotdigital would.
    state = emulator.state
    with state.lock:
        state.programs.complete_all()
        for enrolment in state.programs.enrolments.values():
            state.programs.settle(state, enrolment)
    by_id = {c["contactId"]: c["identifiers"]["email"] for c in emulator.state.contacts()}
    return {by_id[i]: n for i, n in emulator.state.programs.enrolled(PROGRAM).items()}


def _claimed(store: Store) -> dict[str, str]:
    """``{contact e-mail: ledger state}`` of every cart enrolment claimed or made."""
    states = Ledger(store).states(LEDGER_ENTITY)
    return {f"customer{k[1:]}@example.com": s for k, s in states.items()
            if s in ("in_doubt", "synced")}


@pytest.mark.parametrize("kill", seeded_subset(
    MOMENTS, keep=len(CORE), seed=20261205, ids=[m.replace(":", "") for m in MOMENTS],
    always=[i for i, m in enumerate(MOMENTS) if m in CORE]))
def test_a_killed_enrolment_is_never_repeated(kill: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'carts.db'}"
    store = Store(url)
    try:
        _stage(store)
        with EmulatorServer(emulator_config()) as emulator, jobs() as started:
            emulator.state.add_program(PROGRAM, "Abandoned cart")
            env = subprocess_env(emulator, url, failpoint=kill)
            env["DOTSYNC_CART_PROGRAM_ID"] = str(PROGRAM)
            job = Job(["sync", *SYNC_ARGS], env, tmp_path)
            started.append(job.start())
            code = job.wait()
            assert code == -9, f"{kill}: not killed (exit {code}): {job.stderr[-1500:]}"
            # Claimed before the call: whatever Dotdigital holds, the ledger accounts for.
            assert set(_enrolled(emulator)) <= set(_claimed(store))

            settings = settings_for(emulator, url, cart_program_id=PROGRAM)
            for _ in range(3):
                sync_once(store, settings)
            enrolled = _enrolled(emulator)
            claimed = _claimed(store)
            assert all(n == 1 for n in enrolled.values()), enrolled
            assert len(claimed) == CARTS, "every cart enrolled or in doubt"
            doubt = {e for e, s in claimed.items() if s == "in_doubt"}
            assert set(enrolled) == set(claimed) - doubt | (set(enrolled) & doubt)
            assert all(s == "synced" for e, s in claimed.items() if e not in doubt)
            if kill.startswith("after_enrol:"):
                assert doubt and doubt <= set(enrolled), "made, in doubt, never repeated"
            elif kill.startswith("after_enrol_claim:"):
                assert doubt and not doubt & set(enrolled), "claimed, never made"
            else:
                assert not doubt and len(enrolled) == CARTS
    finally:
        store.dispose()
