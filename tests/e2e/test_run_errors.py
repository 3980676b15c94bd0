"""A run that fails on something other than configuration says so, with its traceback."""

from __future__ import annotations

from tests.e2e.helpers import customer, stage


def test_a_bug_in_a_run_is_not_reported_as_a_configuration_error(env, monkeypatch):
    """Prefect fails the run with the exception (its traceback goes to the run's logs)."""
    stage(env.store, "customers", [customer(1)])

    def broken(*_a, **_k):
        raise ValueError("a bug deep inside")

    monkeypatch.setattr("dotsync.sync.engine.SyncEngine.push_contacts", broken)
    state = env.sync(entities=["contacts"])
    assert state.is_failed()
    assert "configuration error" not in (state.message or "")
    assert "ValueError: a bug deep inside" in (state.message or "")


def test_a_missing_api_user_is_still_a_configuration_error(env, monkeypatch):
    monkeypatch.delenv("DOTDIGITAL_API_USER")
    state = env.sync(entities=["contacts"])
    assert state.is_failed()
    assert (state.message or "").startswith("configuration error: ")
    assert "DOTDIGITAL_API_USER" in state.message
