"""Platform payloads → ``dotsync load --format`` → ``sync`` → the emulator.

What reaches Dotdigital is exactly what docs/SOURCES.md says for each platform. The
account starts empty: no insight collection, and only Dotdigital's default data
fields plus ``STORE`` and ``LOCALE`` (the data fields SPEC §2 sends, which an account
set up for dotsync has and preflight checks), so no pass depends on the emulator
holding anything a new account would not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dotsync.cli import main
from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.e2e.helpers import states

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parents[1] / "sources" / "fixtures"
DEFAULT_DATA_FIELDS = ["FIRSTNAME", "LASTNAME", "FULLNAME", "GENDER", "POSTCODE",
                       "LASTSUBSCRIBED", "STORE", "LOCALE"]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    seed = {"collections": [], "dataFields": DEFAULT_DATA_FIELDS, "suppressed": []}
    with EmulatorServer(EmulatorConfig(import_delay=0.05, random_seed=1,
                                       seed=seed)) as server:
        yield server


def _load(*args: str) -> None:
    result = CliRunner().invoke(main, ["load", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _record(env, key: str) -> dict:
    records = {r["key"]: r for r in env.emulator.state.insight_records("Purchases")}
    return records[key]["json"] if "json" in records[key] else records[key]


@pytest.fixture(params=["1", "1000"], ids=["bulk-imports", "single-calls"])
def bulk(request, monkeypatch):
    """A new account has no ``Purchases`` collection: the first bulk import makes it,
    and so does the sync before its first single-record call. Each test stages at
    least two orders, so threshold 1 sends them as imports and 1000 one by one."""
    monkeypatch.setenv("DOTSYNC_CONTACT_BULK_THRESHOLD", request.param)


def _second(path: Path, tmp_path: Path, key: str, envelope: str | None, **changes) -> Path:
    """The published example once more under another id (a second order)."""
    doc = json.loads(path.read_text())
    item = doc[envelope][0] if envelope else doc
    out = tmp_path / f"second-{path.name}"
    out.write_text(json.dumps({**item, key: changes.pop(key), **changes}))
    return out


def test_shopify_payloads_reach_dotdigital_as_documented(env, bulk, tmp_path):
    assert env.emulator.state.collection("Purchases") is None
    cards = tmp_path / "gift_cards.jsonl"
    card = json.loads((FIXTURES / "shopify/gift-card-created.json").read_text())["gift_card"]
    cards.write_text(json.dumps({**card, "customer_id": 207119551,
                                 "expires_on": "2099-01-01"}) + "\n")
    _load("--format", "shopify", "customers", str(FIXTURES / "shopify/customers.json"))
    consent = tmp_path / "consent.jsonl"
    consent.write_text("\n".join(json.dumps({
        "id": 900 + n, "email": f"{state}@example.com", "updated_at": "2024-04-02T09:24:09Z",
        "email_marketing_consent": {"state": state, "opt_in_level": "single_opt_in"},
    }) for n, state in enumerate(["subscribed", "unsubscribed", "redacted", "pending",
                                  "not_subscribed"])) + "\n")
    _load("--format", "shopify", "customers", str(consent))
    _load("--format", "shopify", "orders", str(FIXTURES / "shopify/orders.json"))
    _load("--format", "shopify", "orders", str(_second(
        FIXTURES / "shopify/orders.json", tmp_path, "id", "orders", id=450789470,
        refunds=[])))
    _load("--format", "shopify", "orders", str(FIXTURES / "shopify/order-custom-items.json"))
    _load("--format", "shopify", "certificates", str(cards),
          "--certificate-link", "https://shop.example/gift/{code}")
    state = env.sync()
    assert state.is_completed(), state.message

    def status(email):
        return env.emulator.state.contact(email)["channelProperties"]["email"]["status"]

    assert status("subscribed@example.com") == "subscribed"
    assert status("unsubscribed@example.com") == "unsubscribed"
    assert status("redacted@example.com") == "unsubscribed"  # an erasure request
    # Asked but not confirmed, or never asked: a new contact that is not marketable.
    assert status("pending@example.com") != "subscribed"
    assert status("not_subscribed@example.com") != "subscribed"
    steve = env.emulator.state.contact("steve.lastnameson@example.com")
    assert steve["dataFields"]["FIRSTNAME"] == "Steve"
    assert steve["identifiers"]["mobileNumber"] == "15142546011"  # customer.phone
    bob = env.emulator.state.contact("bob.norman@mail.example.com")
    assert bob["identifiers"]["mobileNumber"] == "16136120707"

    order = _record(env, "450789469")
    assert order["currency"] == "USD"
    assert order["order_status"] == "partially_refunded"
    assert float(order["order_total"]) == 598.94
    assert float(order["refunded_total"]) == 209.00  # the refund's transaction
    assert float(order["discount_total"]) == 10.00
    assert order["coupon_code"] == "TENOFF"
    assert [p["sku"] for p in order["products"]] == ["IPOD2008GREEN", "IPOD2008RED",
                                                    "IPOD2008BLACK"]
    # A guest order without any e-mail is rejected, never attached to a contact.
    assert states(env.store, "orders")["1073459962"] == "rejected"

    sends = env.emulator.state.sends()
    assert float(_record(env, "450789470")["refunded_total"] or 0) == 0
    assert len(sends) == 1
    assert sends[0]["toAddresses"] == ["bob.norman@mail.example.com"]
    values = sends[0]["personalizationValues"]
    assert values["CERTIFICATE_CODE"] == "abcdefghijklmnop"
    assert values["CERTIFICATE_LINK"] == "https://shop.example/gift/abcdefghijklmnop"


def test_adobe_commerce_payloads_reach_dotdigital_as_documented(env, bulk, tmp_path):
    order = json.loads((FIXTURES / "adobe-commerce/GET_V1_orders_id.response.json")
                       .read_text())
    guest = {**order, "entity_id": 4, "increment_id": "000000004", "customer_id": None,
             "customer_is_guest": 1, "customer_email": "guest@example.org",
             "discount_amount": -5, "grand_total": 160}
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"items": [order, guest], "search_criteria": {},
                                  "total_count": 2}))
    memos = tmp_path / "creditmemos.json"
    memos.write_text(json.dumps({"items": [{"entity_id": 1, "order_id": 3, "grand_total": 22,
                                            "adjustment": 0, "items": []}],
                                 "total_count": 1}))
    _load("--format", "adobe-commerce", "customers",
          str(FIXTURES / "adobe-commerce/POST_V1_customers.response.json"))
    _load("--format", "adobe-commerce", "orders", str(orders))
    _load("--format", "adobe-commerce", "creditmemos", str(memos))
    state = env.sync()
    assert state.is_completed(), state.message

    jane = env.emulator.state.contact("jdoe@example.com")
    assert jane["dataFields"]["FIRSTNAME"] == "Jane"
    assert jane["dataFields"]["STORE"] == "1"
    assert jane["identifiers"]["mobileNumber"] == "15125551111"  # default billing, US
    assert env.emulator.state.contact("guest@example.org") is not None

    placed = _record(env, "000000003")
    assert (placed["order_status"], placed["currency"]) == ("pending", "USD")
    assert float(placed["order_total"]) == 165 and float(placed["refunded_total"]) == 22
    assert placed["products"][0]["sku"] == "WS12-M-Orange"
    assert float(_record(env, "000000004")["discount_total"]) == 5  # was -5


def test_commercetools_payloads_reach_dotdigital_as_documented(env, bulk, tmp_path):
    customers = tmp_path / "customers.json"
    listed = json.loads((FIXTURES / "commercetools/customers.example.json").read_text())
    listed["results"][0]["id"] = "7297c742-d8b0-484b-aadc-1d0ba6769dc9"  # the order's
    customers.write_text(json.dumps(listed))
    _load("--format", "commercetools", "customers", str(customers))
    _load("--format", "commercetools", "orders",
          str(FIXTURES / "commercetools/orders.example.json"))
    _load("--format", "commercetools", "orders", str(_second(
        FIXTURES / "commercetools/orders.example.json", tmp_path, "id", "results",
        id="second-order")))
    state = env.sync()
    assert state.is_completed(), state.message
    assert env.emulator.state.contact("johndoe@example.com")["dataFields"]["LASTNAME"] == "Doe"
    order = _record(env, "92f5a867-bf19-47ab-982c-6720a03a3921")
    assert (order["order_status"], order["currency"]) == ("open", "EUR")
    assert float(order["order_total"]) == 10.00  # centAmount 1000, fractionDigits 2
    assert [(p["sku"], p["name"], p["qty"]) for p in order["products"]] == [
        ("some-sku-123", "MyProduct", 1)]
    assert float(order["products"][0]["price"]) == 10.0


def test_the_extract_flow_fetches_a_shopify_source_then_syncs(env, bulk):
    """The deployed path: a Shopify block, the platform API (respx), then the sync."""
    import httpx
    import respx
    from dotsync.deployments.sources import ShopifyCredentials
    from dotsync.flows.extract import extract_source

    ShopifyCredentials(shop_url="https://e2e-shop.myshopify.com",
                       access_token="shpat_e2e_secret").save("e2e-shop", overwrite=True)
    customers = json.loads((FIXTURES / "shopify/customers.json").read_text())
    orders = json.loads((FIXTURES / "shopify/orders.json").read_text())
    second = {**orders["orders"][0], "id": 450789470, "refunds": []}

    def shop(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Shopify-Access-Token"] == "shpat_e2e_secret"
        if request.url.path.endswith("/customers.json"):
            return httpx.Response(200, json=customers)
        return httpx.Response(200, json={"orders": [orders["orders"][0], second]})

    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="e2e-shop.myshopify.com").mock(side_effect=shop)
        mock.route().pass_through()
        state = extract_source(platform="shopify", block_name="e2e-shop",
                               return_state=True)
    assert state.is_completed(), state.message
    assert env.emulator.state.contact("steve.lastnameson@example.com") is not None
    assert float(_record(env, "450789469")["refunded_total"]) == 209.00


def test_adobe_commerce_shipments_reach_dotdigital_as_shipped_at_their_time(env, bulk,
                                                                              tmp_path):
    order = json.loads((FIXTURES / "adobe-commerce/GET_V1_orders_id.response.json")
                       .read_text())
    second = {**order, "entity_id": 4, "increment_id": "000000004"}
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"items": [order, second], "total_count": 2}))
    _load("--format", "adobe-commerce", "orders", str(orders))
    _load("--format", "adobe-commerce", "shipments",
          str(FIXTURES / "adobe-commerce/GET_V1_shipments.response.json"))
    state = env.sync()
    assert state.is_completed(), state.message
    shipped = _record(env, "000000003")
    assert shipped["order_status"] == "shipped"
    assert shipped["fulfilled_date"].startswith("2017-08-21T22:54:11")  # the shipment's
    waiting = _record(env, "000000004")  # no shipment: its own status, no fulfilment
    assert waiting["order_status"] == "pending" and "fulfilled_date" not in waiting


def test_adobe_commerce_gift_card_accounts_give_the_certificates_expiry(env, tmp_path):
    order = json.loads((FIXTURES / "adobe-commerce/GET_V1_orders_id.response.json")
                       .read_text())
    order["items"] = [{
        "item_id": 21, "product_type": "giftcard", "sku": "gift", "name": "Gift Card",
        "qty_ordered": 1, "price": 100, "is_virtual": 1,
        "product_option": {"extension_attributes": {"giftcard_item_option": {
            "giftcard_amount": 100, "giftcard_recipient_email": "friend@example.com",
            "giftcard_created_codes": ["GIFT-1234-ABCD"]}}}}]
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"items": [order], "total_count": 1}))
    _load("--format", "adobe-commerce", "certificates", str(orders),
          "--certificate-link", "https://shop.example/gift/{code}")
    _load("--format", "adobe-commerce", "giftcardaccounts",
          str(FIXTURES / "adobe-commerce/GET_V1_giftcardaccounts.response.json"))
    state = env.sync()
    assert state.is_completed(), state.message
    sends = env.emulator.state.sends()
    assert [s["toAddresses"] for s in sends] == [["friend@example.com"]]
    values = sends[0]["personalizationValues"]
    assert values["CERTIFICATE_CODE"] == "GIFT-1234-ABCD"
    assert values["CERTIFICATE_EXPIRES"].startswith("2027-12-31")  # the account's date
