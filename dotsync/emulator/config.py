"""Emulator configuration, run-time faults and the seed (campaigns, suppressions, collections).

Kept apart from the app so that the CLI, tests and benchmarks can build a configuration
without importing Starlette or uvicorn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_USER = "apiuser-demo@apiconnector.com"
DEFAULT_PASSWORD = "demo-password"

#: Dotdigital's limits, kept as named constants so tests can quote them.
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_CONTACT_IMPORTS = 25
MAX_INSIGHT_IMPORTS = 5

IMPORT_FAILURE_STATUSES = ("Failed", "RejectedByWatchdog")
INSIGHT_STATUS_STYLES = ("spec", "docs")


def default_seed() -> dict[str, Any]:
    """The account every emulator starts with unless a seed file says otherwise.

    Two triggered campaigns that dotsync uses out of the box (certificates, order
    confirmations), one ordinary sent campaign, one Paused and one Cancelled campaign (both
    refuse triggered sends), two suppressed addresses; otherwise a new account: Dotdigital's
    default data fields only, the two default lists, and no insight collection (see
    :mod:`dotsync.emulator.structure` for the sources).
    """
    from dotsync.emulator.structure import DEFAULT_ADDRESS_BOOKS, DEFAULT_DATA_FIELDS

    return {
        "account": {"id": 1, "name": "dotsync emulator", "currency": "GBP"},
        "campaigns": [
            {"id": 1001, "name": "Gift certificate", "status": "Triggered",
             "subject": "Your gift certificate"},
            {"id": 1002, "name": "Order confirmation", "status": "Triggered",
             "subject": "Thank you for your order"},
            {"id": 1003, "name": "Spring newsletter", "status": "Sent",
             "subject": "Spring is here"},
            {"id": 1004, "name": "Paused reminder", "status": "Paused",
             "subject": "We miss you"},
            {"id": 1005, "name": "Cancelled promotion", "status": "Cancelled",
             "subject": "Old promotion"},
        ],
        "generatedCampaigns": 0,
        "suppressed": [
            {"email": "unsubscribed@example.com", "reason": "Unsubscribed",
             "dateRemoved": "2024-01-15T10:00:00Z"},
            {"email": "bounced@example.com", "reason": "HardBounced",
             "dateRemoved": "2024-02-01T08:30:00Z"},
        ],
        "collections": [],
        "contacts": [],
        "dataFields": [dict(f) for f in DEFAULT_DATA_FIELDS],
        "addressBooks": [dict(b) for b in DEFAULT_ADDRESS_BOOKS],
    }


_SEED_KEYS = {"account", "campaigns", "generatedCampaigns", "suppressed", "collections",
              "contacts", "dataFields", "addressBooks", "programs"}


def load_seed(source: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """Merge a seed (path to a JSON file, or a dict) over :func:`default_seed`.

    Each top-level key present in the seed replaces the default for that key, so a seed
    with only ``"campaigns"`` keeps the default suppressions. Unknown keys are an error
    naming the key: a typo in a seed file should not silently give an empty account.
    """
    seed = default_seed()
    if source is None:
        return seed
    if isinstance(source, dict):
        given = source
    else:
        try:
            given = json.loads(Path(source).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"seed file {source}: not valid JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError("seed must be a JSON object")
    unknown = sorted(set(given) - _SEED_KEYS)
    if unknown:
        raise ValueError(f"seed has unknown key(s): {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(_SEED_KEYS))}")
    seed.update(given)
    for i, campaign in enumerate(seed["campaigns"]):
        if not isinstance(campaign, dict) or not isinstance(campaign.get("id"), int) \
                or not campaign.get("name"):
            raise ValueError(f"seed campaigns[{i}]: needs an integer id and a name")
    for i, program in enumerate(seed.get("programs") or []):
        if not isinstance(program, dict) or not isinstance(program.get("id"), int) \
                or not program.get("name"):
            raise ValueError(f"seed programs[{i}]: needs an integer id and a name")
    for i, sup in enumerate(seed["suppressed"]):
        if not isinstance(sup, dict) or not sup.get("email"):
            raise ValueError(f"seed suppressed[{i}]: needs an email")
    from dotsync.emulator.structure import normalise_address_books, normalise_data_fields

    seed["dataFields"] = normalise_data_fields(seed["dataFields"])
    seed["addressBooks"] = normalise_address_books(seed["addressBooks"])
    return seed


@dataclass
class Faults:
    """Faults injected into API calls; change them at run time through ``state.faults``.

    Probabilities are per call and drawn from the state's seedable RNG. Faults apply to the
    Dotdigital API only, never to ``/_emulator/…``, and only to paths that start with one of
    ``paths`` when that is set. ``script`` holds one-shot faults consumed in order by the
    first matching call, for tests that need a fault on exactly one call, e.g.
    ``{"kind": "drop_after", "path": "/v2/email/triggered-campaign", "method": "POST"}``
    (kinds: ``error``, ``drop_before``, ``drop_after``; ``status`` for ``error``).
    """

    latency: float = 0.0
    """Seconds added to every call."""
    latency_jitter: float = 0.0
    """Extra seconds, uniform in [0, latency_jitter), added to every call."""
    error_rate: float = 0.0
    """Probability of a 5xx answer before the server acts."""
    error_status: int = 500
    drop_rate: float = 0.0
    """Probability that the connection drops before the server acts (no response at all)."""
    drop_after_rate: float = 0.0
    """Probability that the server acts, then the connection drops mid-response."""
    fail_imports: float = 0.0
    """Probability that an import ends failed (nothing applied); ``True`` means always."""
    failed_import_status: str = "Failed"
    """Status a failing contact import ends with: ``Failed`` or ``RejectedByWatchdog``."""
    fail_first_imports: int = 0
    """The next this many imports end failed whatever the draw (counted down as they come),
    so a test of import failures never depends on where a random draw falls."""
    paths: list[str] | None = None
    script: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Coerce and check values so a bad fault setting fails where it is made."""
        if isinstance(self.fail_imports, bool):
            self.fail_imports = 1.0 if self.fail_imports else 0.0
        for name in ("latency", "latency_jitter", "error_rate", "drop_rate",
                     "drop_after_rate", "fail_imports"):
            value = float(getattr(self, name))
            if value < 0:
                raise ValueError(f"fault {name} must be >= 0")
            if (name.endswith("rate") or name == "fail_imports") and value > 1:
                raise ValueError(f"fault {name} is a probability: 0..1")
            setattr(self, name, value)
        if isinstance(self.fail_first_imports, bool) or int(self.fail_first_imports) < 0:
            raise ValueError("fault fail_first_imports must be a whole number >= 0")
        self.fail_first_imports = int(self.fail_first_imports)
        if self.failed_import_status not in IMPORT_FAILURE_STATUSES:
            raise ValueError(f"failed_import_status must be one of {IMPORT_FAILURE_STATUSES}")
        if not 500 <= int(self.error_status) <= 599:
            raise ValueError("error_status must be a 5xx status")
        for shot in self.script:
            if shot.get("kind") not in ("error", "drop_before", "drop_after"):
                raise ValueError(f"scripted fault kind must be error|drop_before|drop_after: "
                                 f"{shot!r}")

    def update(self, **changes: Any) -> None:
        """Change several faults at once, all or nothing."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}")
        trial = Faults(**{**self.as_dict(), **changes})
        for f in fields(self):
            setattr(self, f.name, getattr(trial, f.name))

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["script"] = [dict(s) for s in self.script]
        out["paths"] = list(self.paths) if self.paths is not None else None
        return out


@dataclass
class EmulatorConfig:
    """Everything an emulator is started with. Fault fields seed ``state.faults``."""

    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    import_delay: float = 0.0
    """Seconds an import (contacts, insight, bulk delete) stays NotFinished."""
    fail_imports: bool | float = False
    failed_import_status: str = "Failed"
    fail_first_imports: int = 0
    rate_limit_per_minute: int | None = None
    """Calls allowed per window (off when None); triggered-campaign sends are not counted."""
    rate_limit_window: float = 60.0
    """Window length in seconds; shorter only so tests need not wait a minute."""
    rate_limit_scope: str = "account"
    max_contact_imports: int = MAX_CONTACT_IMPORTS
    max_insight_imports: int = MAX_INSIGHT_IMPORTS
    max_body_bytes: int = MAX_BODY_BYTES
    random_seed: int | None = None
    """Seed for every random fault decision, so a failing run can be replayed."""
    insight_status_style: str = "spec"
    """``spec``: insight import status NotStarted/Processing/Complete/Failed (the enum in
    Dotdigital's OpenAPI file); ``docs``: NotFinished/Finished (what the docs' examples show)."""
    seed: str | Path | dict[str, Any] | None = None
    """A seed file path or dict merged over :func:`default_seed`."""
    host: str = "127.0.0.1"
    tune_gc: bool = False
    """The emulator has its process to itself (the CLI sets this): it may then keep the
    garbage collector off the objects of big imports and of the account (``gc.freeze``),
    which would otherwise rescan millions of them for a second at a time, stalling every
    call. Off in-process, where freezing would hold on to the host's garbage."""

    def __post_init__(self) -> None:
        if self.insight_status_style not in INSIGHT_STATUS_STYLES:
            raise ValueError(f"insight_status_style must be one of {INSIGHT_STATUS_STYLES}")
        if self.rate_limit_per_minute is not None and self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be >= 1 (or None for no limit)")
        self.faults()  # fail early on bad fault values

    def faults(self) -> Faults:
        """A fresh :class:`Faults` holding this configuration's start-up faults."""
        return Faults(latency=self.latency, error_rate=self.error_rate, drop_rate=self.drop_rate,
                      drop_after_rate=self.drop_after_rate,
                      fail_imports=float(self.fail_imports),
                      failed_import_status=self.failed_import_status,
                      fail_first_imports=self.fail_first_imports)

