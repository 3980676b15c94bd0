"""Import slots: how many bulk imports an account has in flight, across every worker.

Dotdigital lets an account run 25 contact imports and 5 insight imports at once. One
run keeps to that on its own (``run_imports``' ``max_in_flight``), but a sync, a
backfill and a replay of one account on different workers each count only their own.
An outside holder of slots (the flows plug in Prefect global concurrency limits, see
``flows/limits.py``) makes the count shared; this module is the plain side of that:

* :class:`ImportSlots` is what such a holder offers: ``try_take(kind)`` gives back a
  release callable, or ``None`` when every slot of that kind is taken. It never waits:
  a run waiting for a slot while its own imports hold the others would wait forever,
  since only its own polling frees them.
* :class:`HeldImports` is what the client keeps: a slot is taken before an import is
  submitted (nothing is sent without one), handed back at once if the submission
  fails, and otherwise held under the import's id until a status poll says it ended,
  or until the client closes (an import given up on still runs at Dotdigital, so its
  slot is held as long as this client lives; a crashed process's slots come back
  through the holder's lease).
* A submission that finds no slot raises :class:`ImportSlotsBusy`, a
  :class:`~.errors.RateLimitedError`: ``run_imports`` already treats that as "another
  run holds the slots", keeps the chunk and tries again after its next poll round.

The default is :data:`NO_SLOTS`: without an outside holder the client behaves as
before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, Protocol

from dotsync.dotdigital.errors import RateLimitedError, SendOutcomeUnknown

__all__ = ["NO_SLOTS", "HeldImports", "ImportKind", "ImportSlots", "ImportSlotsBusy",
           "NoSlots"]

ImportKind = Literal["contacts", "insight"]
Release = Callable[[], None]


class ImportSlots(Protocol):
    """An outside count of imports in flight, per kind."""

    def try_take(self, kind: ImportKind) -> Release | None:
        """Take one slot of ``kind`` without waiting: its release, or ``None`` when full."""
        ...


class NoSlots:
    """No outside count: every submission may go (the client's behaviour without one)."""

    def try_take(self, kind: ImportKind) -> Release | None:
        return _nothing


def _nothing() -> None:
    return None


NO_SLOTS: ImportSlots = NoSlots()


class ImportSlotsBusy(RateLimitedError):
    """Every import slot of the account is taken (by this run or another): nothing was
    sent. A rate limit for ``run_imports``, which tries the chunk again later."""


class HeldImports:
    """The slots a client holds, one per import it submitted and has not seen end.

    Thread-safe: a client may be shared by threads.
    """

    def __init__(self, slots: ImportSlots | None = None) -> None:
        self.slots = slots or NO_SLOTS
        self._held: dict[str, Release] = {}
        self._lock = threading.Lock()

    def submit(self, kind: ImportKind, send: Callable[[], str], operation: str) -> str:
        """Take a slot of ``kind``, then ``send()`` (which returns the import id).

        Raises :class:`ImportSlotsBusy` without calling ``send`` when no slot is free.
        """
        release = self.slots.try_take(kind)
        if release is None:
            raise ImportSlotsBusy(
                f"{operation}: every {kind} import slot of the account is in use; "
                "the import waits for one to free", operation=operation)
        try:
            import_id = send()
        except SendOutcomeUnknown:
            # It may be running at Dotdigital: hold the slot until the client closes.
            with self._lock:
                self._held[f"unknown-{id(release)}"] = release
            raise
        except BaseException:
            release()  # refused before anything started: nothing to hold
            raise
        with self._lock:
            self._held[import_id] = release
        return import_id

    def ended(self, import_id: str) -> None:
        """The import reached a terminal status: its slot goes back."""
        with self._lock:
            release = self._held.pop(import_id, None)
        if release is not None:
            release()

    def release_all(self) -> None:
        """Hand back every slot still held, then close the holder if it has a
        ``close()`` (the client is closing: a holder made for one client, such as the
        flows' Prefect one, ends with it)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for release in held:
            release()
        close = getattr(self.slots, "close", None)
        if callable(close):
            close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)
