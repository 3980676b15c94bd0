"""Go-live checks (``dotsync preflight``): is this setup safe to send real e-mail with?

The same checks serve the command line and the first task of a deployed run
(:meth:`PreflightResult.raise_if_failed`), so a run with wrong credentials, an unusable
campaign or placeholder data fails *before* it writes anything to Dotdigital. Plain Python,
no Prefect; the only API calls are reads (``account-info``, campaigns).

Why these checks: the costly go-live mistakes are the silent ones. A paused certificate
campaign refuses every send; a wrong region answers 403 on every call; and connectors that
ship placeholders (a fixed test recipient, an example campaign id, one sample link, ``USD``
everywhere) send real customers wrong e-mails that cannot be recalled (DOTDIGITAL.md, "What
other connectors teach"). Each check is a small function returning one :class:`Check`;
:func:`run_preflight` runs them in a fixed order, never raises, and reports a check that
could not run (because an earlier one failed, or the store could not be read) as
``skipped`` with the reason.

Staged data is read as text with :meth:`Store.iter_staged` in chunks, each reduced at once
(vectorised) to counts of distinct values; the nearly-unique certificate recipients and
links are counted by 64-bit hash. Memory does not grow with the row count of orders and
customers, and only by 8 bytes per certificate for certificates.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pycountry
import sqlalchemy as sa

from dotsync.config import Settings
from dotsync.dotdigital import (
    AccountInfo,
    AuthenticationError,
    Campaign,
    DataField,
    DotdigitalClient,
    DotdigitalError,
    HostNotAllowedError,
    InsightCollection,
    NotFoundError,
    RateLimitedError,
    TransportError,
    check_endpoint,
)
from dotsync.masking import mask_email
from dotsync.store import Ledger, Store

__all__ = [
    "CHECK_NAMES",
    "EXAMPLE_CAMPAIGN_IDS",
    "Check",
    "PreflightFailed",
    "PreflightResult",
    "Severity",
    "run_preflight",
]

Severity = Literal["error", "warning"]
Status = Literal["pass", "fail", "warn", "accepted", "skipped"]

#: The checks in the order they run (and are shown). Names are stable: scripts rely on them.
CHECK_NAMES: tuple[str, ...] = (
    "credentials",
    "region",
    "certificate_campaign",
    "order_campaign",
    "data_fields",
    "address_book",
    "insight_collection",
    "send_history",
    "example_campaign_ids",
    "certificate_recipients",
    "certificate_links",
    "order_currencies",
)

#: Campaign ids that are example values, never a real account's campaign: the sequences and
#: repeated digits people type into templates, and the ids in Dotdigital's own API examples
#: (transactional-email spec: 1043, 456; campaigns spec: 1, 2, 4, 248, 12345).
EXAMPLE_CAMPAIGN_IDS: frozenset[int] = frozenset(
    {0, 1, 2, 4, 12, 123, 248, 456, 999, 1043, 1234, 9999, 12345, 99999, 123456, 999999,
     1234567}
)

#: Addresses that only ever appear as placeholders (RFC 2606 domains with generic names).
KNOWN_TEST_ADDRESSES: frozenset[str] = frozenset(
    {
        "test@example.com", "test@example.org", "test@example.net", "test@test.com",
        "email@example.com", "example@example.com", "user@example.com", "name@example.com",
        "you@example.com", "someone@example.com", "customer@example.com",
        "recipient@example.com", "noreply@example.com", "john.doe@example.com",
        "jane.doe@example.com", "john@example.com", "jane@example.com",
    }
)
#: Domains that can never receive mail (RFC 2606 / RFC 6761).
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|localhost)$|\.(?:example|test|invalid|localhost)$"
)
#: Local parts that mark an address as a test inbox, whatever the domain.
_TEST_LOCAL_PARTS = frozenset(
    {"test", "test1", "testing", "tester", "dummy", "placeholder", "sample", "example",
     "noreply", "no-reply", "donotreply", "do-not-reply"}
)
#: Certificates needed before "nearly all go to one address" means anything, and the share.
RECIPIENT_MIN_CERTIFICATES = 5
RECIPIENT_MAX_SHARE = 0.9
#: Substrings that mark a certificate link as a sample or an unfilled template.
_LINK_PLACEHOLDERS: tuple[str, ...] = (
    "example.com", "example.org", "example.net", "localhost", "127.0.0.1", "{{", "}}",
    "%7b%7b", "placeholder",
)

#: Dotdigital's collection-name rule, from the insight-data spec (``collectionNameParam``):
#: ``^[-A-Za-z_][-A-Za-z0-9_]{1,255}$`` with ``maxLength: 255``; so 2 to 255 characters.
_COLLECTION_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]+$")
COLLECTION_NAME_MAX = 255

#: A customer-country currency needs this share of customers (with a known country) before
#: it counts as a market of its own, so a handful of foreign customers prove nothing.
MARKET_MIN_SHARE = 0.1
MARKET_MIN_CUSTOMERS = 5

CURRENCY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)

_EURO = ("AT BE BG CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK AD MC SM VA ME XK")
_USD = "US PR EC SV TL FM MH PW GU VI AS MP BQ TC VG UM IO"
#: Country -> the currency its shoppers pay in. Deliberately partial: a country missing here
#: implies nothing (pycountry has no such table, and a wrong guess would raise false alarms).
COUNTRY_CURRENCY: dict[str, str] = {
    **dict.fromkeys(_EURO.split(), "EUR"),
    **dict.fromkeys(_USD.split(), "USD"),
    **dict.fromkeys(["GB", "UK", "IM", "JE", "GG"], "GBP"),
    **dict.fromkeys(["CH", "LI"], "CHF"),
    **dict.fromkeys(["DK", "FO", "GL"], "DKK"),
    "CA": "CAD", "AU": "AUD", "NZ": "NZD", "JP": "JPY", "CN": "CNY", "HK": "HKD",
    "SG": "SGD", "SE": "SEK", "NO": "NOK", "PL": "PLN", "CZ": "CZK", "HU": "HUF",
    "RO": "RON", "IS": "ISK", "IN": "INR", "BR": "BRL", "MX": "MXN", "ZA": "ZAR",
    "AE": "AED", "SA": "SAR", "IL": "ILS", "TR": "TRY", "KR": "KRW", "TW": "TWD",
    "TH": "THB", "MY": "MYR", "ID": "IDR", "PH": "PHP", "AR": "ARS", "CL": "CLP",
    "CO": "COP", "NG": "NGN", "UA": "UAH",
}
# Two-letter codes of common store markets only: "in", "my", "co", "io"… are words or
# domain endings far more often than India, Malaysia, Colombia or a USD territory.
_STORE_CODES = ("US CA AU NZ IE FR DE ES IT NL BE AT PT FI GR SE NO DK PL CZ HU CH JP CN HK SG"
                " MX BR ZA AE")
#: Store-name tokens that name a market: ``uk-web``, ``web_de``, ``shop.eu``…
_STORE_MARKETS: dict[str, str] = {
    "uk": "GBP", "gb": "GBP", "gbr": "GBP", "eu": "EUR", "euro": "EUR", "europe": "EUR",
    "usa": "USD", "deu": "EUR", "fra": "EUR", "esp": "EUR", "ita": "EUR", "nld": "EUR",
    "irl": "EUR", "aus": "AUD", "nzl": "NZD", "che": "CHF", "swe": "SEK", "dnk": "DKK",
    "pol": "PLN", "jpn": "JPY",
    **{code.lower(): COUNTRY_CURRENCY[code] for code in _STORE_CODES.split()},
}

_CAMPAIGN_LOOKUPS_BEFORE_LISTING = 10


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Check:
    """One line of the checklist.

    ``ok`` is whether the check passed. A finding is an *error* when it is certain (wrong
    credentials, a missing campaign or data field, a placeholder) and a *warning* when it
    is a heuristic (currencies against countries, example domains): a warning is shown but
    never fails the preflight, and one named in ``DOTSYNC_PREFLIGHT_ACCEPT`` is shown as
    ``accepted`` (the operator looked and agreed). ``skipped`` marks a check that could not
    run (``detail`` says why); it is never ``ok``, so an unverified setup never passes.
    """

    name: str
    ok: bool
    severity: Severity = "error"
    detail: str = ""
    fix: str = ""
    skipped: bool = False
    accepted: bool = False

    @property
    def status(self) -> Status:
        if self.ok:
            return "pass"
        if self.skipped:
            return "skipped"
        if self.severity == "error":
            return "fail"
        return "accepted" if self.accepted else "warn"

    @property
    def blocking(self) -> bool:
        """Whether this check stops go-live: failed or unverified at error severity."""
        return not self.ok and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "severity": self.severity,
            "detail": self.detail,
            "fix": self.fix,
        }


class PreflightFailed(RuntimeError):
    """Raised by :meth:`PreflightResult.raise_if_failed`: the run must not write anything."""

    def __init__(self, result: PreflightResult) -> None:
        self.result = result
        lines = [f"{c.name}: {c.detail}" for c in result.checks if c.blocking]
        super().__init__("preflight failed: " + "; ".join(lines))


_MARKS: dict[Status, str] = {"pass": "✔", "fail": "✘", "warn": "⚠", "accepted": "≈",
                             "skipped": "–"}


@dataclass(frozen=True)
class PreflightResult:
    """All checks, in :data:`CHECK_NAMES` order."""

    checks: list[Check] = field(default_factory=list)
    #: Names in ``DOTSYNC_PREFLIGHT_ACCEPT`` that are no check's (a typo accepts nothing).
    unknown_accepted: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no error-severity check failed or was skipped (warnings are allowed)."""
        return not any(c.blocking for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "warn": 0, "accepted": 0, "skipped": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "summary": self.counts(),
                               "checks": [c.as_dict() for c in self.checks]}
        if self.unknown_accepted:
            out["unknown_accepted"] = list(self.unknown_accepted)
        return out

    def render(self) -> str:
        """The checklist a person reads: one ✔/✘/⚠/– line per check, then what to do."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = ["dotsync preflight"]
        n = self.counts()
        for c in self.checks:
            lines.append(f"{_MARKS[c.status]} {c.name.ljust(width)}  {c.detail}".rstrip())
            if c.status == "accepted":
                lines.append(f"  {' ' * width}  (warning accepted by DOTSYNC_PREFLIGHT_ACCEPT)")
            elif c.status != "pass" and c.fix:
                lines.append(f"  {' ' * width}  → {c.fix}")
        if self.unknown_accepted:
            lines.append("⚠ DOTSYNC_PREFLIGHT_ACCEPT names no check: "
                         + ", ".join(self.unknown_accepted)
                         + f" (check names: {', '.join(CHECK_NAMES)})")
        if self.ok:
            verdict = "ready to go live"
        elif n["fail"]:
            verdict = "NOT ready: fix the ✘ lines first"
        else:
            verdict = "NOT ready: the – checks could not run"
        accepted = f", {n['accepted']} accepted" if n["accepted"] else ""
        lines.append(
            f"{verdict} ({n['pass']} passed, {n['fail']} failed, {n['warn']} warnings"
            f"{accepted}, {n['skipped']} skipped)"
        )
        return "\n".join(lines)

    def raise_if_failed(self) -> PreflightResult:
        """For a deployed run's first task: stop before any write when a check failed."""
        if not self.ok:
            raise PreflightFailed(self)
        return self


