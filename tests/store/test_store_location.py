"""Deployed runs on SQLite are refused unless marked single-host with an absolute path."""

from __future__ import annotations

import pytest

from dotsync.store_location import judge


@pytest.mark.parametrize("url, deployed, single_host, ok, words", [
    ("postgresql+psycopg://u:pw@db.internal/shop", True, False, True, "shared by every worker"),
    ("sqlite:///dotsync.db", False, False, True, "for runs on this machine"),
    ("sqlite:///dotsync.db", True, False, False, "empty ledger would send every gift"),
    ("sqlite:////srv/dotsync.db", True, False, False, "another worker host"),
    ("sqlite:///dotsync.db", True, True, False, "is relative"),
    ("sqlite:////srv/dotsync.db", True, True, True, "one host"),
    ("sqlite://", True, True, False, "in-memory"),
])
def test_judge(url, deployed, single_host, ok, words) -> None:
    finding = judge(url, deployed=deployed, single_host=single_host)
    assert finding.ok is ok
    assert words in finding.detail
    assert "pw" not in finding.detail
    if not ok:
        assert finding.fix
