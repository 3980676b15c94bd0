"""dotsync's settings: one place that reads SPEC §3 configuration.

Values come from the environment, else from an optional ``dotsync.toml`` in the
working directory, or where ``DOTSYNC_CONFIG`` says (same keys in lower case); the
environment wins. A file may also
describe several Dotdigital accounts (``[accounts.NAME]`` tables, see
:mod:`dotsync.accounts`), one of which a run chooses. The API
password is held as a :class:`Secret` so that no ``repr``, log line or
exception built from a :class:`Settings` can show it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from dotsync.accounts import ACCOUNT_ENV, AccountError, file_layer
from dotsync.automation_settings import (
    AutomationSettingError,
    bounded,
    optional_id,
    parse_programs,
)

#: Where dotsync.toml is, when not in the working directory: a Prefect process worker
#: starts each flow run in a temporary directory, so a worker names the file here.
CONFIG_ENV = "DOTSYNC_CONFIG"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``DOTSYNC_CONFIG`` when set, else ``./dotsync.toml``."""
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV, "").strip()
    return Path(named) if named else Path.cwd() / "dotsync.toml"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


class Secret:
    """A string that refuses to be shown.

    ``str()``/``repr()`` give ``'**********'``; only :meth:`get` returns the value,
    so a secret can be printed by accident only through an explicit call.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pickling keeps the value but never shows it
        return (Secret, (self._value,))


def _opt_int(name: str, raw: str | None) -> int | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _flag(name: str, raw: str | None, default: bool = False) -> bool:
    if raw is None or str(raw).strip() == "":
        return default
    value = str(raw).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _strict_fields(raw: str | None) -> frozenset[str]:
    from data_contracts.optional import parse_strict

    try:
        return parse_strict(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$", re.IGNORECASE)
_UNIT = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _duration(name: str, raw: str | None, default: timedelta) -> timedelta:
    """``72h``, ``3d``, ``90m``, ``1d12h`` (days, hours, minutes, seconds)."""
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw)
    if not _DURATION.match(text):
        raise ConfigError(f"{name} must be a duration such as 72h, 3d or 90m, got {raw!r}")
    total = timedelta()
    for amount, unit in _DURATION_PART.findall(text):
        total += timedelta(**{_UNIT[unit.lower()]: int(amount)})
    if total <= timedelta():
        raise ConfigError(f"{name} must be longer than zero, got {raw!r}")
    return total


def _statuses(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or str(raw).strip() == "":
        return default
    return tuple(s.strip().lower() for s in str(raw).split(",") if s.strip())


def _positive(name: str, raw: str | None, default: int) -> int:
    value = _opt_int(name, raw)
    if value is None:
        return default
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _automation(get: Any, programs: Any) -> dict[str, Any]:
    """The cart, catalogue and program settings (``programs``: text or a TOML table)."""
    return {
        "cart_program_id": optional_id("DOTSYNC_CART_PROGRAM_ID",
                                       get("DOTSYNC_CART_PROGRAM_ID")),
        "cart_idle_minutes": bounded("DOTSYNC_CART_IDLE_MINUTES",
                                     get("DOTSYNC_CART_IDLE_MINUTES"), 60, 1, 60 * 24 * 30),
        "cart_reenrol_hours": bounded("DOTSYNC_CART_REENROL_HOURS",
                                      get("DOTSYNC_CART_REENROL_HOURS"), 24, 0, 24 * 366),
        "catalog_collection": (get("DOTSYNC_CATALOG_COLLECTION") or "").strip() or None,
        "programs": parse_programs("DOTSYNC_PROGRAMS", programs),
    }


@dataclass(frozen=True)
class Settings:
    """Everything dotsync reads from SPEC §3, plus the extensions documented in the README."""

    api_user: str = ""
    api_password: Secret = field(default_factory=lambda: Secret(""))
    api_endpoint: str | None = None
    database_url: str = "sqlite:///dotsync.db"
    default_region: str | None = None
    insight_collection: str = "Purchases"
    order_campaign: str | None = None
    certificate_campaign_id: int | None = None
    address_book_id: int | None = None
    # Extensions (README "Configuration"):
    calls_per_minute: int | None = None
    contact_bulk_threshold: int = 200
    propagate_deletes: bool = False
    #: Preflight warnings accepted by name (``DOTSYNC_PREFLIGHT_ACCEPT``, SPEC §3).
    preflight_accept: tuple[str, ...] = ()
    fulfilled_statuses: tuple[str, ...] = (
        "complete",
        "completed",
        "shipped",
        "dispatched",
        "fulfilled",
        "delivered",
    )
    #: SPEC §3 ``DOTSYNC_STRICT_FIELDS``: optional fields whose problems reject.
    strict_fields: frozenset[str] = frozenset()
    #: Orders placed longer ago than this get no confirmation e-mail.
    confirmation_max_age: timedelta = timedelta(hours=72)
    #: Order statuses (lower case) that never get a confirmation e-mail.
    no_confirmation_statuses: tuple[str, ...] = (
        "canceled", "cancelled", "closed", "refunded", "voided", "declined", "failed")
    #: A run that would send more transactional e-mails than this sends none.
    max_sends_per_run: int = 5000
    #: Days the attempt log keeps an attempt (``dotsync trace``); older ones are pruned.
    attempt_retention_days: int = 90
    #: The ``[accounts.NAME]`` of ``dotsync.toml`` these settings are for (None: the
    #: single configuration at the file's top level and the environment).
    account: str | None = None
    #: ``DOTSYNC_CREDENTIALS_BLOCK``: the Prefect block holding the API credentials of
    #: deployed runs (each account may name its own).
    credentials_block: str | None = None
    #: ``DOTSYNC_SINGLE_HOST``: every deployed run happens on one host, so a SQLite
    #: store (with an absolute path) is acceptable (:mod:`dotsync.store_location`).
    single_host: bool = False
    # Carts, catalogue, programs (SPEC §3, issue 16; :mod:`dotsync.automation_settings`):
    #: ``DOTSYNC_CART_PROGRAM_ID``: the abandoned-cart program (None: no enrolment).
    cart_program_id: int | None = None
    #: ``DOTSYNC_CART_IDLE_MINUTES``: a cart untouched this long is abandoned.
    cart_idle_minutes: int = 60
    #: ``DOTSYNC_CART_REENROL_HOURS``: no second cart enrolment of a contact within this.
    cart_reenrol_hours: int = 24
    #: ``DOTSYNC_CATALOG_COLLECTION``: overrides the ``catalog_<store>`` collection name.
    catalog_collection: str | None = None
    #: ``DOTSYNC_PROGRAMS``: (event, program id) pairs, e.g. ("first_order", 101).
    programs: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        toml_path: str | Path | None = None,
        account: str | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Settings for ``account`` (default: ``DOTSYNC_ACCOUNT``, else none).

        For a chosen account, its ``[accounts.NAME]`` table wins over the environment,
        which wins over the file's top level (:mod:`dotsync.accounts` says why).
        ``document``, when given, stands in for the file (the same shape, already
        parsed): configuration kept elsewhere than on this host, such as the Prefect
        Variables a deployed run reads, so every worker runs with the same settings.
        """
        env = dict(os.environ if environ is None else environ)
        path = Path(toml_path) if toml_path is not None else config_path(env)
        file_values: dict[str, Any] = {}
        if document is not None:
            file_values = dict(document)
        elif path.is_file():
            try:
                file_values = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
        account = account or env.get(ACCOUNT_ENV) or None
        try:
            own, shared = file_layer(file_values, account)
        except AccountError as exc:
            raise ConfigError(str(exc)) from None

        def get(name: str) -> str | None:
            value = own.get(name.lower())
            if value is None and name in env and env[name] != "":
                return env[name]
            if value is None:
                value = shared.get(name.lower())
            if isinstance(value, list):  # a TOML array for a comma-separated setting
                return ",".join(str(v) for v in value)
            return None if value is None else str(value)

        statuses = get("DOTSYNC_FULFILLED_STATUSES")
        try:
            # DOTSYNC_PROGRAMS may be a TOML table, which get() would flatten.
            programs = own.get("dotsync_programs")
            if programs is None:
                programs = env.get("DOTSYNC_PROGRAMS") or shared.get("dotsync_programs")
            automation = _automation(get, programs)
        except AutomationSettingError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            api_user=get("DOTDIGITAL_API_USER") or "",
            api_password=Secret(get("DOTDIGITAL_API_PASSWORD") or ""),
            api_endpoint=get("DOTDIGITAL_API_ENDPOINT"),
            database_url=get("DOTSYNC_DATABASE_URL") or "sqlite:///dotsync.db",
            default_region=(get("DOTSYNC_DEFAULT_REGION") or "").strip().upper() or None,
            insight_collection=get("DOTSYNC_INSIGHT_COLLECTION") or "Purchases",
            order_campaign=get("DOTSYNC_ORDER_CAMPAIGN") or None,
            certificate_campaign_id=_opt_int(
                "DOTSYNC_CERTIFICATE_CAMPAIGN_ID", get("DOTSYNC_CERTIFICATE_CAMPAIGN_ID")
            ),
            address_book_id=_opt_int("DOTSYNC_ADDRESS_BOOK_ID", get("DOTSYNC_ADDRESS_BOOK_ID")),
            calls_per_minute=_opt_int("DOTSYNC_CALLS_PER_MINUTE", get("DOTSYNC_CALLS_PER_MINUTE")),
            contact_bulk_threshold=_opt_int(
                "DOTSYNC_CONTACT_BULK_THRESHOLD", get("DOTSYNC_CONTACT_BULK_THRESHOLD")
            )
            or 200,
            propagate_deletes=_flag("DOTSYNC_PROPAGATE_DELETES", get("DOTSYNC_PROPAGATE_DELETES")),
            fulfilled_statuses=tuple(s.strip().lower() for s in statuses.split(",") if s.strip())
            if statuses
            else cls.fulfilled_statuses,
            strict_fields=_strict_fields(get("DOTSYNC_STRICT_FIELDS")),
            confirmation_max_age=_duration("DOTSYNC_CONFIRMATION_MAX_AGE",
                                           get("DOTSYNC_CONFIRMATION_MAX_AGE"),
                                           cls.confirmation_max_age),
            no_confirmation_statuses=_statuses(get("DOTSYNC_NO_CONFIRMATION_STATUSES"),
                                               cls.no_confirmation_statuses),
            max_sends_per_run=_positive("DOTSYNC_MAX_SENDS_PER_RUN",
                                        get("DOTSYNC_MAX_SENDS_PER_RUN"),
                                        cls.max_sends_per_run),
            attempt_retention_days=_positive("DOTSYNC_ATTEMPT_RETENTION_DAYS",
                                             get("DOTSYNC_ATTEMPT_RETENTION_DAYS"),
                                             cls.attempt_retention_days),
            preflight_accept=tuple(
                n.strip() for n in (get("DOTSYNC_PREFLIGHT_ACCEPT") or "").split(",") if n.strip()
            ),
            account=account,
            credentials_block=get("DOTSYNC_CREDENTIALS_BLOCK") or None,
            single_host=_flag("DOTSYNC_SINGLE_HOST", get("DOTSYNC_SINGLE_HOST")),
            **automation,
        )

    def describe(self) -> dict[str, Any]:
        """The settings as plain values for reports, with the password masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Secret | timedelta) else value
        return out
