"""The account census answers membership exactly (up to 64-bit hash collisions), empty
or not: an empty account (a first load) holds no one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dotsync.sync.consent_census import Census

names = st.sets(st.text(min_size=1, max_size=30), max_size=40)


@given(held=names, asked=names)
def test_holds_exactly_the_identities_it_was_built_from(held, asked):
    census = Census.of(held)
    assert len(census) == len(held)
    for name in held | asked:
        assert census.holds(name) == (name in held)


def test_an_empty_account_holds_no_one():
    census = Census.of([])
    assert len(census) == 0
    assert not census.holds("jane@example.com")
    assert not census.holds("mobile:+447400123456")
