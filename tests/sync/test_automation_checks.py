"""Preflight's view of the cart, catalogue and program settings."""

from __future__ import annotations

from dotsync.config import Settings
from dotsync.dotdigital.models import Program
from dotsync.sync.automation_checks import (
    catalog_problems,
    configured_programs,
    program_problems,
)


def test_every_configured_program_must_exist_and_be_active(tmp_path) -> None:
    settings = Settings.from_env(environ={
        "DOTSYNC_CART_PROGRAM_ID": "5",
        "DOTSYNC_PROGRAMS": "first_order=6,refunded=7,order_status:shipped=5"},
        toml_path=tmp_path / "none.toml")
    configured = configured_programs(settings)
    assert configured == {"DOTSYNC_CART_PROGRAM_ID": 5, "DOTSYNC_PROGRAMS first_order": 6,
                          "DOTSYNC_PROGRAMS refunded": 7,
                          "DOTSYNC_PROGRAMS order_status:shipped": 5}
    programs = {5: Program(5, "Cart", "Active"), 6: Program(6, "Welcome", "Draft")}
    problems = program_problems(configured, programs)
    assert [p.setting for p in problems] == ["DOTSYNC_PROGRAMS first_order",
                                             "DOTSYNC_PROGRAMS refunded"]
    assert "is Draft" in problems[0].message and "does not exist" in problems[1].message
    assert program_problems(configured, {**programs, 6: Program(6, "W", "Active"),
                                         7: Program(7, "R", "Active")}) == []


def test_catalogue_names_are_checked() -> None:
    assert catalog_problems(["uk", "de"], None) == []
    (problem,) = catalog_problems(["a b", "a.b"], None)
    assert problem.setting == "DOTSYNC_CATALOG_COLLECTION"
    assert "'a b' and 'a.b'" in problem.message
    assert catalog_problems(["uk"], "9lives")[0].message.startswith(
        "DOTSYNC_CATALOG_COLLECTION '9lives'")
