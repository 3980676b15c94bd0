"""Sample staging data for the demo and the tests: a small, believable shop.

Deterministic for a given seed. Besides good records it carries the mistakes real
exports contain, each on purpose so the demo's report has something to explain:
an invalid phone number, a name too long and a bad data field name (sent without
them, with a warning), a malformed e-mail, a mixed-case duplicate customer, an
unknown currency, an order whose refund exceeds its total (sent without the refund,
with a warning), an ``http://`` certificate link, a guest checkout, and orders of a
customer who will be rejected.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: The data fields the sample customers carry: an account syncing them must have these.
DATA_FIELDS = ("STORE", "LOCALE", "LOYALTY_TIER")

FIRST = ["Jane", "John", "Amira", "Kenji", "Sofia", "Liam", "Chloé", "Mateo", "Ingrid", "Ravi",
         "Zoë", "Oskar", "Priya", "Tomás", "Elif", "Noah", "Maja", "Arjun", "Léa", "Finn"]
LAST = ["Doe", "Smith", "Haddad", "Tanaka", "Rossi", "Murphy", "Dubois", "García", "Larsen",
        "Patel", "Müller", "O'Brien", "Kowalski", "Nakamura", "Yılmaz", "Jensen"]
# (country, numbers in the formats people type them; region-less ones rely on `country`)
PHONES = {
    "GB": ["07911 12{:04d}", "+44 7911 12{:04d}", "(07400) 12-{:04d}", "44791112{:04d}"],
    "US": ["(415) 555-{:04d}", "+1 415-555-{:04d}", "415.555.{:04d}"],
    "DE": ["0151 2345 {:04d}", "+49 151 2345{:04d}"],
    "NL": ["06 1234 {:04d}", "+31 6 1234{:04d}"],
}
PRODUCTS = [
    ("MUG-01", "Enamel mug", 12.0, ["Kitchen", "Gifts"]),
    ("TEE-RED-M", "Red T-shirt (M)", 19.5, ["Clothing"]),
    ("SOCK-3PK", "Wool socks, 3 pack", 14.0, ["Clothing", "Winter"]),
    ("LAMP-OAK", "Oak desk lamp", 64.99, ["Home"]),
    ("BOOK-CK", "Seasonal cookbook", 22.5, ["Books", "Kitchen"]),
    ("CANDLE-F", "Fig candle", 18.0, []),
]
CURRENCY = {"GB": "GBP", "US": "USD", "DE": "EUR", "NL": "EUR"}
STATUSES = ["pending", "processing", "complete", "shipped", "complete", "canceled"]


@dataclass
class SampleData:
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    certificates: list[dict[str, Any]]

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Customers as CSV, orders as JSON Lines, certificates as CSV (SPEC §1 columns)."""
        import csv

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "customers": folder / "customers.csv",
            "orders": folder / "orders.jsonl",
            "certificates": folder / "certificates.csv",
        }
        for entity in ("customers", "certificates"):
            rows = getattr(self, entity)
            columns = list(dict.fromkeys(k for r in rows for k in r))
            with paths[entity].open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: _csv(v) for k, v in row.items()})
        with paths["orders"].open("w", encoding="utf-8") as fh:
            for row in self.orders:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return paths


