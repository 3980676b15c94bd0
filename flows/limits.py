"""One Dotdigital API budget per account, shared by every worker and flow.

Dotdigital counts calls per minute and imports in flight per *account*; the client's
pacer and ``run_imports`` count per process. When a sync, a backfill and a replay of
one account run on different workers, only a count kept in one place keeps them all
inside the account's limits. Prefect's global concurrency limits are that place (the
server's database), and these are the three limits of an account ``NAME``:

* ``dotsync-calls-NAME``: a rate limit (slots decaying at calls per minute / 60 a
  second). The client takes one slot before every request, retries included
  (``DotdigitalClient(acquire=…)``).
* ``dotsync-contact-imports-NAME`` (25) and ``dotsync-insight-imports-NAME`` (5):
  concurrency limits; one slot is held while an import is in flight
  (``DotdigitalClient(import_slots=…)``, :mod:`dotsync.dotdigital.slots`). Each slot is
  a lease the holder renews while the import runs: if the worker is killed, the
  server's lease repossessor gives the slot back once the lease runs out.

``dotsync accounts sync-limits`` creates and sizes them (:func:`sync_limits`). A run
plugs in those that exist (:func:`outside_limits`); without them, or without a Prefect
server, the client paces alone, as before. The account of a run without
``--account`` is named ``default``.

The plain ``dotsync`` package never imports this module: only the flows do.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from dotsync.config import Settings
from dotsync.dotdigital.slots import ImportKind, Release

logger = logging.getLogger("dotsync.limits")

#: The account name of the configuration without ``[accounts.NAME]`` tables.
DEFAULT_ACCOUNT = "default"
#: Dotdigital's lowest tier of calls per minute (the default when none is configured).
DEFAULT_CALLS_PER_MINUTE = 35
#: Dotdigital's limits on imports in flight per account.
CONTACT_IMPORTS = 25
INSIGHT_IMPORTS = 5
#: How long a slot outlives a holder that stopped renewing it (Prefect's minimum is 60 s).
LEASE_SECONDS = 120.0
#: A process asks for a rate-limit slot no sooner than this many slot intervals after
#: its last ask (see :meth:`SharedLimits._keep_spacing`): 2% is well above the clock
#: and request jitter of a local server, and costs 2% of the budget.
SPACING_MARGIN = 1.02
#: Longest wait for a rate-limit slot before the call fails.
MAX_CALL_WAIT = 900.0


@dataclass(frozen=True)
class Limit:
    """One global concurrency limit as it should be on the server."""

    name: str
    limit: int
    slot_decay_per_second: float = 0.0


@dataclass(frozen=True)
class AccountLimits:
    """The names and sizes of one account's three limits."""

    account: str
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE
    contact_imports: int = CONTACT_IMPORTS
    insight_imports: int = INSIGHT_IMPORTS

    @property
    def calls(self) -> str:
        return f"dotsync-calls-{self.account}"

    @property
    def imports(self) -> dict[ImportKind, str]:
        return {"contacts": f"dotsync-contact-imports-{self.account}",
                "insight": f"dotsync-insight-imports-{self.account}"}

    def wanted(self) -> list[Limit]:
        """The rate limit holds one second's worth of calls (at least one) so the
        account never gets much more than its minute's budget in any minute; the import
        limits hold one slot per import Dotdigital allows in flight."""
        burst = max(1, math.floor(self.calls_per_minute / 60))
        return [Limit(self.calls, burst, self.calls_per_minute / 60.0),
                Limit(self.imports["contacts"], self.contact_imports),
                Limit(self.imports["insight"], self.insight_imports)]

    @classmethod
    def of(cls, settings: Settings) -> AccountLimits:
        return cls(settings.account or DEFAULT_ACCOUNT,
                   settings.calls_per_minute or DEFAULT_CALLS_PER_MINUTE)


