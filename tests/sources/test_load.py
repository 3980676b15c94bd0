"""``load --format``: file shapes, wrong kinds, references, idempotence, credit memos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotsync.cli import main
from dotsync.sources.load import load_platform_file
from dotsync.store import LoadError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request):
    """The same behaviour on both databases dotsync supports."""
    return request.getfixturevalue(f"{request.param}_store")


def _shopify_customer(i: int, **extra):
    return {"id": i, "email": f"c{i}@example.com", "first_name": f"N{i}",
            "updated_at": "2024-01-01T00:00:00Z",
            "email_marketing_consent": {"state": "subscribed"}, **extra}


def _shopify_order(i: int, **extra):
    return {"id": 1000 + i, "email": f"c{i}@example.com", "currency": "USD",
            "total_price": "12.50", "financial_status": "paid",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
            "customer": {"id": i}, "line_items": [{"name": "Mug", "quantity": 1,
                                                   "price": "12.50", "sku": "MUG"}],
            **extra}


@pytest.mark.parametrize("shape", ["envelope", "array", "jsonl", "single", "wrapped",
                                   "pages"])
def test_every_file_shape_loads_the_same_rows(sqlite_store, tmp_path, shape):
    orders = [_shopify_order(i) for i in range(3)]
    path = tmp_path / "orders.json"
    if shape == "envelope":
        path.write_text(json.dumps({"orders": orders}, indent=2))
    elif shape == "array":
        path.write_text(json.dumps(orders))
    elif shape == "jsonl":
        path.write_text("\n".join(json.dumps(o) for o in orders) + "\n")
    elif shape == "pages":
        path.write_text(json.dumps({"orders": orders[:2]}) + "\n"
                        + json.dumps({"orders": orders[2:]}) + "\n")
    elif shape == "single":
        orders = orders[:1]
        path.write_text(json.dumps(orders[0], indent=2))
    else:
        orders = orders[:1]
        path.write_text(json.dumps({"order": orders[0]}, indent=2))
    report = load_platform_file(sqlite_store, "shopify", "orders", path)
    assert report.counts.inserted == len(orders) and not report.problems
    staged = sqlite_store.read_staged("orders")
    assert sorted(staged["order_id"]) == sorted(str(o["id"]) for o in orders)


def test_loading_twice_changes_nothing(any_store, tmp_path):
    sqlite_store = any_store
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"customers": [_shopify_customer(i) for i in range(5)]}))
    first = load_platform_file(sqlite_store, "shopify", "customers", path)
    before = sqlite_store.read_staged("customers").sort_values("customer_id")
    second = load_platform_file(sqlite_store, "shopify", "customers", path)
    after = sqlite_store.read_staged("customers").sort_values("customer_id")
    assert first.counts.inserted == 5
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged) == (0, 0, 5)
    assert before.equals(after)


@pytest.mark.parametrize(("platform", "entity", "payload", "found"), [
    ("shopify", "orders", {"customers": [_shopify_customer(1)]}, "'customers'"),
    ("shopify", "customers", [_shopify_order(1)], "an order"),
    ("commercetools", "orders", {"results": [{"id": "c", "email": "a@example.com",
                                              "addresses": []}]}, "a customer"),
    ("adobe-commerce", "orders", {"entity_id": 1, "order_id": 7, "adjustment": 0,
                                  "increment_id": "1", "items": [{"sku": "x"}]},
     "a credit memo"),
])
def test_a_file_of_the_wrong_kind_is_refused(sqlite_store, tmp_path, platform, entity,
                                             payload, found):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(payload, indent=2))
    with pytest.raises(LoadError, match="expected") as info:
        load_platform_file(sqlite_store, platform, entity, path)
    assert found in str(info.value)
    assert sqlite_store.count_staged(entity) == 0


def test_a_single_credit_memo_is_not_read_as_a_search_result(sqlite_store, tmp_path):
    memo = {"adjustment": 0, "entity_id": 5, "order_id": 7, "grand_total": 10,
            "increment_id": "000000001",
            "items": [{"entity_id": 1, "order_item_id": 3, "qty": 1, "sku": "x"}]}
    path = tmp_path / "memo.json"
    path.write_text(json.dumps(memo, indent=2))
    with pytest.raises(LoadError, match="found a credit memo"):
        load_platform_file(sqlite_store, "adobe-commerce", "orders", path)


def test_each_unmappable_object_is_reported_with_its_id_and_the_rest_load(sqlite_store,
                                                                          tmp_path):
    lines = [json.dumps(_shopify_order(1)), "{not json",
             json.dumps(_shopify_order(2, total_price=None)), json.dumps(_shopify_order(3)),
             json.dumps(_shopify_order(4, id="\x00bad"))]
    path = tmp_path / "o.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = load_platform_file(sqlite_store, "shopify", "orders", path)
    assert report.counts.inserted == 2
    reasons = {(p.line, p.key): p.reason for p in report.problems}
    assert "not valid JSON" in reasons[(2, None)]
    assert reasons[(3, "1002")] == "total_price is missing"
    assert "NUL" in next(r for (line, _), r in reasons.items() if line == 5)
    assert {p.unit for p in report.problems} == {"line"}
    assert report.as_dict()["format"] == "shopify"


def test_an_order_with_only_a_customer_id_takes_that_customers_email(sqlite_store, tmp_path):
    customers = tmp_path / "c.json"
    customers.write_text(json.dumps({"results": [
        {"id": "cust-1", "email": "real@example.com", "lastModifiedAt": "2024-01-01T00:00:00Z"}
    ]}))
    orders = tmp_path / "o.json"
    base = {"createdAt": "2024-01-01T00:00:00Z", "lastModifiedAt": "2024-01-01T00:00:00Z",
            "orderState": "Open", "totalPrice": {"currencyCode": "EUR", "centAmount": 100,
                                                 "fractionDigits": 2},
            "lineItems": [{"name": {"en": "x"}, "quantity": 1, "variant": {"sku": "x"},
                           "price": {"value": {"currencyCode": "EUR", "centAmount": 100,
                                               "fractionDigits": 2}}}]}
    orders.write_text(json.dumps({"results": [
        {**base, "id": "o-1", "customerId": "cust-1"},
        {**base, "id": "o-2", "customerId": "nobody"},
        {**base, "id": "o-3", "customerId": None},
    ]}))
    load_platform_file(sqlite_store, "commercetools", "customers", customers)
    load_platform_file(sqlite_store, "commercetools", "orders", orders)
    staged = sqlite_store.read_staged("orders").set_index("order_id")
    assert staged.loc["o-1", "customer_email"] == "real@example.com"
    assert staged.loc["o-2", "customer_email"] is None  # never another customer's
    assert staged.loc["o-3", "customer_id"] is None


def test_adobe_credit_memos_set_refunded_once(any_store, tmp_path):
    sqlite_store = any_store
    order = json.loads((FIXTURES / "adobe-commerce/GET_V1_orders_id.response.json").read_text())
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"items": [order], "total_count": 1}))
    memos = tmp_path / "memos.json"
    memos.write_text(json.dumps({"items": [
        {"entity_id": 1, "order_id": 3, "grand_total": 22, "adjustment": 0, "items": []},
        {"entity_id": 2, "order_id": 3, "grand_total": 5.5, "adjustment": 0, "items": []},
        {"entity_id": 3, "order_id": 99, "grand_total": 1, "adjustment": 0, "items": []},
    ], "search_criteria": {}, "total_count": 3}))
    load_platform_file(sqlite_store, "adobe-commerce", "orders", orders)
    first = load_platform_file(sqlite_store, "adobe-commerce", "creditmemos", memos)
    again = load_platform_file(sqlite_store, "adobe-commerce", "creditmemos", memos)
    staged = sqlite_store.read_staged("orders")
    assert staged.loc[0, "refunded"] == "27.5"
    assert first.counts.updated == 1 and again.counts.unchanged == 1
    assert [p.key for p in first.problems] == ["3"]
    assert "entity_id 99" in first.problems[0].reason
    # The order exported again (no total_refunded) keeps what its credit memos gave.
    again_orders = load_platform_file(sqlite_store, "adobe-commerce", "orders", orders)
    assert again_orders.counts.unchanged == 1
    assert sqlite_store.read_staged("orders").loc[0, "refunded"] == "27.5"


def test_gift_card_recipient_must_be_a_staged_customer(sqlite_store, tmp_path):
    customers = tmp_path / "c.json"
    customers.write_text(json.dumps({"customers": [_shopify_customer(1)]}))
    cards = tmp_path / "g.json"
    card = {"initial_value": "50.00", "currency": "USD", "code": "ABCD1234",
            "updated_at": "2024-01-01T00:00:00Z", "expires_on": "2030-01-02"}
    cards.write_text(json.dumps({"gift_cards": [
        {**card, "id": 1, "customer_id": 1}, {**card, "id": 2, "customer_id": 2},
        {**card, "id": 3, "customer_id": None}]}))
    load_platform_file(sqlite_store, "shopify", "customers", customers)
    report = load_platform_file(sqlite_store, "shopify", "certificates", cards,
                                link_template="https://shop.example/g/{code}")
    staged = sqlite_store.read_staged("certificates")
    assert staged["certificate_id"].tolist() == ["1"]
    assert staged.loc[0, "recipient_email"] == "c1@example.com"
    assert staged.loc[0, "link"] == "https://shop.example/g/ABCD1234"
    assert staged.loc[0, "expires_at"] == "2030-01-02T23:59:59+00:00"
    assert {p.key for p in report.problems} == {"2", "3"}


def test_cli_load_format_prints_counts_and_refuses_unknown_entities(tmp_path, monkeypatch):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    runner = CliRunner()
    ok = runner.invoke(main, ["load", "--format", "shopify", "orders",
                              str(FIXTURES / "shopify/orders.json")])
    assert ok.exit_code == 0, ok.output
    assert "1 inserted" in ok.output
    refused = runner.invoke(main, ["load", "--format", "commercetools", "certificates",
                                   str(FIXTURES / "shopify/orders.json")])
    assert refused.exit_code == 2 and "no gift cards" in refused.output


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "email", "line_items", "total_price", "currency",
                         "updated_at", "customer", "items", "orders"]) | st.text(max_size=4),
        c, max_size=5),
    max_leaves=20)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.lists(st.dictionaries(st.sampled_from(
    ["id", "email", "line_items", "total_price", "currency", "updated_at", "customer",
     "orders", "customers"]) | st.text(max_size=4), _any_json, max_size=6),
    min_size=1, max_size=4))
def test_arbitrary_json_lines_are_reported_never_raised(tmp_path_factory, values):
    from dotsync.store import Store

    tmp = tmp_path_factory.mktemp("anyjson")
    path = tmp / "x.jsonl"
    path.write_text("\n".join(json.dumps(v) for v in values) + "\n[[[[\n")
    store = Store(f"sqlite:///{tmp / 'db.sqlite'}")
    try:
        report = load_platform_file(store, "shopify", "orders", path)
    except LoadError as exc:  # a first object of another kind refuses the file
        assert "expected" in str(exc)
    else:
        assert report.rows >= len(report.problems)
        assert any("not valid JSON" in p.reason for p in report.problems)
    finally:
        store.dispose()


def test_two_process_load_gives_the_same_rows_problems_and_refusals(sqlite_store, tmp_path):
    orders = [_shopify_order(i) for i in range(25)] + [_shopify_order(99, total_price=None)]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": orders}, indent=1))
    report = load_platform_file(sqlite_store, "shopify", "orders", path, workers=2,
                                batch_rows=10)
    assert (report.rows, report.counts.inserted) == (26, 25)
    assert [(p.where, p.reason) for p in report.problems] == [
        ("element 26 (1099)", "total_price is missing")]
    one = load_platform_file(sqlite_store, "shopify", "orders", path, workers=1)
    assert (one.counts.unchanged, len(one.problems)) == (25, 1)
    wrong = tmp_path / "customers.json"
    wrong.write_text(json.dumps([_shopify_customer(1)], indent=1))
    with pytest.raises(LoadError, match="found a customer"):
        load_platform_file(sqlite_store, "shopify", "orders", wrong, workers=2)
