"""The programs check (issue 16): every configured program exists and is Active, or
the preflight fails naming the setting; nothing configured passes."""

from __future__ import annotations

import pytest

PROGRAMS = [{"id": 700, "name": "Abandoned cart"},
            {"id": 701, "name": "Welcome", "status": "Draft"},
            {"id": 702, "name": "Refund follow-up", "status": "Deactivated"}]


def test_no_program_configured_passes(emulator, preflight):
    check = preflight(emulator()).check("programs")
    assert check.ok and "no program configured" in check.detail


def test_an_active_cart_program_and_event_programs_pass(emulator, preflight):
    result = preflight(emulator(seed={"programs": PROGRAMS}), cart_program_id=700,
                       programs=(("first_order", 700),))
    check = result.check("programs")
    assert check.ok, check.detail
    assert "700" in check.detail


@pytest.mark.parametrize("fields, setting, words", [
    ({"cart_program_id": 999}, "DOTSYNC_CART_PROGRAM_ID", "does not exist"),
    ({"cart_program_id": 701}, "DOTSYNC_CART_PROGRAM_ID", "Draft"),
    ({"programs": (("refunded", 702),)}, "DOTSYNC_PROGRAMS refunded", "Deactivated"),
])
def test_a_missing_or_inactive_program_fails_naming_the_setting(emulator, preflight, fields,
                                                               setting, words):
    result = preflight(emulator(seed={"programs": PROGRAMS}), **fields)
    check = result.check("programs")
    assert check.status == "fail" and not result.ok
    assert setting in check.detail and words in check.detail
    assert setting.split()[0] in check.fix
