"""``dotsync preflight`` also says what the next run would send (README, "Transactional
e-mails"): an informational line, never a finding that blocks."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dotsync.preflight_cli import preflight_command
from dotsync.store import Store
from tests.preflight.support import certificates, stage
from tests.preflight.test_cli import env  # noqa: F401  (the configured-emulator fixture)


def test_the_next_runs_sends_are_printed_and_in_json(env, monkeypatch):  # noqa: F811
    store = Store(env["DOTSYNC_DATABASE_URL"])
    stage(store, "certificates", certificates(3) + certificates(
        1, expires_at="2001-01-01T00:00:00Z", recipient_email="late@northwind-mail.co.uk",
        code="GC-LATE"))
    store.dispose()
    result = CliRunner().invoke(preflight_command, [])
    assert ("ℹ next run would send 0 order confirmations and 3 certificates (not sent: "
            "1 certificate expired)") in result.output
    monkeypatch.setenv("DOTSYNC_MAX_SENDS_PER_RUN", "2")
    result = CliRunner().invoke(preflight_command, ["--json"])
    payload = json.loads(result.stdout)
    assert payload["next_run_sends"] == {"confirmations": 0, "certificates": 3,
                                         "skipped": {"certificate expired": 1},
                                         "max_sends_per_run": 2}
    text = CliRunner().invoke(preflight_command, []).output
    assert "dotsync sync --allow-sends 3" in text
    # Nothing was written or sent to count them.
    store = Store(env["DOTSYNC_DATABASE_URL"])
    from dotsync.store import Ledger

    assert Ledger(store).frame("certificates").empty
    store.dispose()