# ------------------------------------------------------------------------------ staged data
class StoreUnreadable(RuntimeError):
    """The staging store could not be read; the checks that need it are skipped."""


@dataclass(frozen=True)
class Tally:
    """Row count and counts of distinct (normalised, ``""`` = missing) values per column."""

    rows: int
    values: Mapping[str, pd.Series]

    def __getitem__(self, column: str) -> pd.Series:
        return self.values[column]


def _clean(series: pd.Series, case: Literal["lower", "upper", None] = None) -> pd.Series:
    text = series.astype("string").str.strip()
    if case == "lower":
        text = text.str.lower()
    elif case == "upper":
        text = text.str.upper()
    return text.fillna("")


def tally(frames: Iterable[pd.DataFrame],
          columns: Mapping[str, Literal["lower", "upper", None]]) -> Tally:
    """Distinct-value counts of ``columns`` over a stream of frames (vectorised per frame).

    Only the running counts are kept between frames, so memory grows with the number of
    distinct values, not with the number of rows.
    """
    rows = 0
    counts = {c: pd.Series(dtype="int64") for c in columns}
    for frame in frames:
        rows += len(frame)
        for column, case in columns.items():
            part = _clean(frame[column], case).value_counts()
            counts[column] = counts[column].add(part, fill_value=0)
    return Tally(rows, {c: s.astype("int64").sort_values(ascending=False, kind="stable")
                        for c, s in counts.items()})


_STAGED_COLUMNS: dict[str, dict[str, Literal["lower", "upper", None]]] = {
    "orders": {"currency": "upper", "store": "lower"},
    "customers": {"country": "upper", "store": "lower"},
}


def _hashes(values: pd.Series) -> np.ndarray:
    """64-bit hashes of text values: what is kept of high-cardinality columns."""
    return pd.util.hash_pandas_object(values, index=False).to_numpy()


