"""The worker pool gives the same answers as in-process work, and is optional."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dotsync.data_contracts import parallel, validate_customers
from dotsync.data_contracts.columns import email_column, phone_column

from tests.contracts.conftest import customer, frame

NUMBERS = [f"07911 123{i:03d}" for i in range(300)] + [f"+44 20 7946 0{i:03d}" for i in range(300)]
EMAILS = [f"Ünï{i}@bücher.de" for i in range(300)] + [f"bad{i}@@x" for i in range(300)]


def _obj(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _columns() -> tuple:
    regions = _obj(["GB"] * len(NUMBERS))
    phones = phone_column(_obj(NUMBERS), regions).result()
    emails = email_column(_obj(EMAILS)).result()
    return phones, emails


@pytest.mark.timeout(120)
def test_pool_and_in_process_work_agree() -> None:
    serial = _columns()
    parallel.configure(max_workers=2, min_items=10)
    try:
        pooled = _columns()
        assert parallel._executor is not None  # the pool really ran
    finally:
        parallel.reset()
    for (a_values, a_reasons), (b_values, b_reasons) in zip(serial, pooled, strict=True):
        assert a_values.tolist() == b_values.tolist()
        assert a_reasons.tolist() == b_reasons.tolist()


@pytest.mark.timeout(120)
def test_contract_result_is_the_same_with_the_pool() -> None:
    rows = [customer(customer_id=f"c{i}", email=EMAILS[i], mobile_number=NUMBERS[i])
            for i in range(len(NUMBERS))]
    serial = validate_customers(frame(rows), "GB")
    parallel.configure(max_workers=2, min_items=10)
    try:
        pooled = validate_customers(frame(rows), "GB")
    finally:
        parallel.reset()
    pd.testing.assert_frame_equal(serial.valid, pooled.valid)
    pd.testing.assert_frame_equal(serial.rejects, pooled.rejects)


def test_small_batches_stay_in_process() -> None:
    parallel.configure(max_workers=2)
    try:
        job = parallel.map_batches(_double, list(range(10)))
        assert not job.parallel and job.result() == [2 * i for i in range(10)]
        assert parallel._executor is None
    finally:
        parallel.reset()


def test_a_broken_pool_falls_back_to_in_process_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*_a: object, **_k: object) -> None:
        raise OSError("no /dev/shm here")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    parallel.configure(max_workers=2, min_items=1)
    try:
        job = parallel.map_batches(_double, [1, 2, 3])
        assert job.result() == [2, 4, 6]
        assert not job.parallel
    finally:
        parallel.reset()


def test_workers_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parallel.reset()
    monkeypatch.setenv("DOTSYNC_CONTRACT_WORKERS", "0")
    assert parallel.workers() == 0
    monkeypatch.setenv("DOTSYNC_CONTRACT_WORKERS", "three")
    assert parallel.workers() == min(parallel.available_cpus(), 8)


def _double(items: list[int]) -> list[int]:
    return [2 * i for i in items]