@contextmanager
def prefect_client() -> Iterator[Any]:
    """A synchronous client of the Prefect API the environment points at."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        yield client


def sync_limits(client: Any, accounts: list[AccountLimits]) -> list[tuple[str, str]]:
    """Create or resize each account's limits; ``(name, what was done)`` for each:
    ``created``, ``resized (…)`` or ``unchanged``. Idempotent."""
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    done: list[tuple[str, str]] = []
    for account in accounts:
        for want in account.wanted():
            try:
                have = client.read_global_concurrency_limit_by_name(want.name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=want.name, limit=want.limit, active=True,
                    slot_decay_per_second=want.slot_decay_per_second))
                done.append((want.name, f"created: {_describe(want)}"))
                continue
            if (have.limit, float(have.slot_decay_per_second or 0.0), have.active) == (
                    want.limit, want.slot_decay_per_second, True):
                done.append((want.name, f"unchanged: {_describe(want)}"))
                continue
            client.update_global_concurrency_limit(want.name, GlobalConcurrencyLimitUpdate(
                limit=want.limit, active=True,
                slot_decay_per_second=want.slot_decay_per_second))
            done.append((want.name, f"resized: {_describe(want)} (was {have.limit}"
                         f"{_decay(float(have.slot_decay_per_second or 0.0))})"))
    return done


def _decay(per_second: float) -> str:
    return f", {per_second * 60:g} calls/min" if per_second else ""


def _describe(limit: Limit) -> str:
    if limit.slot_decay_per_second:
        return f"{limit.slot_decay_per_second * 60:g} calls/min, burst {limit.limit}"
    return f"{limit.limit} in flight"


class SharedLimits:
    """The client's ``acquire`` and ``import_slots`` hooks over one account's limits.

    One synchronous Prefect client serves both; a background thread renews the leases
    of the import slots held (every third of :data:`LEASE_SECONDS`), so a slot held
    for an hour-long import stays held, and one held by a killed worker comes back.
    """

    def __init__(self, client: Any, calls: str | None, imports: dict[ImportKind, str],
                 *, lease_seconds: float = LEASE_SECONDS, spacing: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 owns_client: bool = False) -> None:
        self._client = client
        self._spacing = spacing
        self._clock = clock
        self._next_at = 0.0
        self._owns_client = owns_client
        self._calls = calls
        self._imports = imports
        self._lease_seconds = lease_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._leases: set[UUID] = set()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.calls_waited = 0.0  # seconds spent waiting for the rate limit
        self.refused = 0  # asks the server refused (it said how long to wait)
        self.asks = 0  # asks made (granted or refused)
        self.ask_seconds = 0.0  # time from each ask to its answer, summed
        self.spaced_seconds = 0.0  # time spent keeping the asks apart

    # -- acquire: one rate-limit slot per request
    def acquire(self, operation: str) -> None:
        """Wait for a slot of the account's rate limit (as Prefect's ``rate_limit``)."""
        if self._calls is None:
            return
        self._keep_spacing()
        deadline = time.monotonic() + MAX_CALL_WAIT
        while True:
            try:
                with self._lock:
                    asked = self._clock()
                    self.asks += 1
                    try:
                        self._client.increment_concurrency_slots(
                            names=[self._calls], slots=1, mode="rate_limit")
                    finally:
                        answered = self._clock()
                        self.ask_seconds += answered - asked
                    # The server stamped the limit before it answered: the next ask
                    # waits a whole interval from here, however slow this answer was.
                    self._next_at = max(self._next_at, answered + self._spacing)
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    raise
                wait = float(exc.response.headers.get("Retry-After", 1.0))
                with self._lock:
                    self.refused += 1
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"{operation}: no slot of {self._calls} within "
                                   f"{MAX_CALL_WAIT:.0f} s")
            self.calls_waited += wait
            self._sleep(wait)

    def _keep_spacing(self) -> None:
        """Ask the server no sooner than one slot's decay after this process's last ask.

        Prefect's rate limit frees a slot only once a whole slot has decayed since the
        limit's row last changed, and a refused ask changes the row too (it counts the
        refusal): an ask a few milliseconds early is refused, restarts the decay and is
        told to wait twice the interval, jittered. Measured on 20 accounts at 35 calls a
        minute, asking as soon as the client's own pacer allowed gave each run 22 calls a
        minute. Spacing this process's asks a little over the interval apart, counted from
        the last answer (the server stamps the limit before it answers), keeps a run
        alone on its account from ever being refused; runs sharing an account still meet
        refusals, and then wait as the server says.
        """
        if not self._spacing:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_at)
            self._next_at = slot + self._spacing
            self.spaced_seconds += slot - now
        if slot > now:
            self._sleep(slot - now)

    # -- import_slots: one leased slot per import in flight
    def try_take(self, kind: ImportKind) -> Release | None:
        name = self._imports.get(kind)
        if name is None:
            return _nothing
        try:
            with self._lock:
                response = self._client.increment_concurrency_slots_with_lease(
                    names=[name], slots=1, mode="concurrency",
                    lease_duration=self._lease_seconds)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 423:
                return None
            raise
        body = response.json()
        if not body.get("limits"):  # deleted since the run started: nothing to hold
            return _nothing
        lease = UUID(str(body["lease_id"]))
        with self._lock:
            self._leases.add(lease)
        self._start_renewer()
        return lambda: self._release(lease)

    def _release(self, lease: UUID) -> None:
        with self._lock:
            if lease not in self._leases:
                return
            self._leases.discard(lease)
            try:
                self._client.release_concurrency_slots_with_lease(lease_id=lease)
            except Exception:  # the lease runs out on its own
                logger.warning("could not hand an import slot back; it frees when its "
                               "lease runs out", exc_info=True)

    def _start_renewer(self) -> None:
        with self._lock:
            if self._renewer is not None:
                return
            self._renewer = threading.Thread(target=self._renew, name="dotsync-slot-leases",
                                             daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            with self._lock:
                for lease in list(self._leases):
                    try:
                        self._client.renew_concurrency_lease(
                            lease_id=lease, lease_duration=self._lease_seconds)
                    except Exception:
                        logger.warning("could not renew an import slot's lease",
                                       exc_info=True)

    def held(self) -> int:
        with self._lock:
            return len(self._leases)

    def close(self) -> None:
        """Hand back every slot still held and stop renewing (once; again is a no-op)."""
        if self._stop.is_set():
            return
        if self._calls is not None and self.asks:
            # Each call waits for its ask's answer on top of the spacing: a slow Prefect
            # server shows here as a long average, refusals as contention for the account.
            logger.info("shared rate limit %s: %d asks, answered in %.0f ms on average; "
                        "%d refused, %.1f s waited for a slot, %.1f s spent spacing asks",
                        self._calls, self.asks, 1000 * self.ask_seconds / self.asks,
                        self.refused, self.calls_waited, self.spaced_seconds)
        for lease in list(self._leases):
            self._release(lease)
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._owns_client:
            _close(self._client)


def _nothing() -> None:
    return None


def outside_limits(settings: Settings, client: Any | None = None
                   ) -> tuple[dict[str, Any], SharedLimits | None, str]:
    """The client overrides (``acquire``, ``import_slots``) for ``settings``' account,
    the :class:`SharedLimits` behind them (to close), and a line saying what was found.

    Only limits that exist are used: a server without them (``sync-limits`` not run)
    or no server at all leaves the client pacing alone, as before.
    """
    from prefect.exceptions import ObjectNotFound

    account = AccountLimits.of(settings)
    own = client is None
    try:
        if own:
            from prefect.client.orchestration import get_client

            client = get_client(sync_client=True)
            client.__enter__()
        found: dict[str, bool] = {}
        decay = 0.0
        for name in [account.calls, *account.imports.values()]:
            try:
                limit = client.read_global_concurrency_limit_by_name(name)
                found[name] = bool(limit.active)
                if name == account.calls:
                    decay = float(limit.slot_decay_per_second or 0.0)
            except ObjectNotFound:
                found[name] = False
    except Exception as exc:  # no server reachable: pace alone
        if own and client is not None:
            _close(client)
        return {}, None, (f"no shared API budget for account {account.account!r} "
                          f"(Prefect API not reachable: {type(exc).__name__})")
    if not any(found.values()):
        if own:
            _close(client)
        return {}, None, (f"no shared API budget for account {account.account!r}: run "
                          "`dotsync accounts sync-limits` to create its limits")
    shared = SharedLimits(client, account.calls if found[account.calls] else None,
                          {k: n for k, n in account.imports.items() if found[n]},
                          spacing=SPACING_MARGIN / decay if decay > 0 else 0.0,
                          owns_client=own)
    overrides: dict[str, Any] = {"import_slots": shared}
    if found[account.calls]:
        overrides["acquire"] = shared.acquire
    names = ", ".join(n for n, ok in found.items() if ok)
    return overrides, shared, f"shared API budget for account {account.account!r}: {names}"


def _close(client: Any) -> None:
    try:
        client.__exit__(None, None, None)
    except Exception:
        logger.debug("closing the Prefect client failed", exc_info=True)
