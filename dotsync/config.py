"""dotsync's settings: one place that reads SPEC §3 configuration.

Values come from the environment, else from an optional ``dotsync.toml`` in the
working directory, or where ``DOTSYNC_CONFIG`` says (same keys in lower case); the
environment wins. A file may also describe several Dotdigital accounts
(``[accounts.NAME]`` tables, see :mod:`dotsync.accounts`), one of which a run chooses.

:class:`Settings` is a ``pydantic-settings`` model: each field names its variable
(``validation_alias``), and :meth:`Settings.from_env` reads the three layers (the
account's table, the environment, the file's top level) as settings sources. The
password is a ``SecretStr``, the same type as the credentials blocks' fields, so no
``repr``, log line or exception built from a :class:`Settings` can show it; an invalid
value is a :class:`ConfigError` naming its variable (never quoting the password, which
no rule here rejects).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUseDefault
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from dotsync.accounts import ACCOUNT_ENV, AccountError, file_layer
from dotsync.automation_settings import bounded, optional_id, parse_programs

#: Where dotsync.toml is, when not in the working directory: a Prefect process worker
#: starts each flow run in a temporary directory, so a worker names the file here.
CONFIG_ENV = "DOTSYNC_CONFIG"

#: The one secret type: the name older code imports. ``str()``/``repr()`` give
#: ``**********``; only ``get_secret_value()`` returns the value.
Secret = SecretStr


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``DOTSYNC_CONFIG`` when set, else ``./dotsync.toml``."""
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV, "").strip()
    return Path(named) if named else Path.cwd() / "dotsync.toml"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


# -- parsing of one value: text from the environment or the file, or a typed value given
# -- to Settings(...) directly, which passes through to pydantic's own checks.

#: field name -> its variable (filled below from the model), for the messages.
_VARIABLE: dict[str, str] = {}


def _variable(info: ValidationInfo) -> str:
    return _VARIABLE.get(info.field_name or "", info.field_name or "setting")


