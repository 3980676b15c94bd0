"""dotsync migrate killed half-way: the target keeps nothing, and a rerun completes.

The copy is one transaction on the target, so a process killed (SIGKILL) after some
chunks were written leaves the target as it was: not "holding data", so migrate runs
again without --force, and verifies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dotsync.store import Ledger, Store
from dotsync.store.transfer import existing_rows
from tests.e2e.helpers import certificate, customer, stage

ROOT = Path(__file__).resolve().parents[2]


def migrate(source_url: str, target_url: str, failpoint: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOTSYNC_DATABASE_URL": source_url}
    env.pop("DOTSYNC_FAILPOINT", None)
    if failpoint:
        env["DOTSYNC_FAILPOINT"] = failpoint
    command = [sys.executable, "-c", "from dotsync.cli import main; main()", "migrate",
               "--to", target_url, "--chunk-rows", "100"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("nth", [1, 4])
def test_a_migrate_killed_mid_copy_leaves_the_target_empty_and_can_run_again(tmp_path,
                                                                          nth):
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    source = Store(source_url)
    stage(source, "customers", [customer(i) for i in range(250)])
    stage(source, "certificates", [certificate(i, f"customer{i}@example.com")
                                   for i in range(30)])
    Ledger(source).record("certificates", [{"key": f"G{i}", "state": "synced"}
                                           for i in range(30)])
    killed = migrate(source_url, target_url, failpoint=f"migrate_copy:{nth}")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    target = Store(target_url)
    assert existing_rows(target) == {}
    again = migrate(source_url, target_url)
    assert again.returncode == 0, again.stderr
    assert "Every table verified" in again.stdout
    assert Ledger(target).states("certificates") == Ledger(source).states("certificates")
    target.dispose()
    source.dispose()