def _csv(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def generate(
    customers: int = 120,
    orders: int = 240,
    certificates: int = 30,
    seed: int = 7,
    now: datetime | None = None,
) -> SampleData:
    """A shop's worth of staged records, with the deliberate mistakes listed above."""
    rng = random.Random(seed)
    now = now or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    custs: list[dict[str, Any]] = []
    for i in range(customers):
        country = rng.choice(list(PHONES))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i}@example.com".lower().replace("'", "")
        email = email.encode("ascii", "ignore").decode() or f"customer{i}@example.com"
        # Unique per customer (Dotdigital refuses one mobile number on two contacts).
        phone = rng.choice(PHONES[country]).format(i % 10_000) if i % 4 else None
        custs.append({
            "customer_id": f"C{1000 + i}",
            "email": email,
            "first_name": first,
            "last_name": last,
            "mobile_number": phone,
            "country": country,
            "email_type": rng.choice(["html", "html", "plaintext"]),
            "opt_in_type": rng.choice(["single", "double", "unknown"]),
            "email_consent": rng.choice(["subscribed", "subscribed", "unsubscribed", None]),
            "sms_consent": rng.choice(["subscribed", None, None]) if phone else None,
            "store": rng.choice(["uk-web", "eu-web", "us-web"]),
            "locale": rng.choice(["en_GB", "de_DE", "nl_NL", "en_US"]),
            "data_fields": {"LOYALTY_TIER": rng.choice(["bronze", "silver", "gold"])},
            "updated_at": _iso(now - timedelta(days=rng.randrange(1, 400))),
        })
    # Deliberate mistakes, at fixed places so the demo explains the same ones each time.
    custs[1]["mobile_number"], custs[1]["country"] = "0161 496 000", "GB"   # too short
    custs[2]["email"] = "jo@@example.com"                                   # malformed
    custs[3]["first_name"] = "A" * 60                                       # > 50 characters
    custs[5]["data_fields"] = {"FAVOURITE COLOUR!": "teal"}                 # bad field name
    dup = dict(custs[6])
    dup.update(customer_id="C9006", email=custs[6]["email"].upper() + " ",
               first_name="Newer", updated_at=_iso(now - timedelta(hours=1)))
    custs.append(dup)                                                       # merges into one
    custs[8]["email"] = "unsubscribed@example.com"                          # suppressed in DD
    custs[8]["email_consent"] = "subscribed"

    ords: list[dict[str, Any]] = []
    for i in range(orders):
        guest = i % 10 == 0
        cust = custs[rng.randrange(len(custs))]
        email = f"guest{i}@example.org" if guest else cust["email"]
        country = cust["country"] if not guest else "GB"
        lines = []
        for _ in range(rng.randint(1, 3)):
            sku, name, price, cats = rng.choice(PRODUCTS)
            line: dict[str, Any] = {"sku": sku, "name": name, "quantity": rng.randint(1, 3),
                                    "unit_price": price}
            if cats:
                line["categories"] = cats
            lines.append(line)
        subtotal = round(sum(li["quantity"] * li["unit_price"] for li in lines), 2)
        shipping = 0.0 if subtotal > 50 else 4.95
        total = round(subtotal + shipping, 2)
        placed = now - timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(1440))
        ords.append({
            "order_id": f"{100000 + i}",
            "customer_id": None if guest else cust["customer_id"],
            "customer_email": email,
            "status": rng.choice(STATUSES),
            "currency": CURRENCY[country],
            "total": total,
            "subtotal": subtotal,
            "tax": round(total / 6, 2),
            "shipping": shipping,
            "discount": 0,
            "refunded": 0,
            "placed_at": _iso(placed),
            "updated_at": _iso(placed + timedelta(hours=2)),
            "lines": lines,
            "store": rng.choice(["uk-web", "eu-web", "us-web"]),
            "coupon_code": rng.choice([None, None, "WELCOME10"]),
        })
    if orders >= 6:
        ords[1]["currency"] = "XXY"                                          # not ISO 4217
        ords[3]["refunded"] = ords[3]["total"] + 10                          # refund > total
        ords[4]["lines"] = []                                                # no lines
        ords[5]["customer_email"] = custs[1]["email"]                        # waits: C1001
        ords[5]["customer_id"] = custs[1]["customer_id"]

    certs: list[dict[str, Any]] = []
    for i in range(certificates):
        recipient = custs[rng.randrange(len(custs))]["email"] if i % 3 else f"friend{i}@example.net"
        code = f"GIFT-{rng.randrange(16**6):06X}"
        certs.append({
            "certificate_id": f"G{5000 + i}",
            "recipient_email": recipient,
            "code": code,
            "amount": rng.choice([10, 25, 50, 100]),
            "currency": "GBP",
            "link": f"https://shop.example.com/gift/{code}",
            "expires_at": _iso(now + timedelta(days=365)),
            "campaign_id": None,
            "updated_at": _iso(now - timedelta(days=rng.randrange(30))),
        })
    if certificates >= 3:
        certs[1]["link"] = certs[1]["link"].replace("https://", "http://")  # not https
        certs[2]["amount"] = 0                                               # not > 0
    return SampleData(custs, ords, certs)


