"""Adobe Commerce shipments and gift card accounts: documents that change staged
orders and certificates (status, fulfilment time, expiry), loaded once, never
attached to a row they do not name."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from dotsync.cli import main
from dotsync.sources import adobe_commerce, mapper
from dotsync.sources.base import map_safely
from dotsync.sources.extract import SourceConfig, build_source, extract
from dotsync.sources.load import load_platform_file
from dotsync.store import LoadError

FIXTURES = Path(__file__).parent / "fixtures" / "adobe-commerce"


def _order(entity_id: int, *, state: str = "processing", status: str = "processing",
           items: list[dict] | None = None, **extra) -> dict:
    return {"entity_id": entity_id, "increment_id": f"1000{entity_id}", "state": state,
            "status": status, "customer_email": f"c{entity_id}@example.com",
            "customer_is_guest": 1, "order_currency_code": "EUR", "grand_total": 30,
            "created_at": "2024-05-01 09:00:00", "updated_at": "2024-05-01 09:00:00",
            "items": items if items is not None else [
                {"item_id": 1, "sku": "MUG", "name": "Mug", "qty_ordered": 2, "price": 10,
                 "qty_shipped": 0},
                {"item_id": 2, "sku": "TEA", "name": "Tea", "qty_ordered": 1, "price": 10,
                 "qty_shipped": 0}],
            **extra}


def _shipment(entity_id: int, order_id: int, qtys: list[int],
              at: str = "2024-05-03 14:30:00") -> dict:
    return {"entity_id": entity_id, "increment_id": f"S{entity_id}", "order_id": order_id,
            "created_at": at, "updated_at": at, "total_qty": sum(qtys), "tracks": [],
            "items": [{"order_item_id": i + 1, "qty": q} for i, q in enumerate(qtys)]}


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text(json.dumps({"items": items, "search_criteria": {},
                                "total_count": len(items)}))
    return path


# -- the order's own items ------------------------------------------------------------


def test_an_open_orders_shipped_quantities_give_its_status():
    def status(order: dict) -> str:
        return adobe_commerce.map_order(order)["status"]

    order = _order(1)
    assert status(order) == "processing"  # nothing left yet
    order["items"][0]["qty_shipped"] = 2
    assert status(order) == "partially_shipped"
    order["items"][1]["qty_shipped"] = 1
    assert status(order) == "shipped"
    # A canceled or refunded quantity is not waiting to be shipped.
    order["items"][1].update(qty_shipped=0, qty_canceled=1)
    assert status(order) == "shipped"
    # Virtual items and children of a configurable product are not counted.
    virtual = _order(2, items=[
        {"item_id": 1, "sku": "MUG", "qty_ordered": 1, "price": 10, "qty_shipped": 1},
        {"item_id": 2, "sku": "EBOOK", "qty_ordered": 1, "price": 5, "qty_shipped": 0,
         "is_virtual": 1},
        {"item_id": 3, "sku": "MUG-RED", "qty_ordered": 1, "price": 0, "qty_shipped": 0,
         "parent_item_id": 1}])
    assert status(virtual) == "shipped"
    # A done order keeps the shop's own status; an export without qty_shipped says
    # nothing about shipping.
    assert status({**order, "state": "complete", "status": "complete"}) == "complete"
    assert status({**order, "state": "closed", "status": "closed"}) == "closed"
    bare = _order(3)
    for item in bare["items"]:
        del item["qty_shipped"]
    assert status(bare) == "processing"


_value = (st.none() | st.booleans() | st.integers() | st.text(max_size=6)
          | st.decimals(allow_nan=True, allow_infinity=True) | st.lists(st.integers(),
                                                                        max_size=2))
_item = st.dictionaries(st.sampled_from([
    "item_id", "sku", "name", "price", "qty_ordered", "qty_shipped", "qty_canceled",
    "qty_refunded", "is_virtual", "parent_item_id", "order_item_id", "qty"]), _value)


@given(items=st.lists(_item | _value, max_size=4),
       state=st.sampled_from(["new", "processing", "complete", None, 3]))
def test_order_and_shipment_mappings_never_raise_they_report(items, state):
    for entity, payload in (
            ("orders", {**_order(1, state=state), "items": items}),
            ("shipments", {**_shipment(1, 1, []), "items": items}),
            ("giftcardaccounts", {"code": state, "status": items[:1] or None,
                                  "date_expires": state, "balance": 1})):
        m = mapper("adobe-commerce", entity)
        mapped = map_safely(m.fn, payload, m.id_of)
        assert (mapped.row is None) != (mapped.problem is None)
        assert mapped.problem is None or not mapped.problem.startswith("cannot be mapped"), \
            mapped.problem


@given(qtys=st.lists(st.decimals(min_value=0, max_value=10**15, places=4,
                                 allow_nan=False), min_size=1, max_size=6))
def test_a_shipments_quantity_is_the_exact_sum_of_its_items(qtys):
    shipment = {**_shipment(1, 1, []), "items": [{"order_item_id": i, "qty": q}
                                                 for i, q in enumerate(qtys)]}
    total = adobe_commerce.map_shipment(shipment)["qty"]
    assert total == sum(qtys, start=type(qtys[0])(0))
    assert format(total, "f") == format(sum(qtys, start=type(qtys[0])(0)), "f")


# -- shipments ------------------------------------------------------------------------


def test_shipments_move_an_open_order_to_shipped_at_the_shipment_time(sqlite_store,
                                                                      tmp_path):
    orders = _write(tmp_path / "orders.json", [
        _order(1), _order(2), _order(3, state="complete", status="complete")])
    load_platform_file(sqlite_store, "adobe-commerce", "orders", orders)
    first = _write(tmp_path / "s1.json", [
        _shipment(11, 1, [2], at="2024-05-02 08:00:00"),   # 2 of 3 items of order 1
        _shipment(12, 2, [2, 1]),                           # all of order 2
        _shipment(13, 3, [2, 1]),                           # order 3 is complete already
        _shipment(14, 99, [1])])                            # no such order staged
    report = load_platform_file(sqlite_store, "adobe-commerce", "shipments", first)
    staged = sqlite_store.read_staged("orders").set_index("order_id")
    assert staged.loc["10001", "status"] == "partially_shipped"
    assert staged.loc["10001", "updated_at"] == "2024-05-02T08:00:00+00:00"
    assert staged.loc["10002", "status"] == "shipped"
    assert staged.loc["10002", "updated_at"] == "2024-05-03T14:30:00+00:00"
    assert staged.loc["10003", "status"] == "complete"
    assert staged.loc["10003", "updated_at"] == "2024-05-01T09:00:00+00:00"
    assert [(p.key, p.field) for p in report.problems] == [("S14", "order_id")]
    assert "entity_id 99" in report.problems[0].reason
    assert (report.counts.updated, report.counts.unchanged) == (2, 1)
    # Loading the same shipments again counts each once: nothing changes.
    again = load_platform_file(sqlite_store, "adobe-commerce", "shipments", first)
    assert (again.counts.updated, again.counts.unchanged) == (0, 3)
    # The rest of order 1 leaves later: shipped, at that time.
    rest = _write(tmp_path / "s2.json", [_shipment(15, 1, [0, 1], at="2024-05-06 10:00:00")])
    load_platform_file(sqlite_store, "adobe-commerce", "shipments", rest)
    staged = sqlite_store.read_staged("orders").set_index("order_id")
    assert staged.loc["10001", "status"] == "shipped"
    assert staged.loc["10001", "updated_at"] == "2024-05-06T10:00:00+00:00"


def test_a_shipment_file_given_as_credit_memos_is_refused_naming_both(sqlite_store):
    with pytest.raises(LoadError, match=r"expected Adobe Commerce creditmemos.*found a "
                       r"shipment"):
        load_platform_file(sqlite_store, "adobe-commerce", "creditmemos",
                           FIXTURES / "GET_V1_shipments.response.json")


def test_cli_loads_shipments(tmp_path, monkeypatch):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    runner = CliRunner()
    ok = runner.invoke(main, ["load", "--format", "adobe-commerce", "orders",
                              str(FIXTURES / "GET_V1_orders_id.response.json")])
    assert ok.exit_code == 0, ok.output
    shipped = runner.invoke(main, ["load", "--format", "adobe-commerce", "shipments",
                                   str(FIXTURES / "GET_V1_shipments.response.json"),
                                   "--json"])
    assert shipped.exit_code == 0, shipped.output
    assert json.loads(shipped.output)["updated"] == 1
    plain = runner.invoke(main, ["load", "shipments", str(tmp_path / "x.json")])
    assert plain.exit_code == 2 and "--format adobe-commerce" in plain.output


# -- gift card accounts ---------------------------------------------------------------


def _gift_order(codes: list[str]) -> dict:
    return _order(7, items=[{
        "item_id": 21, "product_type": "giftcard", "sku": "gift", "name": "Gift Card",
        "qty_ordered": len(codes), "price": 100, "is_virtual": 1,
        "product_option": {"extension_attributes": {"giftcard_item_option": {
            "giftcard_amount": 100, "giftcard_recipient_email": "friend@example.com",
            "giftcard_created_codes": codes}}}}])


def test_gift_card_accounts_set_the_expiry_of_the_certificate_with_their_code(
        sqlite_store, tmp_path):
    orders = _write(tmp_path / "orders.json", [_gift_order(["GIFT-1234-ABCD", "OFF-1"])])
    load_platform_file(sqlite_store, "adobe-commerce", "certificates", orders,
                       link_template="https://shop.example/gift/{code}")
    published = json.loads((FIXTURES / "GET_V1_giftcardaccounts.response.json").read_text())
    account = published["items"][0]
    accounts = _write(tmp_path / "accounts.json", [
        account,
        {**account, "account_id": 43, "code": "OFF-1", "status": 0},
        {**account, "account_id": 44, "code": "NOBODY-1"}])
    report = load_platform_file(sqlite_store, "adobe-commerce", "giftcardaccounts",
                                accounts)
    staged = sqlite_store.read_staged("certificates").set_index("code")
    assert staged.loc["GIFT-1234-ABCD", "expires_at"] == "2027-12-31T23:59:59+00:00"
    assert staged.loc["GIFT-1234-ABCD", "amount"] == "100"  # issued value, not balance
    assert staged.loc["OFF-1", "expires_at"] is None
    assert [(p.key, p.field) for p in report.problems] == [("43", "status"),
                                                           ("44", "code")]
    assert "disabled" in report.problems[0].reason
    assert "names no recipient" in report.problems[1].reason
    assert report.counts.updated == 1
    again = load_platform_file(sqlite_store, "adobe-commerce", "giftcardaccounts", accounts)
    assert (again.counts.updated, again.counts.unchanged) == (0, 1)


def test_a_gift_card_account_file_given_as_orders_is_refused(sqlite_store):
    with pytest.raises(LoadError, match="found a gift card account"):
        load_platform_file(sqlite_store, "adobe-commerce", "orders",
                           FIXTURES / "GET_V1_giftcardaccounts.response.json")


def test_other_platforms_have_no_shipments_or_gift_card_accounts(sqlite_store, tmp_path):
    path = _write(tmp_path / "x.json", [])
    with pytest.raises(LoadError, match="Shopify orders carry their fulfillments"):
        load_platform_file(sqlite_store, "shopify", "shipments", path)
    with pytest.raises(LoadError, match="commercetools has no gift cards"):
        load_platform_file(sqlite_store, "commercetools", "giftcardaccounts", path)


# -- extraction -----------------------------------------------------------------------


def test_extraction_reads_shipments_by_time_and_gift_card_accounts_whole(sqlite_store):
    asked: list[tuple[str, dict[str, str]]] = []
    shipments = [_shipment(11, 1, [2, 1], at="2024-05-03 14:30:00")]

    def shop(request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        asked.append((request.url.path, query))
        if request.url.path.endswith("/orders"):
            items = [_order(1)]
        elif request.url.path.endswith("/shipments"):
            items = shipments
        else:
            items = [{"account_id": 5, "code": "NOPE", "balance": 1, "status": 1}]
        return httpx.Response(200, json={"items": items, "total_count": len(items),
                                         "search_criteria": {}})

    config = SourceConfig(name="eu", platform="adobe-commerce",
                          base_url="https://shop.example", token=SecretStr("t"), page_size=5)
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="shop.example").mock(side_effect=shop)
        for entity in ("orders", "shipments", "giftcardaccounts"):
            report = extract(sqlite_store, config, entity, source=build_source(config))
    staged = sqlite_store.read_staged("orders")
    assert staged.loc[0, "status"] == "shipped"
    assert [path for path, _ in asked] == ["/rest/V1/orders", "/rest/V1/shipments",
                                           "/rest/V1/giftcardaccounts"]
    f = "searchCriteria[filter_groups][0][filters][0]"
    assert asked[1][1][f"{f}[field]"] == "updated_at"
    assert f"{f}[field]" not in asked[2][1]  # accounts carry no modification time
    assert report.load is not None and report.load.rejected == 1
    assert report.watermark_after is None


def test_a_shipment_is_recognised_by_the_keys_only_shipments_have():
    from dotsync.sources import kinds

    bare = {"entity_id": 1, "order_id": 3, "items": [{"order_item_id": 3, "qty": 1}],
            "created_at": "2024-05-03 14:30:00"}
    for key, value in (("tracks", []), ("packages", []), ("shipment_status", 1),
                       ("total_weight", 2), ("shipping_label", ""), ("customer_id", 3)):
        assert kinds.guess("adobe-commerce", {**bare, key: value}) == "shipments", key
    assert kinds.guess("adobe-commerce", {**bare, "adjustment": 0}) == "creditmemos"
