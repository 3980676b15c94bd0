"""Incremental extraction from the live platform APIs into the staging store.

Each source pages through the objects modified since its watermark, in the order and
with the pagination the platform documents:

- Adobe Commerce: ``searchCriteria`` filter ``updated_at >= watermark`` (``gteq``),
  sorted by ``updated_at`` ascending, ``pageSize``/``currentPage`` until
  ``total_count`` is reached (Adobe Commerce answers a page past the end with the last
  page again, so the count, not an empty page, ends the loop). Bearer integration
  access token.
- commercetools: ``where=lastModifiedAt >= "watermark"`` with
  ``sort=lastModifiedAt asc, id asc`` and ``withTotal=false``, paged by key (the next
  page starts after the last ``(lastModifiedAt, id)`` seen) rather than by ``offset``,
  which commercetools caps at 10,000. OAuth2 client-credentials token.
- Shopify: ``updated_at_min=watermark`` with cursor pagination through the ``Link``
  header's ``rel="next"`` URL (its ``page_info`` replaces every other filter, as
  Shopify requires). ``X-Shopify-Access-Token``.

The watermark per (source, entity) lives in the staging database
(``source_watermarks``) and moves only after the page's rows are committed; the
query is inclusive (``>=``), so objects sharing the watermark's timestamp are fetched
again (and counted ``unchanged``) rather than ever skipped. A crash between fetch and
commit leaves the watermark where it was: the next run fetches the same objects.
For Shopify, whose cursor pages are not ordered by modification time, the watermark
moves once every page of the run is committed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from dotsync.sources import state
from dotsync.sources.http import RetryingClient, SourceError
from dotsync.sources.load import load_objects
from dotsync.store.db import Store
from dotsync.store.loader import KEEP_PROBLEMS, LoadReport

PAGE_SIZE = 250
#: The timestamp before any data (first run).
EPOCH = "1970-01-01T00:00:00Z"


@dataclass
class Page:
    """One page of raw objects and the largest modification time among them."""

    objects: list[Any]
    newest: str | None


@dataclass
class SourceConfig:
    """Where one configured source is and how to authenticate (secrets masked)."""

    name: str
    platform: str
    base_url: str
    token: SecretStr = field(default_factory=lambda: SecretStr(""))
    client_id: str | None = None
    client_secret: SecretStr = field(default_factory=lambda: SecretStr(""))
    project_key: str | None = None
    auth_url: str | None = None
    scope: str | None = None
    api_version: str = "2024-04"
    entities: tuple[str, ...] = ("customers", "orders")
    page_size: int = PAGE_SIZE


def _instant(stamp: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _newest(objects: list[Any], key: str) -> str | None:
    """The latest modification time of a page, compared as instants (Shopify writes
    the shop's offset, which changes with daylight saving), kept as the platform
    wrote it."""
    stamps = [(when, o[key]) for o in objects if isinstance(o, dict)
              and isinstance(o.get(key), str) and (when := _instant(o[key])) is not None]
    return max(stamps)[1] if stamps else None


def _later(a: str | None, b: str | None) -> bool:
    """Whether ``a`` is a later instant than ``b`` (anything is later than nothing)."""
    if a is None:
        return False
    if b is None:
        return True
    ia, ib = _instant(a), _instant(b)
    return ia is not None and (ib is None or ia > ib)


class AdobeCommerceSource:
    """``GET /rest/V1/{customers/search|orders|creditmemos|shipments|giftcardaccounts}``
    with ``searchCriteria``.

    Gift card accounts have no modification time: every run reads them all (in id
    order), and applying one that did not change changes nothing.
    """

    sorted_by_time = True
    PATHS: ClassVar[dict[str, str]] = {
        "customers": "/rest/V1/customers/search", "orders": "/rest/V1/orders",
        "certificates": "/rest/V1/orders", "creditmemos": "/rest/V1/creditmemos",
        "shipments": "/rest/V1/shipments", "giftcardaccounts": "/rest/V1/giftcardaccounts"}
    #: Entities without ``updated_at``: read whole, sorted by this field.
    UNTIMED: ClassVar[dict[str, str]] = {"giftcardaccounts": "account_id"}

    def __init__(self, config: SourceConfig, client: RetryingClient) -> None:
        self.config, self.client = config, client
        client.set_header("Authorization", f"Bearer {config.token.get_secret_value()}")

    def pages(self, entity: str, since: str | None) -> Iterator[Page]:
        size = self.config.page_size
        page = 1
        seen = 0
        while True:
            f = "searchCriteria[filter_groups][0][filters][0]"
            params = {
                f"{f}[field]": "updated_at",
                f"{f}[value]": _adobe_time(since or EPOCH),
                f"{f}[condition_type]": "gteq",
                "searchCriteria[sortOrders][0][field]": "updated_at",
                "searchCriteria[sortOrders][0][direction]": "ASC",
                "searchCriteria[pageSize]": str(size),
                "searchCriteria[currentPage]": str(page),
            } if entity not in self.UNTIMED else {
                "searchCriteria[sortOrders][0][field]": self.UNTIMED[entity],
                "searchCriteria[sortOrders][0][direction]": "ASC",
                "searchCriteria[pageSize]": str(size),
                "searchCriteria[currentPage]": str(page),
            }
            body, _ = self.client.get_json(self.PATHS[entity], params=params)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError(f"{self.PATHS[entity]}: the answer has no items list")
            total = body.get("total_count")
            seen += len(items)
            yield Page(items, _newest(items, "updated_at"))
            if not items or len(items) < size or (isinstance(total, int) and seen >= total):
                return
            page += 1


def _adobe_time(value: str) -> str:
    """Adobe Commerce compares ``updated_at`` as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return value.replace("T", " ").replace("Z", "").split("+")[0][:19]


class CommercetoolsSource:
    """``GET /{projectKey}/{customers|orders}`` after an OAuth2 client-credentials token."""

    sorted_by_time = True
    EXPAND: ClassVar[dict[str, list[str]]] = {
        "orders": ["paymentInfo.payments[*]", "discountCodes[*].discountCode"]}

    def __init__(self, config: SourceConfig, client: RetryingClient,
                 auth: RetryingClient | None = None) -> None:
        self.config, self.client = config, client
        self._auth = auth
        self._token: str | None = None

    def _authorize(self) -> None:
        if self._token is not None:
            return
        cfg = self.config
        pair = f"{cfg.client_id}:{cfg.client_secret.get_secret_value()}"
        basic = base64.b64encode(pair.encode()).decode()
        auth = self._auth or self.client
        data = {"grant_type": "client_credentials"}
        if cfg.scope:
            data["scope"] = cfg.scope
        response = auth.request("POST", f"{(cfg.auth_url or '').rstrip('/')}/oauth/token",
                                data=data, headers={"Authorization": f"Basic {basic}"})
        token = response.json().get("access_token")
        if not isinstance(token, str):
            raise SourceError("the commercetools token answer has no access_token")
        self._token = token
        self.client.set_header("Authorization", f"Bearer {token}")

    def pages(self, entity: str, since: str | None) -> Iterator[Page]:
        self._authorize()
        after: tuple[str, str] | None = None
        start = since or EPOCH
        path = f"/{self.config.project_key}/{entity}"
        while True:
            where = f'lastModifiedAt >= "{start}"'
            if after is not None:
                where = (f'lastModifiedAt > "{after[0]}" or '
                         f'(lastModifiedAt = "{after[0]}" and id > "{after[1]}")')
            params: list[tuple[str, str]] = [
                ("where", where), ("sort", "lastModifiedAt asc"), ("sort", "id asc"),
                ("limit", str(self.config.page_size)), ("withTotal", "false")]
            params += [("expand", e) for e in self.EXPAND.get(entity, [])]
            body, _ = self.client.get_json(path, params=params)
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise SourceError(f"{path}: the answer has no results list")
            yield Page(results, _newest(results, "lastModifiedAt"))
            if len(results) < self.config.page_size:
                return
            last = results[-1]
            after = (str(last.get("lastModifiedAt")), str(last.get("id")))


class ShopifySource:
    """``GET /admin/api/{version}/{customers|orders|gift_cards}.json``, ``Link`` paging."""

    sorted_by_time = False
    RESOURCES: ClassVar[dict[str, str]] = {
        "customers": "customers", "orders": "orders", "certificates": "gift_cards"}

    def __init__(self, config: SourceConfig, client: RetryingClient) -> None:
        self.config, self.client = config, client
        client.set_header("X-Shopify-Access-Token", config.token.get_secret_value())

    def pages(self, entity: str, since: str | None) -> Iterator[Page]:
        resource = self.RESOURCES[entity]
        url: str | None = f"/admin/api/{self.config.api_version}/{resource}.json"
        params: dict[str, str] | None = {"limit": str(min(self.config.page_size, 250)),
                                         "updated_at_min": since or EPOCH}
        if entity == "orders":
            params["status"] = "any"
        while url is not None:
            body, response = self.client.get_json(url, params=params)
            items = body.get(resource) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError(f"{resource}.json: the answer has no {resource!r} list")
            yield Page(items, _newest(items, "updated_at"))
            url = _next_link(response)
            params = None  # the next URL carries page_info and limit; nothing else allowed


def _next_link(response: httpx.Response) -> str | None:
    links = response.links.get("next") if response.headers.get("Link") else None
    return links.get("url") if links else None


SOURCES: dict[str, Callable[..., Any]] = {
    "adobe-commerce": AdobeCommerceSource,
    "commercetools": CommercetoolsSource,
    "shopify": ShopifySource,
}


@dataclass
class ExtractReport:
    source: str
    entity: str
    fetched: int = 0
    pages: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    load: LoadReport | None = None
    calls: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        load = self.load.as_dict() if self.load else {}
        return {"source": self.source, "entity": self.entity, "fetched": self.fetched,
                "pages": self.pages, "watermark_before": self.watermark_before,
                "watermark_after": self.watermark_after,
                **{k: load.get(k) for k in ("inserted", "updated", "unchanged",
                                            "rejected")},
                "problems": load.get("problems", [])[:100], "calls": self.calls}


def build_source(config: SourceConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] | None = None) -> Any:
    kwargs: dict[str, Any] = {"transport": transport}
    if sleep is not None:
        kwargs["sleep"] = sleep
    client = RetryingClient(config.base_url, **kwargs)
    return SOURCES[config.platform](config, client)


