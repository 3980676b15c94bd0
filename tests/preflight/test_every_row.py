"""Every data check on empty tables, and on tables where every row is the finding.

Issue 12: when every staged certificate went to ``test@example.com``, four certificate
checks crashed (``KeyError: 2`` from an empty pandas frame) and said "could not read
staged certificates" instead of naming the placeholder. These tests stage tables where
*all* rows match one finding (so the frames that are left after a filter are empty), and
a property test stages arbitrary text and asserts that no check ever breaks.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotsync.preflight import run_preflight
from dotsync.store import Store
from tests.preflight.support import certificates, make_settings, stage

CERTIFICATE_CHECKS = ("certificate_campaign", "example_campaign_ids", "certificate_recipients",
                      "certificate_links")
DATA_CHECKS = (*CERTIFICATE_CHECKS, "order_currencies", "data_fields")


def _no_check_broke(result) -> None:
    for check in result.checks:
        assert "the check itself failed" not in check.detail, check
        assert "could not read staged" not in check.detail, check


def test_empty_tables_pass_every_data_check(emulator, preflight):
    result = preflight(emulator())
    _no_check_broke(result)
    for name in DATA_CHECKS:
        assert result.check(name).ok, result.check(name)


@pytest.mark.parametrize("address", ["test@example.com", "TEST@Example.com ", "john@example.com"])
def test_every_certificate_to_a_known_test_address_names_it(emulator, preflight, store,
                                                            address):
    stage(store, "certificates", certificates(6, recipient_email=address))
    result = preflight(emulator())
    _no_check_broke(result)
    check = result.check("certificate_recipients")
    assert check.status == "fail"
    assert address.strip().lower() in check.detail and "test addresses" in check.detail
    for name in ("certificate_campaign", "example_campaign_ids", "certificate_links"):
        assert result.check(name).ok, result.check(name)


def test_every_certificate_to_a_reserved_domain_warns(emulator, preflight, store):
    stage(store, "certificates", certificates(3, recipient_email=lambda i: f"b{i}@shop.test"))
    result = preflight(emulator())
    _no_check_broke(result)
    check = result.check("certificate_recipients")
    assert check.status == "warn" and "shop.test (3)" in check.detail


def test_every_certificate_to_a_test_inbox_warns(emulator, preflight, store):
    stage(store, "certificates", certificates(
        3, recipient_email=lambda i: f"test@northwind-{i}.co.uk"))
    check = preflight(emulator()).check("certificate_recipients")
    assert check.status == "warn" and "test inboxes" in check.detail


def test_every_certificate_to_one_address_fails(emulator, preflight, store):
    stage(store, "certificates", certificates(5, recipient_email="gifts@northwind-mail.co.uk"))
    check = preflight(emulator()).check("certificate_recipients")
    assert check.status == "fail" and "5 of 5 certificates go to one address" in check.detail


@pytest.mark.parametrize(("link", "status", "expected"), [
    (None, "fail", "5 certificates have no link"),
    ("http://shop.northwind.co.uk/gift", "fail", "not https"),
    ("https://shop.northwind.co.uk/gift", "fail", "shared by several certificates"),
    (lambda i: f"https://shop.example.com/{i}", "warn", "'example.com'"),
])
def test_every_link_with_the_same_problem(emulator, preflight, store, link, status, expected):
    stage(store, "certificates", certificates(5, link=link))
    result = preflight(emulator())
    _no_check_broke(result)
    check = result.check("certificate_links")
    assert check.status == status and expected in check.detail


def test_every_certificate_with_an_example_campaign_id(emulator, preflight, store):
    stage(store, "certificates", certificates(4, campaign_id="1234"))
    result = preflight(emulator())
    _no_check_broke(result)
    check = result.check("example_campaign_ids")
    assert check.status == "fail" and "campaign_id 1234 on 4 certificates" in check.detail


def test_every_certificate_without_a_campaign_and_no_setting(emulator, preflight, store):
    stage(store, "certificates", certificates(4))
    check = preflight(emulator(), certificate_campaign_id=None).check("certificate_campaign")
    assert check.status == "fail" and "4 certificates have no campaign_id" in check.detail


@pytest.mark.parametrize(("currency", "expected"), [
    (None, "3 orders have no currency"),
    ("EURO", "'EURO' (3)"),
])
def test_every_order_with_the_same_currency_problem(emulator, preflight, store, currency,
                                                    expected):
    stage(store, "orders", [{"customer_email": f"c{i}@northwind-mail.co.uk",
                             "currency": currency} for i in range(3)])
    check = preflight(emulator()).check("order_currencies")
    assert check.status == "fail" and expected in check.detail


_TEXT = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "@", "a@", "@b", "test@example.com", "x@localhost", "1234",
                     "1001", "-3", "1e3", "http://", "https://x", "{{link}}", "GBP", "usd",
                     "£", "uk-web", "GB", "US", "ZZ"]),
    st.text(max_size=12),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(certs=st.lists(st.fixed_dictionaries({"recipient_email": _TEXT, "link": _TEXT,
                                             "campaign_id": _TEXT}), max_size=8),
       orders=st.lists(st.fixed_dictionaries({"currency": _TEXT, "store": _TEXT}), max_size=6),
       custs=st.lists(st.fixed_dictionaries({
           "country": _TEXT, "store": _TEXT, "first_name": _TEXT,
           "data_fields": st.one_of(_TEXT, st.dictionaries(
               st.text(max_size=22), st.one_of(st.none(), st.booleans(), st.integers(),
                                               st.floats(allow_nan=False), st.text(max_size=8),
                                               st.lists(st.integers(), max_size=2)),
               max_size=3).map(json.dumps))}), max_size=6),
       chunk=st.integers(1, 4))
def test_no_data_check_ever_breaks(certs, orders, custs, chunk):
    """Whatever text is staged, every data check gives a verdict instead of breaking."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'p.db'}")
        try:
            for entity, rows in (("certificates", certs), ("orders", orders),
                                 ("customers", custs)):
                if rows:
                    stage(store, entity, rows)
            result = run_preflight(make_settings(), store, None, chunk_rows=chunk)
        finally:
            store.dispose()
    _no_check_broke(result)
    for name in DATA_CHECKS:
        assert result.check(name).status in ("pass", "fail", "warn", "skipped")