def catalogue(stores: tuple[str, ...] = ("uk-web", "eu-web"),
              now: datetime | None = None) -> list[dict[str, Any]]:
    """The sample shop's products, per store (SPEC §1 ``products``): the catalogue the
    demo loads, with a withdrawn product and one deliberate mistake."""
    now = now or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    currency = {"uk-web": "GBP", "eu-web": "EUR", "us-web": "USD"}
    rows: list[dict[str, Any]] = []
    for store in stores:
        for sku, name, price, cats in PRODUCTS:
            rows.append({
                "sku": sku, "store": store, "name": name, "price": price,
                "sale_price": round(price * 0.8, 2) if sku == "MUG-01" else None,
                "currency": currency.get(store, "GBP"),
                "url": f"https://shop.example.com/{store}/p/{sku.lower()}",
                "image_url": f"https://cdn.shop.example.com/{sku.lower()}.jpg",
                "categories": cats, "stock": len(name) % 7, "status": "enabled",
                "updated_at": _iso(now - timedelta(days=len(sku)))})
    rows[-1]["status"] = "disabled"                  # withdrawn: stays out of the catalogue
    if len(rows) > 4:
        rows[4]["price"] = -22.5                     # deliberate mistake: a negative price
    return rows


def write_products(rows: list[dict[str, Any]], folder: str | Path) -> Path:
    """The products as JSON Lines (``dotsync load products``)."""
    path = Path(folder) / "products.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


#: The demo account's abandoned-cart program (``DOTSYNC_CART_PROGRAM_ID``).
CART_PROGRAM = {"id": 5, "name": "Abandoned cart", "status": "Active"}


def carts(data: SampleData, now: datetime) -> list[dict[str, Any]]:
    """A few open carts of the sample shop at ``now`` (the run's clock measures how long a
    cart has been idle, so they are dated from it): two abandoned hours ago, one still
    being filled, an empty one, and one of a customer without marketing consent. Their
    shoppers have no order yet, so no earlier order counts as a conversion."""
    buyers = {str(o[k]) for o in data.orders for k in ("customer_id", "customer_email")}
    emails = [str(c["email"]).strip().lower() for c in data.customers]
    ok = [c for c, e in zip(data.customers, emails, strict=True)
          if emails.count(e) == 1 and "@@" not in e and e != "unsubscribed@example.com"
          and c["customer_id"] not in buyers and c["email"] not in buyers]
    subscribed = [c for c in ok if c["email_consent"] == "subscribed"]
    other = next(c for c in ok if c["email_consent"] == "unsubscribed")

    def cart(n: int, who: dict[str, Any], idle: timedelta, items: list[tuple[Any, ...]],
             ) -> dict[str, Any]:
        lines = [{"sku": sku, "name": name, "quantity": 1, "unit_price": price,
                  "url": f"https://shop.example.com/uk-web/p/{sku.lower()}"}
                 for sku, name, price, _cats in items]
        total = round(sum(li["unit_price"] for li in lines), 2)
        return {"cart_id": f"K{n}", "customer_id": who["customer_id"],
                "customer_email": who["email"], "currency": "GBP", "lines": lines,
                "subtotal": total, "total": total,
                "url": f"https://shop.example.com/cart/restore/K{n}",
                "created_at": _iso(now - idle - timedelta(minutes=20)),
                "updated_at": _iso(now - idle), "converted_order_id": None,
                "converted_at": None}

    return [cart(2001, subscribed[0], timedelta(hours=3), PRODUCTS[:2]),   # recovered later
            cart(2002, subscribed[1], timedelta(hours=5), PRODUCTS[2:3]),  # abandoned
            cart(2003, subscribed[2], timedelta(minutes=10), PRODUCTS[3:4]),  # not idle yet
            cart(2004, subscribed[3], timedelta(hours=4), []),             # empty: not sent
            cart(2005, other, timedelta(hours=6), PRODUCTS[:1])]           # no consent


def recovery_order(cart: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The order of a shopper who came back to an abandoned cart and bought it, placed
    ``now``: an order of the contact placed after the cart was created converts it."""
    total = cart["total"]
    return {"order_id": f"R{cart['cart_id'][1:]}", "customer_id": cart["customer_id"],
            "customer_email": cart["customer_email"], "status": "processing",
            "currency": cart["currency"], "total": total, "subtotal": total, "tax": 0,
            "shipping": 0.0, "discount": 0, "refunded": 0, "placed_at": _iso(now),
            "updated_at": _iso(now), "lines": cart["lines"], "store": "uk-web",
            "coupon_code": None}


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Rows as JSON Lines (what ``dotsync load`` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
