"""What the checks share during one preflight: settings, store, client, and what was
already read (staged data once per entity, the campaign listing, the collections).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from dotsync.config import Settings
from dotsync.dotdigital import (
    AccountInfo,
    Campaign,
    DotdigitalClient,
    DotdigitalError,
    InsightCollection,
    NotFoundError,
)
from dotsync.preflight.certificates import CertificateFacts
from dotsync.preflight.data_fields import FieldFacts
from dotsync.preflight.results import _first_line
from dotsync.preflight.staged import _STAGED_COLUMNS, StoreUnreadable, Tally, _clean, _hashes, tally
from dotsync.store import Store


class _Campaigns:
    """Campaign look-ups: by id one call each, or one paged listing shared by every check."""

    def __init__(self, client: DotdigitalClient) -> None:
        self._client = client
        self._all: list[Campaign] | None = None

    def all(self) -> list[Campaign]:
        if self._all is None:
            self._all = self._client.list_campaigns()
        return self._all

    def by_id(self, campaign_id: int) -> Campaign | None:
        if self._all is not None:
            return next((c for c in self._all if c.id == campaign_id), None)
        try:
            return self._client.get_campaign(campaign_id)
        except NotFoundError:
            return None


@dataclass
class _Context:
    settings: Settings
    store: Store | None
    client: DotdigitalClient | None
    chunk_rows: int
    configured_endpoint: str | None = None
    account: AccountInfo | None = None
    account_error: DotdigitalError | None = None
    api_blocked: str | None = "the credentials check did not run"
    #: Only the staged records the next sync will read (changed since its mark, or to
    #: retry), not every row: what a scheduled run checks (see :func:`run_preflight`).
    changed_only: bool = False
    #: A run started by a Prefect deployment, which any worker host may pick up.
    deployed: bool = False
    #: Whether the check running now read staged records (its detail then says which).
    read_staged: bool = False
    _read_cache: dict[str, Any] = field(default_factory=dict)
    _campaigns: _Campaigns | None = None
    _collections: list[InsightCollection] | DotdigitalError | None = None

    def _frames(self, entity: str) -> Iterator[pd.DataFrame]:
        """``entity``'s staged rows in chunks: all of them, or (``changed_only``) those
        the next sync reads, through the change stamps' indexes."""
        assert self.store is not None
        self.read_staged = True
        if self.changed_only:
            from dotsync.store.changes import ChangeFeed

            return ChangeFeed(self.store.engine).since_mark(entity, self.chunk_rows)
        return self.store.iter_staged(entity, chunk_rows=self.chunk_rows)

    def _read(self, entity: str, reduce: Callable[[Iterator[pd.DataFrame]], Any]) -> Any:
        """``reduce`` over ``entity``'s staged rows in chunks, once; StoreUnreadable if not."""
        if entity in self._read_cache:
            self.read_staged = True
        else:
            if self.store is None:
                self._read_cache[entity] = StoreUnreadable("no staging store was given")
            else:
                try:
                    frames = self._frames(entity)
                    self._read_cache[entity] = reduce(frames)
                except Exception as exc:  # any database error: report, don't crash
                    self._read_cache[entity] = StoreUnreadable(
                        f"could not read staged {entity}: {type(exc).__name__}: "
                        f"{_first_line(str(exc))}"
                    )
        found = self._read_cache[entity]
        if isinstance(found, StoreUnreadable):
            raise StoreUnreadable(str(found))
        return found

    def staged(self, entity: str) -> Tally:
        """Distinct values of the ``orders``/``customers`` columns the checks need."""
        if entity == "customers":
            return self.customers()[0]
        return self._read(entity, lambda frames: tally(frames, _STAGED_COLUMNS[entity]))

    def customers(self) -> tuple[Tally, FieldFacts]:
        """One streamed pass over customers: the currency tally and the data-field facts."""
        def reduce(frames: Iterator[pd.DataFrame]) -> tuple[Tally, FieldFacts]:
            facts = FieldFacts()

            def seen(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
                for frame in parts:
                    facts.add(frame)
                    yield frame

            return tally(seen(frames), _STAGED_COLUMNS["customers"]), facts

        return self._read("customers", reduce)

    def collections(self) -> list[InsightCollection]:
        """The account's insight collections, listed once (DotdigitalError when not)."""
        if self._collections is None:
            assert self.client is not None
            try:
                self._collections = self.client.list_insight_collections()
            except DotdigitalError as exc:
                self._collections = exc
        if isinstance(self._collections, DotdigitalError):
            raise self._collections
        return self._collections

    def certificates(self) -> CertificateFacts:
        def reduce(frames: Iterator[pd.DataFrame]) -> CertificateFacts:
            facts = CertificateFacts()
            for frame in frames:
                facts.add(frame)
            return facts

        return self._read("certificates", reduce)

    def certificate_values(self, column: str, case: Literal["lower", "upper", None],
                           wanted: Iterable[int]) -> dict[int, str]:
        """The text behind a few hashes of a certificate column (a second, streamed pass)."""
        wanted = {int(h) for h in wanted}
        found: dict[int, str] = {}
        if self.store is None or not wanted:
            return found
        frames = self._frames("certificates")
        with contextlib.closing(frames):
            for frame in frames:
                values = _clean(frame[column], case)
                values = values[values != ""]
                hashes = _hashes(values)
                hit = np.isin(hashes, np.fromiter(wanted, dtype=hashes.dtype))
                for h, value in zip(hashes[hit], values[hit], strict=True):
                    found.setdefault(int(h), str(value))
                if len(found) == len(wanted):
                    break
        return found

    def campaigns(self) -> _Campaigns:
        assert self.client is not None
        if self._campaigns is None:
            self._campaigns = _Campaigns(self.client)
        return self._campaigns