def extract(store: Store, config: SourceConfig, entity: str, *,
            source: Any | None = None, link_template: str | None = None) -> ExtractReport:
    """Fetch what changed since the watermark, stage it, then move the watermark."""
    src = source or build_source(config)
    state.ensure(store.engine)
    report = ExtractReport(config.name, entity)
    report.watermark_before = state.get_watermark(store.engine, config.name, entity)
    newest = report.watermark_before
    merged: LoadReport | None = None
    for page in src.pages(entity, report.watermark_before):
        report.pages += 1
        report.fetched += len(page.objects)
        loaded = load_objects(store, config.platform, entity,
                              enumerate(page.objects, start=report.fetched
                                        - len(page.objects) + 1),
                              source=f"{config.name}:{entity}", link_template=link_template)
        merged = _merge(merged, loaded)
        if _later(page.newest, newest):
            newest = page.newest
        if src.sorted_by_time and newest and newest != report.watermark_before:
            state.set_watermark(store.engine, config.name, entity, newest)
    if not src.sorted_by_time and newest and newest != report.watermark_before:
        state.set_watermark(store.engine, config.name, entity, newest)
    report.watermark_after = state.get_watermark(store.engine, config.name, entity)
    report.load = merged
    report.calls = dict(src.client.stats)
    return report


def _merge(a: LoadReport | None, b: LoadReport) -> LoadReport:
    """The pages' reports as one, its problem list bounded like a file load's."""
    if a is None:
        a = LoadReport(entity=b.entity, path=b.path, kind=b.kind,
                       keep_problems=KEEP_PROBLEMS)
    a.absorb(b)
    return a


def config_from_json(text: str) -> SourceConfig:
    """A SourceConfig from JSON (tests and the CLI); secret fields become SecretStr."""
    raw = json.loads(text)
    for key in ("token", "client_secret"):
        if key in raw:
            raw[key] = SecretStr(str(raw[key]))
    if "entities" in raw:
        raw["entities"] = tuple(raw["entities"])
    return SourceConfig(**raw)
