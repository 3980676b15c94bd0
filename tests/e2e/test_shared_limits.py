"""One API budget per account on a real Prefect API: ``dotsync accounts sync-limits``
creates and sizes the limits, and a run's client takes every call from the rate limit
and holds an import slot while each import is in flight (flows/limits.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from dotsync.deployments.cli import main
from dotsync.deployments.crash_detection import NAME as CRASH_AUTOMATION
from dotsync.flows.limits import AccountLimits, SharedLimits, prefect_client, sync_limits

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.e2e.helpers import customer, order, prefect_variables, set_variables, stage, states

pytestmark = pytest.mark.e2e

TOML = """
[accounts.acme]
dotsync_database_url = "sqlite:///{dir}/acme.db"

[accounts.globex]
dotsync_database_url = "sqlite:///{dir}/globex.db"
dotsync_calls_per_minute = {globex_cpm}
"""


def _limits(prefix: str = "dotsync-") -> dict[str, tuple[int, float, bool]]:
    with prefect_client() as client:
        found = client.read_global_concurrency_limits(limit=200)
    return {lim.name: (lim.limit, float(lim.slot_decay_per_second or 0.0), lim.active)
            for lim in found if lim.name.startswith(prefix)}


@pytest.fixture
def no_limits_left(prefect_backend: None) -> Iterator[None]:
    """The harness is shared by the session: no other test may run under these limits."""
    yield
    with prefect_client() as client:
        for name in _limits():
            client.delete_global_concurrency_limit_by_name(name)
        for automation in client.read_automations():
            if automation.name == CRASH_AUTOMATION:
                client.delete_automation(automation.id)


def _crash_automations() -> list[Any]:
    with prefect_client() as client:
        return [a for a in client.read_automations() if a.name == CRASH_AUTOMATION]


def _sync_limits(tmp_path: Any, globex_cpm: int) -> list[str]:
    (tmp_path / "dotsync.toml").write_text(TOML.format(dir=tmp_path, globex_cpm=globex_cpm))
    result = CliRunner().invoke(main, ["accounts", "sync-limits"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_sync_limits_creates_each_accounts_limits_once_and_resizes_them(
        no_limits_left: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOTSYNC_CALLS_PER_MINUTE", raising=False)
    monkeypatch.delenv("DOTSYNC_ACCOUNT", raising=False)
    from prefect.settings import temporary_settings

    # Workers sending a heartbeat every 30 s: a run silent for three is dead.
    with temporary_settings(updates={"flows.heartbeat_frequency": 30}):
        first = _sync_limits(tmp_path, globex_cpm=120)
    assert first == [
        "account acme: settings from dotsync.toml",
        "account globex: settings from dotsync.toml",
        "dotsync-calls-acme: created: 35 calls/min, burst 1",
        "dotsync-contact-imports-acme: created: 25 in flight",
        "dotsync-insight-imports-acme: created: 5 in flight",
        "dotsync-calls-globex: created: 120 calls/min, burst 2",
        "dotsync-contact-imports-globex: created: 25 in flight",
        "dotsync-insight-imports-globex: created: 5 in flight",
        f"automation {CRASH_AUTOMATION!r}: created (Crashed after 90 s without a heartbeat)",
    ]
    created = _limits()
    assert created == {
        "dotsync-calls-acme": (1, pytest.approx(35 / 60), True),
        "dotsync-contact-imports-acme": (25, 0.0, True),
        "dotsync-insight-imports-acme": (5, 0.0, True),
        "dotsync-calls-globex": (2, 2.0, True),
        "dotsync-contact-imports-globex": (25, 0.0, True),
        "dotsync-insight-imports-globex": (5, 0.0, True),
    }

    with temporary_settings(updates={"flows.heartbeat_frequency": 30}):
        again = _sync_limits(tmp_path, globex_cpm=120)
    assert all(": unchanged: " in line for line in again[2:-1]), again
    assert again[-1].startswith(f"automation {CRASH_AUTOMATION!r}: updated")
    assert _limits() == created
    (automation,) = _crash_automations()  # updated in place, not a second one
    assert automation.trigger.posture == "Proactive"
    assert automation.trigger.after == {"prefect.flow-run.heartbeat"}
    assert [a.type for a in automation.actions] == ["change-flow-run-state"]
    assert automation.trigger.within.total_seconds() == 90

    # Prefect's default heartbeat (180 s): never within a healthy run's silence.
    again = _sync_limits(tmp_path, globex_cpm=120)
    assert again[-1].endswith("(Crashed after 540 s without a heartbeat)")
    (automation,) = _crash_automations()
    assert automation.trigger.within.total_seconds() == 540

    resized = _sync_limits(tmp_path, globex_cpm=600)
    assert "dotsync-calls-globex: resized: 600 calls/min, burst 10 (was 2, 120 calls/min)" \
        in resized
    assert sum(": unchanged: " in line for line in resized) == 5
    assert _limits()["dotsync-calls-globex"] == (10, 10.0, True)


@pytest.fixture
def variables(prefect_backend: None) -> Iterator[dict[str, Any]]:
    """Prefect Variables to set for the test (``_set``), deleted afterwards."""
    with prefect_variables() as wanted:
        yield wanted


_set = set_variables


def test_sync_limits_finds_the_accounts_kept_in_prefect_variables(
        no_limits_left: None, variables: dict[str, Any], tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator with no dotsync.toml: the accounts are the server's
    ``dotsync-settings-NAME`` Variables (the shared keys from ``dotsync-settings``). With a
    file, its accounts are added; an account in both keeps its Variable's settings, as
    its runs do."""
    monkeypatch.chdir(tmp_path)
    for name in ("DOTSYNC_CALLS_PER_MINUTE", "DOTSYNC_ACCOUNT", "DOTSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    _set(variables, {
        "dotsync-settings": {"dotsync_calls_per_minute": 120},
        "dotsync-settings-initech": {"dotsync_database_url": f"sqlite:///{tmp_path}/i.db"},
        "dotsync-settings-globex": {"dotsync_database_url": f"sqlite:///{tmp_path}/g.db",
                                    "dotsync_calls_per_minute": 600}})
    result = CliRunner().invoke(main, ["accounts", "sync-limits"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        "account globex: settings from the Prefect Variable 'dotsync-settings-globex'",
        "account initech: settings from the Prefect Variable 'dotsync-settings-initech'"]
    assert {name: limit[:2] for name, limit in _limits().items()} == {
        "dotsync-calls-globex": (10, 10.0), "dotsync-calls-initech": (2, 2.0),
        "dotsync-contact-imports-globex": (25, 0.0), "dotsync-insight-imports-globex": (5, 0.0),
        "dotsync-contact-imports-initech": (25, 0.0),
        "dotsync-insight-imports-initech": (5, 0.0)}

    (tmp_path / "dotsync.toml").write_text(TOML.format(dir=tmp_path, globex_cpm=60))
    again = CliRunner().invoke(main, ["accounts", "sync-limits"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    lines = again.output.splitlines()
    assert lines[:3] == [
        "account acme: settings from dotsync.toml",
        "account globex: settings from the Prefect Variable 'dotsync-settings-globex' "
        "(over dotsync.toml's [accounts.globex])",
        "account initech: settings from the Prefect Variable 'dotsync-settings-initech'"]
    assert "dotsync-calls-acme: created: 35 calls/min, burst 1" in lines
    assert "dotsync-calls-globex: unchanged: 600 calls/min, burst 10" in lines


def test_an_account_variable_without_a_store_is_refused_naming_the_secret_block(
        no_limits_left: None, variables: dict[str, Any], tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOTSYNC_CONFIG", raising=False)
    _set(variables, {"dotsync-settings-hooli": {"dotsync_calls_per_minute": 60}})
    result = CliRunner().invoke(main, ["accounts", "sync-limits"])
    assert result.exit_code == 2, result.output
    assert ("Prefect Variable 'dotsync-settings-hooli' has no dotsync_database_url and "
            "there is no Secret block 'dotsync-database-url-hooli'") in result.output
    assert _limits() == {}  # nothing created for any account


def test_import_slots_are_leased_from_the_server_and_come_back(
        no_limits_left: None) -> None:
    account = AccountLimits("slots-test", calls_per_minute=60, contact_imports=2,
                            insight_imports=1)
    with prefect_client() as client:
        sync_limits(client, [account])
        waits: list[float] = []
        shared = SharedLimits(client, account.calls, account.imports, sleep=waits.append)
        first, second = shared.try_take("contacts"), shared.try_take("contacts")
        assert first is not None and second is not None
        assert shared.try_take("contacts") is None  # the account's 2 are in flight
        assert shared.try_take("insight") is not None  # counted apart
        assert shared.held() == 3
        first()
        again = shared.try_take("contacts")
        assert again is not None
        assert client.read_global_concurrency_limit_by_name(
            account.imports["contacts"]).active_slots == 2
        # The rate limit: one slot, refilled once a second; the second call is told to wait.
        shared.acquire("get_campaign")
        shared.acquire("get_campaign")
        assert waits and all(w > 0 for w in waits)
        shared.close()  # what the client's close() does: every slot goes back
        assert shared.held() == 0
        for name in account.imports.values():
            assert client.read_global_concurrency_limit_by_name(name).active_slots == 0


@pytest.fixture
def slow_imports(env: Any) -> Iterator[EmulatorServer]:
    """Imports that take a while, so a run would have many in flight if nothing held it."""
    with EmulatorServer(EmulatorConfig(import_delay=0.3, random_seed=1)) as server:
        env.emulator = server
        yield server


def test_a_run_keeps_to_the_accounts_import_slots_and_takes_each_call_from_the_rate_limit(
        no_limits_left: None, env: Any, slow_imports: EmulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOTDIGITAL_API_ENDPOINT", slow_imports.url)
    monkeypatch.delenv("DOTSYNC_ACCOUNT", raising=False)
    with prefect_client() as client:
        sync_limits(client, [AccountLimits("default", calls_per_minute=60_000,
                                           contact_imports=2, insight_imports=1)])
    acquired: list[str] = []
    original = SharedLimits.acquire

    def counted(self: SharedLimits, operation: str) -> None:
        acquired.append(operation)
        original(self, operation)

    monkeypatch.setattr(SharedLimits, "acquire", counted)
    stage(env.store, "customers", [customer(i) for i in range(40)])
    stage(env.store, "orders", [order(i, f"customer{i}@example.com") for i in range(40)])

    state = env.sync(bulk_threshold=0, import_max_bytes=1_500)
    assert state.is_completed(), state.message
    assert set(states(env.store, "customers").values()) == {"synced"}
    assert set(states(env.store, "orders").values()) == {"synced"}
    emulator = slow_imports.state
    contact_imports = [i for i in emulator.imports() if i["kind"] == "contacts"]
    assert len(contact_imports) >= 4  # enough that a run alone would have more in flight
    assert emulator.max_active_imports("contacts") == 2
    assert emulator.max_active_imports("insight") == 1
    api_calls = [c for c in emulator.calls() if not c["path"].startswith("/_emulator")]
    assert len(acquired) == len(api_calls)
