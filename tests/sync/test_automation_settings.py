"""Cart, catalogue and program settings (SPEC §3): defaults, parsing, and errors that
name the variable."""

from __future__ import annotations

import pytest

from dotsync.config import ConfigError, Settings


def _settings(tmp_path, toml: str | None = None, **env: str) -> Settings:
    path = tmp_path / "dotsync.toml"
    if toml is not None:
        path.write_text(toml)
    return Settings.from_env(environ=env, toml_path=path)


def test_defaults(tmp_path) -> None:
    s = _settings(tmp_path)
    assert (s.cart_program_id, s.cart_idle_minutes, s.cart_reenrol_hours,
            s.catalog_collection, s.programs) == (None, 60, 24, None, ())


def test_values_from_the_environment(tmp_path) -> None:
    s = _settings(tmp_path, DOTSYNC_CART_PROGRAM_ID="77", DOTSYNC_CART_IDLE_MINUTES="30",
                  DOTSYNC_CART_REENROL_HOURS="0", DOTSYNC_CATALOG_COLLECTION=" catalog_all ",
                  DOTSYNC_PROGRAMS="first_order=101, order_status:Shipped=102,refunded=103")
    assert (s.cart_program_id, s.cart_idle_minutes, s.cart_reenrol_hours) == (77, 30, 0)
    assert s.catalog_collection == "catalog_all"
    assert s.programs == (("first_order", 101), ("order_status:shipped", 102),
                          ("refunded", 103))


def test_programs_as_a_toml_table_and_the_environment_wins(tmp_path) -> None:
    toml = "[dotsync_programs]\nfirst_order = 5\n\"order_status:complete\" = 6\n"
    assert _settings(tmp_path, toml).programs == (("first_order", 5),
                                                  ("order_status:complete", 6))
    assert _settings(tmp_path, toml, DOTSYNC_PROGRAMS="refunded=9").programs == (
        ("refunded", 9),)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DOTSYNC_CART_PROGRAM_ID": "abc"}, "DOTSYNC_CART_PROGRAM_ID"),
        ({"DOTSYNC_CART_PROGRAM_ID": "0"}, "DOTSYNC_CART_PROGRAM_ID"),
        ({"DOTSYNC_CART_IDLE_MINUTES": "0"}, "DOTSYNC_CART_IDLE_MINUTES"),
        ({"DOTSYNC_CART_IDLE_MINUTES": "-5"}, "DOTSYNC_CART_IDLE_MINUTES"),
        ({"DOTSYNC_CART_REENROL_HOURS": "1.5"}, "DOTSYNC_CART_REENROL_HOURS"),
        ({"DOTSYNC_PROGRAMS": "birthday=4"}, "unknown event 'birthday'"),
        ({"DOTSYNC_PROGRAMS": "first_order"}, "is not event=program_id"),
        ({"DOTSYNC_PROGRAMS": "first_order=x"}, "program id of 'first_order'"),
        ({"DOTSYNC_PROGRAMS": "refunded=1,refunded=2"}, "given twice"),
        ({"DOTSYNC_PROGRAMS": "order_status:=1"}, "unknown event"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, words) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, **env)
    assert words in str(caught.value)
    name = next(iter(env))
    assert name in str(caught.value)
