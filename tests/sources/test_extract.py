"""Extraction from the platform APIs (respx, no network): pages, 429, 5xx, a change
between two runs, and a crash between fetch and commit."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from dotsync.sources import state
from dotsync.sources.extract import SourceConfig, build_source, extract
from dotsync.sources.http import SourceAuthError

TOKEN = "shpat_very-secret-token-0123"


def _adobe_order(i: int, updated: str, total: int = 10):
    return {"entity_id": i, "increment_id": f"{i:09d}", "customer_email": f"c{i}@example.com",
            "customer_is_guest": 1, "order_currency_code": "EUR", "grand_total": total,
            "status": "processing", "created_at": "2024-01-01 10:00:00",
            "updated_at": updated,
            "items": [{"item_id": i, "sku": "S", "name": "Shirt", "qty_ordered": 1,
                       "price": total}]}


class AdobeShop:
    """A fake Adobe Commerce ``/V1/orders`` honouring searchCriteria, with faults."""

    def __init__(self, orders, faults=()):
        self.orders = orders
        self.faults = list(faults)
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.faults:
            return self.faults.pop(0)
        q = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        self.requests.append(q)
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        f = "searchCriteria[filter_groups][0][filters][0]"
        assert (q[f"{f}[field]"], q[f"{f}[condition_type]"]) == ("updated_at", "gteq")
        since = q[f"{f}[value]"]
        size, page = int(q["searchCriteria[pageSize]"]), int(q["searchCriteria[currentPage]"])
        match = sorted((o for o in self.orders if o["updated_at"] >= since),
                       key=lambda o: o["updated_at"])
        chunk = match[(page - 1) * size: page * size] or match[-size:]  # as Magento does
        return httpx.Response(200, json={"items": chunk, "total_count": len(match),
                                         "search_criteria": {}})


def _adobe_config(**extra):
    return SourceConfig(name="eu-shop", platform="adobe-commerce",
                        base_url="https://shop.example", token=SecretStr(TOKEN), page_size=2,
                        **extra)


def _run(store, config, handler, sleeps, entity="orders"):
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host=urlsplit(config.base_url).hostname).mock(side_effect=handler)
        if config.auth_url:
            mock.route(host=urlsplit(config.auth_url).hostname).mock(side_effect=handler)
        source = build_source(config, sleep=sleeps.append)
        return extract(store, config, entity, source=source)


def test_adobe_pages_retries_and_a_second_run_fetching_only_what_changed(sqlite_store):
    orders = [_adobe_order(1, "2024-01-01 10:00:00"), _adobe_order(2, "2024-01-02 10:00:00"),
              _adobe_order(3, "2024-01-03 10:00:00")]
    shop = AdobeShop(orders, faults=[
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(503),
    ])
    sleeps: list[float] = []
    first = _run(sqlite_store, _adobe_config(), shop, sleeps)
    assert first.fetched == 3 and first.pages == 2
    assert sleeps == [3.0, 1.0]  # Retry-After, then exponential back-off
    assert first.load.counts.inserted == 3
    assert first.watermark_after == "2024-01-03 10:00:00"

    orders[0].update(updated_at="2024-01-05 09:00:00", status="complete")
    shop.requests.clear()
    second = _run(sqlite_store, _adobe_config(), shop, [])
    f = "searchCriteria[filter_groups][0][filters][0][value]"
    assert [r[f] for r in shop.requests] == ["2024-01-03 10:00:00"]
    # The changed order, and the one at the watermark again (inclusive), unchanged.
    assert second.fetched == 2
    assert (second.load.counts.updated, second.load.counts.unchanged) == (1, 1)
    staged = sqlite_store.read_staged("orders").set_index("order_id")
    assert staged.loc["000000001", "status"] == "complete"
    assert second.watermark_after == "2024-01-05 09:00:00"


def test_a_crash_between_fetch_and_commit_refetches_never_skips(sqlite_store, monkeypatch):
    orders = [_adobe_order(i, f"2024-01-0{i} 10:00:00") for i in range(1, 4)]
    shop = AdobeShop(orders)
    real = sqlite_store.upsert_rows
    calls = {"n": 0}

    def crash_on_second_page(entity, frame):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed before the commit")
        return real(entity, frame)

    monkeypatch.setattr(sqlite_store, "upsert_rows", crash_on_second_page)
    with pytest.raises(RuntimeError, match="killed"):
        _run(sqlite_store, _adobe_config(), shop, [])
    # The first page was committed, so the watermark moved to its newest row only.
    assert state.get_watermark(sqlite_store.engine, "eu-shop", "orders") == \
        "2024-01-02 10:00:00"
    monkeypatch.setattr(sqlite_store, "upsert_rows", real)
    again = _run(sqlite_store, _adobe_config(), shop, [])
    assert sorted(sqlite_store.read_staged("orders")["order_id"]) == [
        "000000001", "000000002", "000000003"]
    assert again.watermark_after == "2024-01-03 10:00:00"


def test_commercetools_oauth_keyset_pages_and_5xx(sqlite_store):
    def ct_order(i, modified):
        return {"id": f"o-{i}", "orderState": "Open", "createdAt": modified,
                "lastModifiedAt": modified, "customerEmail": f"c{i}@example.com",
                "totalPrice": {"currencyCode": "EUR", "centAmount": 100 * i,
                               "fractionDigits": 2},
                "lineItems": [{"name": {"en": "x"}, "quantity": 1, "variant": {"sku": "x"},
                               "price": {"value": {"currencyCode": "EUR",
                                                   "centAmount": 100 * i,
                                                   "fractionDigits": 2}}}]}

    orders = [ct_order(1, "2024-01-01T00:00:00.000Z"), ct_order(2, "2024-01-02T00:00:00.000Z"),
              ct_order(3, "2024-01-02T00:00:00.000Z")]
    seen: list[dict[str, list[str]]] = []
    faults = [httpx.Response(502)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert request.headers["Authorization"].startswith("Basic ")
            return httpx.Response(200, json={"access_token": "ct-token", "expires_in": 172800})
        assert request.headers["Authorization"] == "Bearer ct-token"
        if faults:
            return faults.pop(0)
        q = parse_qs(urlsplit(str(request.url)).query)
        seen.append(q)
        assert q["withTotal"] == ["false"] and q["sort"] == ["lastModifiedAt asc", "id asc"]
        where = q["where"][0]
        if "id >" in where:
            page = [o for o in orders if (o["lastModifiedAt"], o["id"]) > (
                "2024-01-02T00:00:00.000Z", "o-2")]
        else:
            page = orders
        return httpx.Response(200, json={"limit": 2, "count": len(page[:2]),
                                         "results": page[:2]})

    config = SourceConfig(name="ct", platform="commercetools",
                          base_url="https://api.europe-west1.gcp.commercetools.com",
                          auth_url="https://auth.europe-west1.gcp.commercetools.com",
                          client_id="cid", client_secret=SecretStr("ct-secret"),
                          project_key="shop", page_size=2)
    sleeps: list[float] = []
    report = _run(sqlite_store, config, handler, sleeps)
    assert report.fetched == 3 and report.pages == 2 and sleeps == [0.5]
    assert 'id > "o-2"' in seen[1]["where"][0]
    assert seen[0]["expand"] == ["paymentInfo.payments[*]", "discountCodes[*].discountCode"]
    assert sorted(sqlite_store.read_staged("orders")["order_id"]) == ["o-1", "o-2", "o-3"]


def test_shopify_link_pagination_and_watermark_after_the_last_page(sqlite_store):
    def customer(i, updated):
        return {"id": i, "email": f"c{i}@example.com", "updated_at": updated,
                "email_marketing_consent": {"state": "subscribed"}}

    pages = {None: [customer(1, "2024-02-02T00:00:00Z"), customer(2, "2024-01-01T00:00:00Z")],
             "p2": [customer(3, "2024-01-15T00:00:00Z")]}
    seen: list[dict[str, list[str]]] = []
    faults = [httpx.Response(500)]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        if faults:
            return faults.pop(0)
        q = parse_qs(urlsplit(str(request.url)).query)
        seen.append(q)
        cursor = q.get("page_info", [None])[0]
        headers = {}
        if cursor is None:
            assert "updated_at_min" in q
            headers["Link"] = ('<https://s.myshopify.com/admin/api/2024-04/customers.json?'
                               'limit=250&page_info=p2>; rel="next"')
        else:
            assert "updated_at_min" not in q  # Shopify refuses filters with page_info
        return httpx.Response(200, json={"customers": pages[cursor]}, headers=headers)

    config = SourceConfig(name="shop", platform="shopify",
                          base_url="https://s.myshopify.com", token=SecretStr(TOKEN))
    report = _run(sqlite_store, config, handler, [], entity="customers")
    assert report.fetched == 3 and report.pages == 2
    assert report.watermark_after == "2024-02-02T00:00:00Z"
    seen.clear()
    _run(sqlite_store, config, handler, [], entity="customers")
    assert seen[0]["updated_at_min"] == ["2024-02-02T00:00:00Z"]


def test_refused_credentials_fail_at_once_without_showing_the_secret(sqlite_store):
    config = _adobe_config()
    sleeps: list[float] = []
    with pytest.raises(SourceAuthError) as info:
        _run(sqlite_store, config, lambda r: httpx.Response(401), sleeps)
    assert sleeps == []
    assert TOKEN not in str(info.value) and TOKEN not in repr(config)
    assert TOKEN not in json.dumps(str(config.__dict__))


def test_the_newest_time_of_a_page_is_compared_as_an_instant():
    from dotsync.sources.extract import _newest

    # 01:50 at -04:00 is 05:50Z; 01:10 at -05:00 (after the clocks went back) is 06:10Z.
    page = [{"updated_at": "2024-11-03T01:50:00-04:00"},
            {"updated_at": "2024-11-03T01:10:00-05:00"}, {"updated_at": None}]
    assert _newest(page, "updated_at") == "2024-11-03T01:10:00-05:00"
