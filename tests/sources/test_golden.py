"""Golden tests: published payloads of each platform → checked-in staging rows.

A change to a mapping that changes what a published example stages fails here; the
expected rows are in ``tests/sources/golden/`` and documented in docs/SOURCES.md.
"""

from __future__ import annotations

import json

import pytest

from tests.sources.golden_cases import CASES, golden_path, run_case


@pytest.mark.parametrize(("platform", "entity", "fixture"), CASES,
                         ids=[f"{p}-{e}-{f.split('/')[-1]}" for p, e, f in CASES])
def test_published_payload_stages_the_golden_rows(platform, entity, fixture):
    expected = json.loads(golden_path(platform, entity, fixture).read_text())
    assert run_case(platform, entity, fixture) == expected
