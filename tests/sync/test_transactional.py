"""The rules that decide whether a confirmation or certificate goes out at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dotsync.config import ConfigError, Settings
from dotsync.store import Store
from dotsync.sync.transactional import (
    BEFORE_ENABLED,
    NO_CONFIRMATION_STATUS,
    TOO_OLD,
    SendPlan,
    cap_exceeded,
    certificate_expired,
    confirmation_skip,
    confirmations_enabled_at,
    enable_confirmations,
)

NOW = pd.Timestamp("2026-11-10T12:00:00Z")
ENABLED = datetime(2026, 11, 1, tzinfo=UTC)


def _settings(**env: str) -> Settings:
    return Settings.from_env(env, toml_path="/nonexistent/dotsync.toml")


@pytest.mark.parametrize(("raw", "expected"), [
    ("72h", timedelta(hours=72)), ("3d", timedelta(days=3)), ("90m", timedelta(minutes=90)),
    ("1d12h", timedelta(hours=36)), (" 45 S ", timedelta(seconds=45)), ("", timedelta(hours=72)),
])
def test_confirmation_max_age_forms(raw: str, expected: timedelta) -> None:
    assert _settings(DOTSYNC_CONFIRMATION_MAX_AGE=raw).confirmation_max_age == expected


@pytest.mark.parametrize("raw", ["72", "3 days", "-1h", "0h", "h", "1.5h", "3w"])
def test_a_bad_max_age_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="DOTSYNC_CONFIRMATION_MAX_AGE"):
        _settings(DOTSYNC_CONFIRMATION_MAX_AGE=raw)


def test_statuses_and_cap_settings() -> None:
    s = _settings(DOTSYNC_NO_CONFIRMATION_STATUSES=" On_Hold ,FRAUD,",
                  DOTSYNC_MAX_SENDS_PER_RUN="12")
    assert s.no_confirmation_statuses == ("on_hold", "fraud")
    assert s.max_sends_per_run == 12
    default = _settings()
    assert default.max_sends_per_run == 5000
    assert "cancelled" in default.no_confirmation_statuses
    for bad in ("many", "-5"):
        with pytest.raises(ConfigError, match="DOTSYNC_MAX_SENDS_PER_RUN"):
            _settings(DOTSYNC_MAX_SENDS_PER_RUN=bad)


@pytest.mark.parametrize(("status", "placed", "why"), [
    ("complete", "2026-11-10T10:00:00Z", None),
    ("CANCELLED", "2026-11-10T10:00:00Z", NO_CONFIRMATION_STATUS),
    (" Voided ", "2026-11-10T10:00:00Z", NO_CONFIRMATION_STATUS),
    ("complete", "2026-10-31T23:59:59Z", BEFORE_ENABLED),
    ("complete", "2026-11-07T11:59:59Z", TOO_OLD),
    ("complete", "2026-11-07T12:00:00Z", None),
    ("complete", "not a date", TOO_OLD),
])
def test_confirmation_skip(status: str, placed: str, why: str | None) -> None:
    assert confirmation_skip(status, placed, NOW, ENABLED, _settings()) == why


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from(["placed", "complete", "cancelled", "refunded", "Closed"]))
def test_a_confirmation_is_sent_only_when_every_rule_allows(placed: datetime,
                                                          status: str) -> None:
    settings = _settings()
    why = confirmation_skip(status, placed.isoformat(), NOW, ENABLED, settings)
    allowed = (status.lower() not in settings.no_confirmation_statuses
               and placed >= ENABLED and pd.Timestamp(placed) >= NOW - timedelta(hours=72))
    assert (why is None) == allowed


def test_certificate_expiry() -> None:
    assert certificate_expired("2026-11-10T11:59:59Z", NOW)
    assert not certificate_expired("2026-11-10T12:00:01Z", NOW)
    assert not certificate_expired(None, NOW)
    assert not certificate_expired(pd.NaT, NOW)


def test_confirmations_are_enabled_once(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    assert confirmations_enabled_at(store) is None
    first = enable_confirmations(store, ENABLED)
    assert first == ENABLED
    assert enable_confirmations(store, ENABLED + timedelta(days=5)) == ENABLED
    assert confirmations_enabled_at(store) == ENABLED
    store.dispose()


def test_the_cap_message_says_how_many_and_how_to_allow() -> None:
    plan = SendPlan(confirmations=2, certificates=5999)
    message = cap_exceeded(plan, 5000, by_flag=False)
    assert message is not None
    assert "6001 transactional e-mails (2 order confirmations, 5999 certificates)" in message
    assert "DOTSYNC_MAX_SENDS_PER_RUN (5000)" in message
    assert "dotsync sync --allow-sends 6001" in message and "allow_sends" in message
    assert cap_exceeded(plan, 6001, by_flag=True) is None
    assert "--allow-sends 10 allows" in str(cap_exceeded(plan, 10, by_flag=True))
    assert cap_exceeded(SendPlan(), 0, by_flag=False) is None