def _split_addresses(addresses: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(local part, domain) of each address; an address without ``@`` is all domain.

    ``str.extract`` keeps its two columns when no row is left (``str.rpartition`` gives a
    frame with no columns then, which made every certificate check fail with ``KeyError``
    when all certificates went to a known test address).
    """
    parts = addresses.str.extract(r"^(.*)@([^@]*)$")
    return parts[0].fillna(""), parts[1].fillna(addresses)


def _add_counts(total: pd.Series, part: pd.Series) -> pd.Series:
    part = part.astype("int64")
    return part if total.empty else total.add(part, fill_value=0).astype("int64")


@dataclass
class CertificateFacts:
    """What the certificate checks need, reduced chunk by chunk.

    Recipients and links are nearly all distinct, so only their 64-bit hashes are counted
    (8 bytes each instead of the text); everything else is a count or a short list of
    examples. The text of the few values a message shows is read back in a second pass.
    """

    rows: int = 0
    campaign_ids: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    recipients: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    test_addresses: Counter[str] = field(default_factory=Counter)
    reserved_domains: Counter[str] = field(default_factory=Counter)
    test_inboxes: Counter[str] = field(default_factory=Counter)
    links: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    missing_links: int = 0
    insecure_links: int = 0
    insecure_origins: dict[str, None] = field(default_factory=dict)
    sample_links: int = 0
    sample_markers: dict[str, None] = field(default_factory=dict)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        ids = _clean(frame["campaign_id"]).value_counts()
        self.campaign_ids = _add_counts(self.campaign_ids, ids)

        rec = _clean(frame["recipient_email"], "lower")
        rec = rec[rec != ""]
        self.recipients = _add_counts(self.recipients, pd.Series(_hashes(rec)).value_counts())
        known = rec.isin(KNOWN_TEST_ADDRESSES).to_numpy(dtype=bool)
        self.test_addresses.update(rec[known].value_counts().to_dict())
        rest = rec[~known]
        local, domain = _split_addresses(rest)
        reserved = domain.str.contains(_RESERVED_DOMAIN).to_numpy(dtype=bool)
        self.reserved_domains.update(domain[reserved].value_counts().to_dict())
        testish = local.isin(_TEST_LOCAL_PARTS).to_numpy(dtype=bool)
        self.test_inboxes.update(rest[testish].value_counts().to_dict())

        link = _clean(frame["link"])
        self.missing_links += int((link == "").sum())
        link = link[link != ""]
        self.links = _add_counts(self.links, pd.Series(_hashes(link)).value_counts())
        https = link.str.match(r"(?i)^https://[^/?#\s]+").to_numpy(dtype=bool)
        self.insecure_links += int((~https).sum())
        for value in link[~https].head(50):
            if len(self.insecure_origins) < 5:
                self.insecure_origins[_link_origin(value)] = None
        lowered = link.str.lower()
        sample = np.zeros(len(link), dtype=bool)
        for marker in _LINK_PLACEHOLDERS:
            hit = lowered.str.contains(marker, regex=False).to_numpy(dtype=bool)
            if hit.any():
                self.sample_markers[marker] = None
                sample |= hit
        self.sample_links += int(sample.sum())


#: Data field names dotsync can send (SPEC §1); other names are the contracts' business.
_DATA_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
#: Distinct ``data_fields`` keys followed; past this a file is broken, not a schema.
MAX_DATA_FIELD_KEYS = 500
_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_DATE_TEXT = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?\s*$")
#: Which kinds of staged value each Dotdigital data field type takes.
_TYPE_TAKES: dict[str, frozenset[str]] = {
    "String": frozenset({"text", "number", "numeric text", "date text", "boolean",
                         "boolean text"}),
    "Numeric": frozenset({"number", "numeric text"}),
    "Date": frozenset({"date text"}),
    "Boolean": frozenset({"boolean", "boolean text"}),
}
#: The type a field must be created with for values of one kind.
_KIND_TYPE = {"number": "Numeric", "numeric text": "Numeric", "date text": "Date",
              "boolean": "Boolean", "boolean text": "Boolean"}


def _value_kind(value: Any) -> str | None:
    """What a staged data-field value is, as far as Dotdigital's types care."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        if _NUMERIC_TEXT.match(value):
            return "numeric text"
        if _DATE_TEXT.match(value):
            return "date text"
        if value.strip().lower() in ("true", "false"):
            return "boolean text"
        return "text"
    return None  # an object or a list: the contracts refuse it, it is never sent


@dataclass
class FieldFacts:
    """The data fields staged customers would send, reduced chunk by chunk.

    Per field: how many customers carry it and the kinds of their values (counts, never
    the values: a data field may hold anything personal). ``FIRSTNAME``/``LASTNAME``,
    ``STORE`` and ``LOCALE`` come from their columns, the rest from ``data_fields`` JSON.
    """

    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # upper-cased -> as staged
    dropped_keys: int = 0

    def _note(self, name: str, kind: str, n: int = 1) -> None:
        key = name.upper()
        if key not in self.kinds:
            if len(self.kinds) >= MAX_DATA_FIELD_KEYS:
                self.dropped_keys += n
                return
            self.kinds[key] = Counter()
            self.names[key] = name
        self.kinds[key][kind] += n

    def add(self, frame: pd.DataFrame) -> None:
        if "deleted_at" in frame:
            frame = frame[frame["deleted_at"].isna()]  # erased customers are never sent
        for column, name in (("first_name", "FIRSTNAME"), ("last_name", "LASTNAME"),
                             ("store", "STORE"), ("locale", "LOCALE")):
            present = int((_clean(frame[column]) != "").sum())
            if present:
                self._note(name, "text", present)
        for raw in frame["data_fields"].dropna():
            try:
                parsed = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            except orjson.JSONDecodeError:
                continue  # the contracts reject it with its reason
            if not isinstance(parsed, dict):
                continue
            for name, value in parsed.items():
                kind = _value_kind(value)
                if kind is not None and isinstance(name, str) and _DATA_FIELD_NAME.match(name):
                    self._note(name, kind)


# ------------------------------------------------------------------------------ context
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


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _skipped(name: str, reason: str, fix: str = "") -> Check:
    return Check(name, ok=False, severity="error", detail=f"skipped: {reason}", fix=fix,
                 skipped=True)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _listing(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


_STORE_FIX = "check DOTSYNC_DATABASE_URL and that the staging store is reachable"


# ------------------------------------------------------------------------------ API checks
def check_credentials(ctx: _Context) -> Check:
    """``account_info`` answers with the configured API user and password."""
    name = "credentials"
    client = ctx.client
    if client is None:
        ctx.api_blocked = "no Dotdigital client"
        return _skipped(name, "no Dotdigital client was configured",
                        "set DOTDIGITAL_API_USER and DOTDIGITAL_API_PASSWORD")
    ctx.configured_endpoint = client.endpoint
    user = mask_email(ctx.settings.api_user) or "(unset)"
    where = ctx.configured_endpoint or "the r1 discovery endpoint"
    try:
        ctx.account = client.account_info()
    except AuthenticationError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "the credentials check failed"
        fix = ("check DOTDIGITAL_API_USER and DOTDIGITAL_API_PASSWORD: an API user"
               " (apiuser-…@apiconnector.com) and that API user's own password, not a"
               " login's")
        if ctx.settings.api_user and not ctx.settings.api_user.lower().endswith(
                "@apiconnector.com"):
            fix += f"; {user} is not an API user address (they end in @apiconnector.com)"
        if exc.status == 403 and ctx.configured_endpoint:
            fix += ("; a 403 also means DOTDIGITAL_API_ENDPOINT is another region's:"
                    " unset it so the region is discovered")
        return Check(name, ok=False, detail=f"Dotdigital refused API user {user} at {where}"
                     f" (HTTP {exc.status})", fix=fix)
    except HostNotAllowedError as exc:
        # Raised after the discovery call answered 200: the credentials were accepted.
        ctx.account_error = exc
        ctx.api_blocked = "the account's endpoint is not allowed"
        return Check(name, ok=True, detail=f"API user {user} accepted by the discovery"
                     " endpoint")
    except TransportError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "Dotdigital could not be reached"
        return _skipped(name, f"{where} could not be reached, so the credentials were not"
                        " checked", "see the region check")
    except RateLimitedError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "Dotdigital rate-limited the credentials check"
        return Check(name, ok=False, detail=f"could not verify: rate limited ({exc.status})",
                     fix="the account's API call allowance is spent; run preflight again"
                     " after the reset")
    except DotdigitalError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "the credentials check failed"
        return Check(name, ok=False, detail=f"could not verify the credentials: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    ctx.api_blocked = None
    account = f" (account {ctx.account.id})" if ctx.account.id is not None else ""
    return Check(name, ok=True, detail=f"API user {user} accepted{account}")


def _same_endpoint(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def check_region(ctx: _Context) -> Check:
    """The regional endpoint in use is the account's own (``ApiEndpoint``) and answers."""
    name = "region"
    client = ctx.client
    if client is None:
        return _skipped(name, "no Dotdigital client was configured")
    error = ctx.account_error
    where = ctx.configured_endpoint or "the r1 discovery endpoint (https://r1-api.dotdigital.com)"
    region_fix = ("set DOTDIGITAL_API_ENDPOINT to your region (https://r1-api.dotdigital.com"
                  " Europe, r2- North America, r3- Asia Pacific) or unset it to discover it;"
                  " check proxies and firewalls")
    if isinstance(error, TransportError):
        return Check(name, ok=False, detail=f"{where} could not be reached: {error}",
                     fix=region_fix)
    if isinstance(error, HostNotAllowedError):
        return Check(name, ok=False, detail=f"the account's ApiEndpoint was refused: {error}",
                     fix="credentials are only ever sent to https hosts under dotdigital.com or"
                     " dotmailer.com; set DOTDIGITAL_API_ENDPOINT to your region's")
    if error is not None or ctx.account is None:
        ctx.api_blocked = ctx.api_blocked or "the credentials check failed"
        return _skipped(name, "the account's region is only reported to valid credentials",
                        "fix the credentials first")
    reported = ctx.account.api_endpoint
    if ctx.configured_endpoint is None:
        endpoint = client.endpoint or "?"
        try:
            client.account_info()  # the first call after discovery goes to the region
        except TransportError as exc:
            ctx.api_blocked = "the account's regional endpoint could not be reached"
            return Check(name, ok=False, detail=f"discovered {endpoint}, which could not be"
                         f" reached: {exc}", fix=region_fix)
        except DotdigitalError as exc:
            ctx.api_blocked = "the account's regional endpoint refused the credentials"
            return Check(name, ok=False, detail=f"discovered {endpoint}, which answered: {exc}",
                         fix=region_fix)
        return Check(name, ok=True, detail=f"{endpoint} (discovered through ApiEndpoint;"
                     " reachable)")
    configured = ctx.configured_endpoint
    if not reported:
        return Check(name, ok=True, detail=f"{configured} (configured; reachable; the account"
                     " did not report its ApiEndpoint)")
    try:
        reported = check_endpoint(reported, what="the account's ApiEndpoint")
    except HostNotAllowedError as exc:
        return Check(name, ok=False, detail=str(exc),
                     fix="credentials are only ever sent to https hosts under dotdigital.com or"
                     " dotmailer.com")
    if not _same_endpoint(configured, reported):
        return Check(name, ok=False, severity="warning",
                     detail=f"DOTDIGITAL_API_ENDPOINT is {configured}, but the account reports"
                     f" {reported}",
                     fix=f"set DOTDIGITAL_API_ENDPOINT={reported}, or unset it to discover it")
    return Check(name, ok=True, detail=f"{configured} (configured; matches the account's"
                 " ApiEndpoint; reachable)")


def _parse_campaign_id(text: str) -> int | None:
    """A staged ``campaign_id`` as an integer (``"1001"``, ``"1001.0"``), else None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _status_problem(campaign: Campaign, what: str) -> str | None:
    """Why ``campaign`` cannot take triggered sends, or None when it can."""
    status = campaign.status or "(no status)"
    if status.lower() == "triggered":
        return None
    why = {
        "paused": "Paused: Dotdigital refuses triggered sends until it is resumed",
        "cancelled": "Cancelled: it can never be sent again",
    }.get(status.lower(), f"{status}: only a Triggered campaign can be sent per recipient")
    return f"{what} {campaign.id} {campaign.name!r} is {why}"


def check_certificate_campaign(ctx: _Context) -> Check:
    """Every campaign a certificate would be sent with exists and is Triggered."""
    name = "certificate_campaign"
    setting = ctx.settings.certificate_campaign_id
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    problems: list[str] = []
    uses: dict[int, list[str]] = {}
    if setting is not None:
        uses.setdefault(setting, []).append("DOTSYNC_CERTIFICATE_CAMPAIGN_ID")
    not_numbers: list[str] = []
    for raw, count in certs.campaign_ids.items():
        if raw == "":
            if setting is None:
                problems.append(f"{_plural(count, 'certificate')} have no campaign_id and"
                                " DOTSYNC_CERTIFICATE_CAMPAIGN_ID is not set")
            continue
        parsed = _parse_campaign_id(raw)
        if parsed is None or parsed <= 0:
            not_numbers.append(f"{raw!r} ({_plural(count, 'certificate')})")
        else:
            uses.setdefault(parsed, []).append(_plural(count, "certificate"))
    if not_numbers:
        problems.append(f"campaign_id is not a positive whole number: {_listing(not_numbers)}")
    if not uses and not problems:
        return Check(name, ok=True, detail="no certificates staged and"
                     " DOTSYNC_CERTIFICATE_CAMPAIGN_ID not set: nothing to send")
    checked: list[str] = []
    if ctx.api_blocked is not None or ctx.client is None:
        if not problems:
            return _skipped(name, f"campaigns cannot be looked up: {ctx.api_blocked}",
                            "fix the credentials and region first")
        problems.append(f"campaigns not looked up: {ctx.api_blocked}")
    else:
        book = ctx.campaigns()
        if len(uses) > _CAMPAIGN_LOOKUPS_BEFORE_LISTING:
            book.all()  # one paged listing instead of a call per id
        for campaign_id, used_by in sorted(uses.items()):
            what = f"campaign {campaign_id} (used by {', '.join(used_by)})"
            try:
                campaign = book.by_id(campaign_id)
            except DotdigitalError as exc:
                problems.append(f"{what} could not be looked up: {exc}")
                continue
            if campaign is None:
                problems.append(f"{what} does not exist in this Dotdigital account")
                continue
            problem = _status_problem(campaign, "campaign")
            if problem:
                problems.append(f"{problem} (used by {', '.join(used_by)})")
            else:
                checked.append(f"{campaign.id} {campaign.name!r}")
    if problems:
        return Check(name, ok=False, detail="; ".join(problems),
                     fix="create (or resume) a Triggered campaign for certificates in"
                     " Dotdigital, then set DOTSYNC_CERTIFICATE_CAMPAIGN_ID and the staged"
                     " campaign_id values to its id")
    return Check(name, ok=True, detail=f"Triggered: {_listing(checked)}")


def check_order_campaign(ctx: _Context) -> Check:
    """``DOTSYNC_ORDER_CAMPAIGN`` names exactly one Triggered campaign."""
    name = "order_campaign"
    raw = ctx.settings.order_campaign
    if raw is None or not raw.strip():
        return Check(name, ok=True, detail="DOTSYNC_ORDER_CAMPAIGN not set: no order"
                     " confirmation e-mails are sent")
    wanted = raw.strip()
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"campaigns cannot be looked up: {ctx.api_blocked}",
                        "fix the credentials and region first")
    book = ctx.campaigns()
    fix = ("set DOTSYNC_ORDER_CAMPAIGN to the exact name (or the id) of a Triggered campaign"
           " in Dotdigital")
    try:
        if wanted.isdigit():
            campaign = book.by_id(int(wanted))
            if campaign is None:
                return Check(name, ok=False, fix=fix, detail="DOTSYNC_ORDER_CAMPAIGN is"
                             f" campaign id {wanted}, which does not exist")
            how = f"campaign id {wanted}"
        else:
            campaigns = book.all()
            matches = [c for c in campaigns if c.name == wanted]
            if not matches:
                near = [c for c in campaigns if c.name.strip().casefold() == wanted.casefold()]
                hint = (f"; did you mean {near[0].name!r} (id {near[0].id})?" if near else "")
                return Check(name, ok=False, fix=fix + hint,
                             detail=f"no campaign is named {wanted!r} (searched"
                             f" {_plural(len(campaigns), 'campaign')})")
            if len(matches) > 1:
                found = ", ".join(f"{c.id} ({c.status or 'no status'})" for c in matches)
                return Check(name, ok=False,
                             detail=f"{len(matches)} campaigns are named {wanted!r}: {found}",
                             fix="rename the duplicates in Dotdigital, or set"
                             " DOTSYNC_ORDER_CAMPAIGN to the id of the one to use")
            campaign = matches[0]
            how = f"{wanted!r} (among {_plural(len(campaigns), 'campaign')})"
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"campaigns could not be looked up: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    problem = _status_problem(campaign, "order confirmation campaign")
    if problem:
        return Check(name, ok=False, detail=problem,
                     fix="resume it, or point DOTSYNC_ORDER_CAMPAIGN at a Triggered campaign")
    return Check(name, ok=True, detail=f"{how} → campaign {campaign.id}, Triggered")


def check_data_fields(ctx: _Context) -> Check:
    """Every data field dotsync will send exists in the account with a type its values fit.

    Dotdigital refuses a contact carrying a data field the account does not have, so a
    missing ``STORE`` would hold every contact (and their orders and certificates).
    """
    name = "data_fields"
    try:
        facts = ctx.customers()[1]
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if not facts.kinds:
        return Check(name, ok=True, detail="no staged customer carries a data field")
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"data fields cannot be listed: {ctx.api_blocked}",
                        "fix the credentials and region first")
    try:
        account = {f.key: f for f in ctx.client.list_data_fields()}
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"the account's data fields could not be listed:"
                     f" {exc}", fix="try again; if it persists, check Dotdigital's status page")
    missing: list[str] = []
    to_create: list[str] = []
    clashes: list[str] = []
    for key, kinds in sorted(facts.kinds.items()):
        shown = facts.names[key]
        carried = sum(kinds.values())
        found: DataField | None = account.get(key)
        if found is None:
            missing.append(f"{shown} ({_plural(carried, 'customer')})")
            wanted = {_KIND_TYPE.get(k, "String") for k in kinds}
            to_create.append(f"{key} ({wanted.pop() if len(wanted) == 1 else 'String'})")
            continue
        takes = _TYPE_TAKES.get(found.type or "String", _TYPE_TAKES["String"])
        unfit = {k: n for k, n in kinds.items() if k not in takes}
        if unfit:
            clashes.append(f"{found.name} is {found.type} in Dotdigital, but "
                           + _listing(f"{n:,} staged {'value is' if n == 1 else 'values are'}"
                                      f" {k}" for k, n in sorted(unfit.items())))
    problems = []
    if missing:
        problems.append("missing in Dotdigital: " + _listing(missing, 10))
    if clashes:
        problems.append("; ".join(clashes))
    if facts.dropped_keys:
        problems.append(f"more than {MAX_DATA_FIELD_KEYS} distinct data_fields names staged")
    if problems:
        fix = []
        if to_create:
            fix.append("create " + ", ".join(to_create) + " in Dotdigital (Settings → Data"
                       " fields, or POST /v2/data-fields) before the first run")
        if clashes:
            fix.append("stage values that fit the field's type, or use a field of the right"
                       " type")
        return Check(name, ok=False, detail="; ".join(problems), fix="; ".join(fix))
    return Check(name, ok=True, detail=f"{_plural(len(facts.kinds), 'data field')} sent, each"
                 " in the account with a fitting type: " + _listing(
                     sorted(facts.names[k] for k in facts.kinds), 8))


def check_address_book(ctx: _Context) -> Check:
    """``DOTSYNC_ADDRESS_BOOK_ID``, when set, is a list of this account."""
    name = "address_book"
    book_id = ctx.settings.address_book_id
    if book_id is None:
        return Check(name, ok=True, detail="DOTSYNC_ADDRESS_BOOK_ID not set: contacts are"
                     " added to no list")
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"lists cannot be looked up: {ctx.api_blocked}",
                        "fix the credentials and region first")
    fix = ("set DOTSYNC_ADDRESS_BOOK_ID to the id of one of your lists (Dotdigital shows it"
           " in the list's URL), or unset it")
    try:
        book = ctx.client.get_address_book(book_id)
    except NotFoundError:
        return Check(name, ok=False, fix=fix, detail=f"DOTSYNC_ADDRESS_BOOK_ID {book_id} is"
                     " not a list of this account")
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"list {book_id} could not be looked up: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    return Check(name, ok=True, detail=f"list {book.id} {book.name!r}")


def _collection_summary(ctx: _Context) -> InsightCollection | str | None:
    """The configured collection as the account lists it, None when absent, or why the
    account could not be asked."""
    if ctx.api_blocked is not None or ctx.client is None:
        return f"collections cannot be listed: {ctx.api_blocked}"
    try:
        collections = ctx.collections()
    except DotdigitalError as exc:
        return f"collections could not be listed: {exc}"
    wanted = ctx.settings.insight_collection
    return next((c for c in collections if c.name == wanted), None)


def _ledger_records_a_send(store: Store) -> bool:
    """Whether the ledger holds anything sent: a synced order, a sent (or in-doubt)
    certificate or confirmation. One indexed ``EXISTS``, not a count of the ledger."""
    t = Ledger(store).table
    query = sa.select(sa.exists().where(
        t.c.entity.in_(["orders", "certificates", "confirmations"]),
        t.c.state.in_(["synced", "in_doubt"])))
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def check_send_history(ctx: _Context) -> Check:
    """The ledger is this account's history: not empty while Dotdigital holds orders.

    Exactly-once sends rest on the ledger. A ledger that records nothing sent while the
    account's insight collection already holds records means another store (or a lost
    database) sent before: certificates and confirmations would go out again.
    """
    name = "send_history"
    if ctx.store is None:
        return _skipped(name, "no staging store was given", _STORE_FIX)
    summary = _collection_summary(ctx)
    if isinstance(summary, str):
        return _skipped(name, summary, "fix the credentials and region first")
    if summary is None or summary.record_count == 0:
        return Check(name, ok=True, detail=f"Dotdigital's collection"
                     f" {ctx.settings.insight_collection!r} holds no records: nothing was"
                     " sent before")
    try:
        sent = _ledger_records_a_send(ctx.store)
    except Exception as exc:  # any database error: report, don't crash
        return _skipped(name, f"could not read the ledger: {type(exc).__name__}:"
                        f" {_first_line(str(exc))}", _STORE_FIX)
    if sent:
        return Check(name, ok=True, detail=f"the ledger records what was sent; Dotdigital's"
                     f" collection holds {summary.record_count:,} records")
    return Check(
        name, ok=False,
        detail=f"the ledger records nothing sent, but Dotdigital's collection {summary.name!r}"
        f" already holds {_plural(summary.record_count, 'record')}: another store or a lost"
        " database sent before, and a run now would send certificates and order"
        " confirmations again",
        fix="move the old ledger here: run `dotsync migrate --to URL` from the old store"
        " (URL = this DOTSYNC_DATABASE_URL); or, when the old store is gone, run `dotsync sync"
        " --assume-sent-before DATE` to take everything from before DATE as already sent")


# ------------------------------------------------------------------------------ local checks
def check_insight_collection(ctx: _Context) -> Check:
    """The insight collection name is one Dotdigital accepts; whether it exists already,
    and how many records it holds."""
    name = "insight_collection"
    value = ctx.settings.insight_collection
    fix = ("set DOTSYNC_INSIGHT_COLLECTION to 2-255 letters, digits, '-' or '_', not starting"
           " with a digit (default Purchases)")
    if not value:
        return Check(name, ok=False, detail="DOTSYNC_INSIGHT_COLLECTION is empty", fix=fix)
    if len(value) > COLLECTION_NAME_MAX:
        return Check(name, ok=False, fix=fix, detail="DOTSYNC_INSIGHT_COLLECTION is"
                     f" {len(value)} characters long (at most {COLLECTION_NAME_MAX})")
    if not _COLLECTION_NAME.fullmatch(value):
        if value[0].isdigit():
            why = "starts with a digit"
        elif len(value) < 2:
            why = "is shorter than 2 characters"
        else:
            bad = sorted({ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in
                                                                        "-_"))})
            why = "contains " + " ".join(repr(ch) for ch in bad)
        return Check(name, ok=False, fix=fix,
                     detail=f"DOTSYNC_INSIGHT_COLLECTION {value!r} {why}")
    summary = _collection_summary(ctx)
    if isinstance(summary, str):
        return Check(name, ok=True, detail=f"{value!r} is a valid collection name"
                     f" (existence not checked: {summary})")
    if summary is None:
        return Check(name, ok=True, detail=f"{value!r} does not exist yet: the first run"
                     " creates it (contact scope, type orders)")
    if summary.scope not in (None, "contact"):
        return Check(name, ok=False, detail=f"{value!r} exists with {summary.scope} scope;"
                     " orders need a contact-scoped collection",
                     fix="set DOTSYNC_INSIGHT_COLLECTION to another name (dotsync creates it)")
    kind = f", type {summary.type}" if summary.type else ""
    records = _plural(summary.record_count, "record")
    return Check(name, ok=True, detail=f"{value!r} exists ({records}{kind})")


def check_example_campaign_ids(ctx: _Context) -> Check:
    """No campaign id is an example value copied from documentation or a template."""
    name = "example_campaign_ids"
    found: list[str] = []
    setting = ctx.settings.certificate_campaign_id
    if setting is not None and setting in EXAMPLE_CAMPAIGN_IDS:
        found.append(f"DOTSYNC_CERTIFICATE_CAMPAIGN_ID={setting}")
    order = (ctx.settings.order_campaign or "").strip()
    if order.isdigit() and int(order) in EXAMPLE_CAMPAIGN_IDS:
        found.append(f"DOTSYNC_ORDER_CAMPAIGN={order}")
    note = ""
    try:
        for raw, count in ctx.certificates().campaign_ids.items():
            parsed = _parse_campaign_id(raw) if raw else None
            if parsed is not None and parsed in EXAMPLE_CAMPAIGN_IDS:
                found.append(f"campaign_id {parsed} on {_plural(count, 'certificate')}")
    except StoreUnreadable as exc:
        note = f" (staged certificates not checked: {exc})"
        if not found:
            return _skipped(name, str(exc), _STORE_FIX)
    if found:
        return Check(name, ok=False, detail="example campaign ids: " + _listing(found) + note,
                     fix="replace them with the ids of your own Triggered campaigns (Dotdigital"
                     " shows a campaign's id in its URL)")
    return Check(name, ok=True, detail="no example campaign ids")


def _show_address(address: str) -> str:
    """Placeholders are shown as they are; anything that may be a person is masked."""
    return address if address in KNOWN_TEST_ADDRESSES else mask_email(address)


def check_certificate_recipients(ctx: _Context) -> Check:
    """Certificates go to their buyers' recipients, not to one fixed or test address."""
    name = "certificate_recipients"
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    counts = certs.recipients
    total = int(counts.sum())
    if total == 0:
        return Check(name, ok=True, detail="no certificates staged")
    errors: list[str] = []
    warnings: list[str] = []
    top_hash, top_count = counts.idxmax(), int(counts.max())
    if total >= RECIPIENT_MIN_CERTIFICATES and top_count >= RECIPIENT_MAX_SHARE * total:
        top = ctx.certificate_values("recipient_email", "lower", [top_hash]).get(
            int(top_hash), "?")
        errors.append(f"{top_count:,} of {total:,} certificates go to one address,"
                      f" {_show_address(top)}")
    if certs.test_addresses:
        errors.append(f"{_plural(certs.test_addresses.total(), 'certificate')} go to test"
                      " addresses: " + _listing(f"{a} ({n})"
                                                for a, n in certs.test_addresses.most_common()))
    if certs.reserved_domains:
        warnings.append(
            f"{_plural(certs.reserved_domains.total(), 'certificate')} go to domains that"
            " receive no mail: "
            + _listing(f"{d} ({n})" for d, n in certs.reserved_domains.most_common()))
    if certs.test_inboxes:
        # The local part is a generic word, so the address is shown whole.
        warnings.append(f"{_plural(certs.test_inboxes.total(), 'certificate')} go to test"
                        " inboxes: " + _listing(f"{a} ({n})"
                                                for a, n in certs.test_inboxes.most_common()))
    fix = ("stage each certificate with its real recipient_email (the address the buyer"
           " entered); remove test certificates before going live")
    if errors:
        return Check(name, ok=False, detail="; ".join(errors + warnings), fix=fix)
    if warnings:
        return Check(name, ok=False, severity="warning", detail="; ".join(warnings), fix=fix)
    return Check(name, ok=True, detail=f"{_plural(total, 'certificate')} to"
                 f" {_plural(len(counts), 'distinct address', 'distinct addresses')}")


def _link_origin(link: str) -> str:
    """``scheme://host/…``: enough to recognise a link without showing a certificate code."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*:)?(//)?([^/?#]*)", link)
    head = "".join(p or "" for p in match.groups()) if match else ""
    return (head or link[:20]) + ("/…" if len(link) > len(head) else "")


def check_certificate_links(ctx: _Context) -> Check:
    """Each certificate has its own https link, and no link is a sample or template."""
    name = "certificate_links"
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if certs.rows == 0:
        return Check(name, ok=True, detail="no certificates staged")
    errors: list[str] = []
    warnings: list[str] = []
    if certs.missing_links:
        errors.append(f"{_plural(certs.missing_links, 'certificate')} have no link")
    if certs.insecure_links:
        errors.append(f"{_plural(certs.insecure_links, 'link')} not https: "
                      + _listing(certs.insecure_origins))
    shared = certs.links[certs.links > 1].sort_values(ascending=False)
    if len(shared):
        shown = ctx.certificate_values("link", None, shared.index[:5])
        errors.append(
            f"{_plural(len(shared), 'link')} shared by several certificates: "
            + ", ".join(f"{_link_origin(shown.get(int(h), '?'))} ({n} certificates)"
                        for h, n in shared.head(5).items())
            + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
        )
    if certs.sample_links:
        warnings.append(f"{_plural(certs.sample_links, 'link')} look like samples or unfilled"
                        " templates (contain "
                        + ", ".join(repr(m) for m in certs.sample_markers) + ")")
    fix = ("stage each certificate with its own https:// redemption link (with its code in"
           " the link, so no two certificates share one); no sample or template links")
    if errors:
        return Check(name, ok=False, detail="; ".join(errors + warnings), fix=fix)
    if warnings:
        return Check(name, ok=False, severity="warning", detail="; ".join(warnings), fix=fix)
    return Check(name, ok=True, detail=f"{_plural(int(certs.links.sum()), 'certificate')},"
                 " each with its own https link")


def _store_currency(store: str) -> str | None:
    """The currency a store's name implies (``uk-web`` -> GBP), when exactly one does.

    Only the first and last tokens count (``shop-in-town`` implies nothing), and a store
    whose name implies two different currencies implies none.
    """
    tokens = [t for t in re.split(r"[^a-z0-9]+", store.lower()) if t]
    if not tokens:
        return None
    found = {_STORE_MARKETS[t] for t in {tokens[0], tokens[-1]} if t in _STORE_MARKETS}
    return found.pop() if len(found) == 1 else None


def check_order_currencies(ctx: _Context) -> Check:
    """Orders carry real ISO 4217 codes, not one placeholder currency across several markets."""
    name = "order_currencies"
    try:
        orders = ctx.staged("orders")
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if orders.rows == 0:
        return Check(name, ok=True, detail="no orders staged")
    currencies = orders["currency"]
    errors: list[str] = []
    warnings: list[str] = []
    missing = int(currencies.get("", 0))
    if missing:
        errors.append(f"{_plural(missing, 'order')} have no currency")
    given = currencies[currencies.index != ""]
    valid_mask = given.index.isin(list(CURRENCY_CODES))
    invalid = given[~valid_mask]
    if len(invalid):
        errors.append(f"{_plural(int(invalid.sum()), 'order')} with a code that is not current"
                      " ISO 4217: " + _listing(f"{c!r} ({n})" for c, n in invalid.items()))
    valid = given[valid_mask]
    if len(valid) == 1:
        only, count = str(valid.index[0]), int(valid.iloc[0])
        stores = orders["store"].add(_customer_tally(ctx, "store"), fill_value=0)
        countries = _customer_tally(ctx, "country")
        countries = countries[countries.index != ""]
        # Heuristics: a US shop selling abroad in USD is normal, so these only warn.
        warnings += _single_currency_problems(only, count, stores, countries)
        warnings += _default_currency_warnings(only, count, countries)
    fix = ("stage each order's real ISO 4217 currency (the one the customer paid in);"
           " there is no default currency")
    if errors:
        return Check(name, ok=False, detail="; ".join(errors + warnings), fix=fix)
    if warnings:
        return Check(name, ok=False, severity="warning", detail="; ".join(warnings), fix=fix)
    shown = _listing(f"{c} ({n:,})" for c, n in valid.items())
    return Check(name, ok=True, detail=f"{_plural(int(valid.sum()), 'order')}: {shown}")


def _customer_tally(ctx: _Context, column: str) -> pd.Series:
    """Customers per distinct value of ``column``; empty when customers can't be read."""
    try:
        return ctx.staged("customers")[column]
    except StoreUnreadable:
        return pd.Series(dtype="int64")


def _single_currency_problems(only: str, count: int, stores: pd.Series,
                              countries: pd.Series) -> list[str]:
    """Every order in one currency while the stores or customers imply several."""
    store_markets: dict[str, list[str]] = {}
    for store in stores.index:
        implied = _store_currency(str(store)) if store else None
        if implied:
            store_markets.setdefault(implied, []).append(str(store))
    if len(store_markets) > 1:
        return [f"all {count:,} orders are in {only}, but the stores imply"
                f" {len(store_markets)} currencies: "
                + _listing(f"{'/'.join(sorted(s))} → {cur}"
                           for cur, s in sorted(store_markets.items()))]
    known = countries[countries.index.isin(list(COUNTRY_CURRENCY))]
    if int(known.sum()) < MARKET_MIN_CUSTOMERS:
        return []
    per_currency = known.groupby(known.index.map(COUNTRY_CURRENCY)).sum()
    markets = per_currency[per_currency >= MARKET_MIN_SHARE * int(known.sum())]
    if len(markets) > 1:
        return [f"all {count:,} orders are in {only}, but customers' countries imply"
                f" {len(markets)} currencies: "
                + _listing(f"{cur} ({int(n):,} customers)"
                           for cur, n in markets.sort_values(ascending=False).items())]
    return []


def _default_currency_warnings(only: str, count: int, countries: pd.Series) -> list[str]:
    """USD everywhere while no customer is in a USD country: a connector's default left in."""
    if only != "USD" or countries.empty:
        return []
    if any(COUNTRY_CURRENCY.get(str(c)) == "USD" for c in countries.index):
        return []
    return [f"all {count:,} orders are in USD, but none of the {int(countries.sum()):,}"
            " customers with a country is in the US (USD is a common connector default)"]


# ------------------------------------------------------------------------------ running
_CHECKS: tuple[tuple[str, Callable[[_Context], Check]], ...] = (
    ("credentials", check_credentials),
    ("region", check_region),
    ("certificate_campaign", check_certificate_campaign),
    ("order_campaign", check_order_campaign),
    ("data_fields", check_data_fields),
    ("address_book", check_address_book),
    ("insight_collection", check_insight_collection),
    ("send_history", check_send_history),
    ("example_campaign_ids", check_example_campaign_ids),
    ("certificate_recipients", check_certificate_recipients),
    ("certificate_links", check_certificate_links),
    ("order_currencies", check_order_currencies),
)
assert tuple(n for n, _ in _CHECKS) == CHECK_NAMES


def _secrets(settings: Settings) -> list[str]:
    """Strings that must not appear in any output: the API password, the database password.

    Very short values are left alone: they occur in ordinary words by chance, and blanking
    them would garble every message (Dotdigital API passwords are at least 8 characters).
    """
    out = [settings.api_password.get()]
    try:
        from sqlalchemy.engine import make_url

        out.append(make_url(settings.database_url).password or "")
    except Exception:
        pass
    return [s for s in out if s and len(s) >= 4]


def _scrub(check: Check, secrets: list[str]) -> Check:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "**********")
        return text

    return replace(check, detail=clean(check.detail), fix=clean(check.fix))


def unknown_accepted(settings: Settings) -> tuple[str, ...]:
    """Names in ``DOTSYNC_PREFLIGHT_ACCEPT`` that are not check names."""
    return tuple(n for n in settings.preflight_accept if n not in CHECK_NAMES)


def _accept(check: Check, settings: Settings) -> Check:
    """A warning named in ``DOTSYNC_PREFLIGHT_ACCEPT`` is marked accepted; errors never are."""
    if check.status == "warn" and check.name in settings.preflight_accept:
        return replace(check, accepted=True)
    return check


#: Said of a data check that looked only at what the next sync reads.
CHANGED_ONLY_NOTE = "only records changed since the last sync, or to retry, were checked"


def iter_checks(settings: Settings, store: Store | None, client: DotdigitalClient | None, *,
                chunk_rows: int = 20_000, changed_only: bool = False) -> Iterator[Check]:
    """The checks one by one as they finish (for progress output); see :func:`run_preflight`."""
    ctx = _Context(settings=settings, store=store, client=client, chunk_rows=chunk_rows,
                   changed_only=changed_only)
    secrets = _secrets(settings)
    for name, run in _CHECKS:
        ctx.read_staged = False
        try:
            check = run(ctx)
            if changed_only and ctx.read_staged and check.status != "skipped":
                check = replace(check, detail=f"{check.detail} ({CHANGED_ONLY_NOTE})")
        except Exception as exc:  # a bug or an unforeseen answer must not hide the others
            check = Check(name, ok=False, detail=f"the check itself failed: {type(exc).__name__}:"
                          f" {_first_line(str(exc))}", fix="report this as a dotsync bug")
        yield _accept(_scrub(check, secrets), settings)


def run_preflight(settings: Settings, store: Store | None, client: DotdigitalClient | None,
                  *, chunk_rows: int = 20_000, changed_only: bool = False) -> PreflightResult:
    """Run every go-live check; never raises.

    ``client`` may be ``None`` (no credentials configured): the API checks are then
    skipped, which fails the preflight. Reads staged data in ``chunk_rows`` frames. The
    API calls are reads only (``account-info``, campaigns); nothing is written.

    With ``changed_only`` the data checks read only the staged records the next sync
    will read (stamped since its mark, or to retry: :meth:`ChangeFeed.since_mark`),
    so a scheduled run's preflight costs what changed, not the store; records checked
    and sent by earlier runs are not checked again. ``dotsync preflight`` checks every
    row unless asked otherwise.
    """
    return PreflightResult(list(iter_checks(settings, store, client, chunk_rows=chunk_rows,
                                            changed_only=changed_only)),
                           unknown_accepted=unknown_accepted(settings))