def _text_rule(parse: Callable[[str, str], Any]) -> BeforeValidator:
    """A validator applying ``parse(variable, text)`` to text; blank text means the
    field's default (an empty variable is an unset one, as before)."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        if not value.strip():
            raise PydanticUseDefault()
        return parse(_variable(info), value)

    return BeforeValidator(check)


def _whole(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _whole_not_zero(name: str, raw: str) -> int:
    value = _whole(name, raw)
    if value == 0:  # 0 meant "the default" before pydantic too
        raise PydanticUseDefault()
    return value


def _at_least_zero(name: str, raw: str) -> int:
    value = _whole(name, raw)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$", re.IGNORECASE)
_UNIT = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _duration(name: str, raw: str) -> timedelta:
    """``72h``, ``3d``, ``90m``, ``1d12h`` (days, hours, minutes, seconds)."""
    if not _DURATION.match(raw):
        raise ConfigError(f"{name} must be a duration such as 72h, 3d or 90m, got {raw!r}")
    total = timedelta()
    for amount, unit in _DURATION_PART.findall(raw):
        total += timedelta(**{_UNIT[unit.lower()]: int(amount)})
    if total <= timedelta():
        raise ConfigError(f"{name} must be longer than zero, got {raw!r}")
    return total


def _names(name: str, raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _lower_names(name: str, raw: str) -> tuple[str, ...]:
    return tuple(n.lower() for n in _names(name, raw))


def _strict_fields(name: str, raw: str) -> frozenset[str]:
    from dotsync.data_contracts.optional import parse_strict

    return parse_strict(raw)  # its ValueError names DOTSYNC_STRICT_FIELDS


def _region(name: str, raw: str) -> str:
    return raw.strip().upper()


def _stripped(name: str, raw: str) -> str:
    return raw.strip()


def _programs(value: Any, info: ValidationInfo) -> Any:
    """``DOTSYNC_PROGRAMS``: text, or a TOML table (which no other setting may be)."""
    if isinstance(value, str | Mapping):
        return parse_programs(_variable(info), value)
    return value


def _bounded(low: int, high: int) -> BeforeValidator:
    return _text_rule(lambda name, raw: bounded(name, raw, 0, low, high))


def _not_empty(value: Any) -> Any:
    if value == "":  # a blank string setting keeps its default, as before
        raise PydanticUseDefault()
    return value


Text = Annotated[str, BeforeValidator(_not_empty)]
OptionalText = Annotated[str | None, BeforeValidator(_not_empty)]
Whole = Annotated[int | None, _text_rule(_whole)]
Count = Annotated[int, _text_rule(_at_least_zero)]
Flag = Annotated[bool, _text_rule(_flag)]
Names = Annotated[tuple[str, ...], NoDecode, _text_rule(_names)]
LowerNames = Annotated[tuple[str, ...], NoDecode, _text_rule(_lower_names)]
Id = Annotated[int | None, _text_rule(optional_id)]


def _var(name: str, default: Any) -> Any:
    """A field read from the variable ``name`` (and ``name.lower()`` in dotsync.toml)."""
    return Field(default, validation_alias=name)


class Settings(BaseSettings):
    """Everything dotsync reads from SPEC §3, plus the extensions documented in the README.

    ``Settings(...)`` is exactly what it is given (tests, blocks); :meth:`from_env`
    reads the environment and ``dotsync.toml``.
    """

    model_config = SettingsConfigDict(
        frozen=True, case_sensitive=True, extra="ignore", validate_by_name=True,
        validate_by_alias=True, hide_input_in_errors=True, env_ignore_empty=True,
        validate_default=False)  # the defaults are typed values already

    api_user: Text = _var("DOTDIGITAL_API_USER", "")
    api_password: SecretStr = _var("DOTDIGITAL_API_PASSWORD", SecretStr(""))
    api_endpoint: OptionalText = _var("DOTDIGITAL_API_ENDPOINT", None)
    database_url: Text = _var("DOTSYNC_DATABASE_URL", "sqlite:///dotsync.db")
    default_region: Annotated[str | None, _text_rule(_region)] = _var(
        "DOTSYNC_DEFAULT_REGION", None)
    insight_collection: Text = _var("DOTSYNC_INSIGHT_COLLECTION", "Purchases")
    order_campaign: OptionalText = _var("DOTSYNC_ORDER_CAMPAIGN", None)
    certificate_campaign_id: Whole = _var("DOTSYNC_CERTIFICATE_CAMPAIGN_ID", None)
    address_book_id: Whole = _var("DOTSYNC_ADDRESS_BOOK_ID", None)
    # Extensions (README "Configuration"):
    calls_per_minute: Whole = _var("DOTSYNC_CALLS_PER_MINUTE", None)
    contact_bulk_threshold: Annotated[int, _text_rule(_whole_not_zero)] = _var(
        "DOTSYNC_CONTACT_BULK_THRESHOLD", 200)
    propagate_deletes: Flag = _var("DOTSYNC_PROPAGATE_DELETES", False)
    #: Preflight warnings accepted by name (``DOTSYNC_PREFLIGHT_ACCEPT``, SPEC §3).
    preflight_accept: Names = _var("DOTSYNC_PREFLIGHT_ACCEPT", ())
    fulfilled_statuses: LowerNames = _var("DOTSYNC_FULFILLED_STATUSES", (
        "complete", "completed", "shipped", "dispatched", "fulfilled", "delivered"))
    #: SPEC §3 ``DOTSYNC_STRICT_FIELDS``: optional fields whose problems reject.
    strict_fields: Annotated[frozenset[str], NoDecode, _text_rule(_strict_fields)] = _var(
        "DOTSYNC_STRICT_FIELDS", frozenset())
    #: Orders placed longer ago than this get no confirmation e-mail.
    confirmation_max_age: Annotated[timedelta, _text_rule(_duration)] = _var(
        "DOTSYNC_CONFIRMATION_MAX_AGE", timedelta(hours=72))
    #: Order statuses (lower case) that never get a confirmation e-mail.
    no_confirmation_statuses: LowerNames = _var("DOTSYNC_NO_CONFIRMATION_STATUSES", (
        "canceled", "cancelled", "closed", "refunded", "voided", "declined", "failed"))
    #: A run that would send more transactional e-mails than this sends none.
    max_sends_per_run: Count = _var("DOTSYNC_MAX_SENDS_PER_RUN", 5000)
    #: Days the attempt log keeps an attempt (``dotsync trace``); older ones are pruned.
    attempt_retention_days: Count = _var("DOTSYNC_ATTEMPT_RETENTION_DAYS", 90)
    #: The ``[accounts.NAME]`` of ``dotsync.toml`` these settings are for (None: the
    #: single configuration at the file's top level and the environment). Chosen by
    #: ``from_env``'s argument or ``DOTSYNC_ACCOUNT``, never read as a setting.
    account: str | None = None
    #: ``DOTSYNC_CREDENTIALS_BLOCK``: the Prefect block holding the API credentials of
    #: deployed runs (each account may name its own).
    credentials_block: OptionalText = _var("DOTSYNC_CREDENTIALS_BLOCK", None)
    #: ``DOTSYNC_SINGLE_HOST``: every deployed run happens on one host, so a SQLite
    #: store (with an absolute path) is acceptable (:mod:`dotsync.store_location`).
    single_host: Flag = _var("DOTSYNC_SINGLE_HOST", False)
    # Carts, catalogue, programs (SPEC §3, issue 16; :mod:`dotsync.automation_settings`):
    #: ``DOTSYNC_CART_PROGRAM_ID``: the abandoned-cart program (None: no enrolment).
    cart_program_id: Id = _var("DOTSYNC_CART_PROGRAM_ID", None)
    #: ``DOTSYNC_CART_IDLE_MINUTES``: a cart untouched this long is abandoned.
    cart_idle_minutes: Annotated[int, _bounded(1, 60 * 24 * 30)] = _var(
        "DOTSYNC_CART_IDLE_MINUTES", 60)
    #: ``DOTSYNC_CART_REENROL_HOURS``: no second cart enrolment of a contact within this.
    cart_reenrol_hours: Annotated[int, _bounded(0, 24 * 366)] = _var(
        "DOTSYNC_CART_REENROL_HOURS", 24)
    #: ``DOTSYNC_CATALOG_COLLECTION``: overrides the ``catalog_<store>`` collection name.
    catalog_collection: Annotated[str | None, _text_rule(_stripped)] = _var(
        "DOTSYNC_CATALOG_COLLECTION", None)
    #: ``DOTSYNC_PROGRAMS``: (event, program id) pairs, e.g. ("first_order", 101).
    programs: Annotated[tuple[tuple[str, int], ...], NoDecode, BeforeValidator(_programs)] = (
        _var("DOTSYNC_PROGRAMS", ()))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: from_env() chooses the layers (an account, a given mapping
        as the environment), and a test's ``Settings(...)`` must not read the process's."""
        return (init_settings,)

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
        layers = (FileTable(cls, own), Environment(cls, env), FileTable(cls, shared))
        values: dict[str, Any] = {}
        for layer in reversed(layers):  # the first layer wins
            values.update(layer())
        try:
            return cls(**values, account=account)
        except ValidationError as exc:
            raise _config_error(exc) from None

    def describe(self) -> dict[str, Any]:
        """The settings as plain values for reports, with the password masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, SecretStr | timedelta) else value
        return out


_VARIABLE.update({name: str(f.validation_alias or name)
                  for name, f in Settings.model_fields.items()})


def _config_error(exc: ValidationError) -> ConfigError:
    """Every invalid setting in one message, each naming its variable. The input is
    never quoted here: only the rules above quote a value, and none reads the password."""
    messages = []
    for error in exc.errors(include_input=False, include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ValueError):
            messages.append(str(cause))
        else:
            where = str(error["loc"][0]) if error["loc"] else "dotsync.toml"
            messages.append(f"{where}: {error['msg']}")
    return ConfigError("; ".join(messages))


def _as_text(value: Any) -> Any:
    """A TOML value as the text the environment would hold (a list: comma-separated);
    a table stays a table (``DOTSYNC_PROGRAMS``; any other setting refuses one)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class FileTable(PydanticBaseSettingsSource):
    """One table of ``dotsync.toml`` (the top level, or an ``[accounts.NAME]`` table):
    each variable's name in lower case. A blank value here counts, as it always has."""

    def __init__(self, settings_cls: type[BaseSettings], table: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._table = table

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = field.validation_alias
        if not isinstance(variable, str):  # ``account``: not a setting of the file
            return None, field_name, False
        return self._table.get(variable.lower()), variable, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                out[key] = _as_text(value)
        return out


class Environment(EnvSettingsSource):
    """The environment (or the mapping ``from_env`` was given): only the SPEC §3 names,
    exactly as spelled; an empty variable is an unset one."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        names = {f.validation_alias for f in settings_cls.model_fields.values()}
        self._given = {k: v for k, v in environ.items() if k in names and v != ""}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return dict(self._given)
