"""The steps' small conversions: ``keys_in`` answers as pandas' ``isin`` on text would."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from dotsync.sync.steps.records import keys_in

values = st.one_of(st.text(max_size=6), st.integers(-50, 50))


@given(st.lists(values, max_size=30), st.sets(st.text(max_size=6), max_size=30))
def test_keys_in_matches_isin_on_the_text_of_each_value(column: list, keys: set[str]) -> None:
    series = pd.Series(column, dtype=object, index=[i * 3 for i in range(len(column))])
    expected = series.astype(object).map(str).isin(keys)
    got = keys_in(series, keys)
    assert got.dtype == bool
    assert got.index.equals(series.index)
    assert got.tolist() == expected.tolist()


def test_keys_in_takes_any_collection_and_an_empty_series() -> None:
    series = pd.Series(["O1", 7, "O3"], dtype=object)
    assert keys_in(series, ["7", "O3"]).tolist() == [False, True, True]
    assert keys_in(series, frozenset({"O1"})).tolist() == [True, False, False]
    empty = keys_in(pd.Series([], dtype=object), {"O1"})
    assert empty.empty and empty.dtype == bool


def test_keys_in_filters_a_frame_like_the_steps_do() -> None:
    rejects = pd.DataFrame({"key": ["C1", "C2", "C9"], "reason": ["a", "b", "c"]})
    kept = rejects[keys_in(rejects["key"], {"C2", "C9", "C100"})]
    assert kept["reason"].tolist() == ["b", "c"]
