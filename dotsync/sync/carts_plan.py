"""What the cart step will do, decided by pure functions (no I/O, no clock).

Two outputs per run:

* **CartInsight records** (contact scope, SPEC §2): one per cart with lines whose
  contact may receive marketing, in the record shape of Dotdigital's own cart insight
  (the Magento 2 extension's ``Model/AbandonedCart/CartInsight/Data.php``, 4.x:
  ``cartId``, ``cartUrl``, ``createdDate``, ``modifiedDate``, ``currency``,
  ``subTotal``, ``grandTotal``, ``lineItems[{sku, name, unitPrice, quantity,
  totalPrice, productUrl, imageUrl}]`` and ``cartPhase``). The phase is
  ``ORDER_PENDING`` until the cart became an order, then ``ORDER_COMPLETE``, so a
  journey that waits on the phase stops.
* **Enrolments** into the abandoned-cart program (``POST /v2/programs/enrolments``,
  ``programs.yaml``: at most 25 contact ids a call): a cart idle for
  ``DOTSYNC_CART_IDLE_MINUTES``, not converted, not empty, of a contact with marketing
  consent, and not within ``DOTSYNC_CART_REENROL_HOURS`` of that contact's last cart
  enrolment. Each decision says why a cart is not enrolled, for the ledger.

A cart counts as converted when the source says so (``converted_order_id`` or
``converted_at``) or when an order of the same contact was placed at or after the
cart was created: a cart e-mail must never arrive after the purchase (the Magento
extension's users report exactly that), and a shop that does not link carts to orders
still gets that guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dotsync.data_contracts.currencies import round_amount

#: Dotdigital's contact-scoped cart collection, as its connectors name it; its type is
#: ``cartInsight`` (the insight spec's ``collectionType`` enum).
CART_COLLECTION = "CartInsight"
CART_COLLECTION_TYPE = "cartInsight"
PHASE_PENDING = "ORDER_PENDING"
PHASE_COMPLETE = "ORDER_COMPLETE"
#: ``programs.yaml``: ``contacts`` has ``maxItems: 25`` per enrolment.
MAX_ENROLMENT_CONTACTS = 25

# Reasons a cart is not enrolled (kept in the ledger, shown by ``dotsync rejects``).
EMPTY = "empty"
CONVERTED = "converted"
NOT_IDLE = "not_idle"
NO_CONSENT = "no_marketing_consent"
RECENTLY_ENROLLED = "contact_enrolled_recently"
ALREADY_ENROLLED = "cart_already_enrolled"
NO_CONTACT_ID = "waiting_for_contact_id"
NO_PROGRAM = "no_cart_program"


@dataclass(frozen=True)
class Cart:
    """The parts of a validated cart the plan looks at."""

    cart_id: str
    email: str
    created_at: datetime
    updated_at: datetime
    lines: tuple[Mapping[str, Any], ...]
    converted_order_id: str | None = None
    converted_at: datetime | None = None

    @property
    def empty(self) -> bool:
        return not any(_quantity(line) > 0 for line in self.lines)


@dataclass(frozen=True)
class EnrolmentDecision:
    cart_id: str
    email: str
    enrol: bool
    reason: str | None = None
    contact_id: int | None = None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset) as an aware datetime; naive is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def cart_from_row(row: Mapping[str, Any]) -> Cart:
    """A :class:`Cart` from a validated row (``lines`` parsed, ``customer_email`` the
    contact's normalised e-mail)."""
    created = parse_time(row.get("created_at")) or parse_time(row["updated_at"])
    updated = parse_time(row["updated_at"])
    assert created is not None and updated is not None
    return Cart(
        cart_id=str(row["cart_id"]),
        email=str(row["customer_email"]).strip().lower(),
        created_at=created,
        updated_at=updated,
        lines=tuple(row.get("lines") or ()),
        converted_order_id=_text(row.get("converted_order_id")),
        converted_at=parse_time(row.get("converted_at")),
    )


def is_converted(cart: Cart, orders_placed: Mapping[str, Sequence[datetime]]) -> bool:
    """Did the cart become an order? ``orders_placed`` maps a contact's e-mail to the
    times its orders were placed."""
    if cart.converted_order_id or cart.converted_at is not None:
        return True
    return any(placed >= cart.created_at for placed in orders_placed.get(cart.email, ()))


def cart_phase(cart: Cart, orders_placed: Mapping[str, Sequence[datetime]]) -> str:
    return PHASE_COMPLETE if is_converted(cart, orders_placed) else PHASE_PENDING


def wants_insight(cart: Cart, marketable: bool) -> bool:
    """A cart is sent as a CartInsight record only with lines and for a contact that
    may receive marketing: an empty cart never creates a contact."""
    return marketable and not cart.empty


def cart_record(row: Mapping[str, Any], phase: str) -> dict[str, Any]:
    """The CartInsight record JSON of a validated cart row.

    Amounts are rounded to the currency's minor units and stay numbers (one type per
    field in a collection); absent optional values are left out, never null.
    """
    currency = row["currency"]
    record: dict[str, Any] = {"cartId": str(row["cart_id"])}
    if _text(row.get("url")):
        record["cartUrl"] = row["url"]
    created = parse_time(row.get("created_at"))
    if created is not None:
        record["createdDate"] = _iso(created)
    updated = parse_time(row["updated_at"])
    assert updated is not None
    record["modifiedDate"] = _iso(updated)
    record["currency"] = currency
    if _present(row.get("subtotal")):
        record["subTotal"] = _money(row["subtotal"], currency)
    if _present(row.get("total")):
        record["grandTotal"] = _money(row["total"], currency)
    record["lineItems"] = [_line_item(line, currency) for line in row.get("lines") or ()]
    record["cartPhase"] = phase
    return record


def _line_item(line: Mapping[str, Any], currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if line.get("sku") is not None:
        item["sku"] = str(line["sku"])
    item["name"] = str(line["name"])
    unit = Decimal(str(line["unit_price"]))
    quantity = Decimal(str(line["quantity"]))
    item["unitPrice"] = _money(unit, currency)
    item["quantity"] = float(quantity)
    item["totalPrice"] = _money(unit * quantity, currency)
    for source, name in (("url", "productUrl"), ("image_url", "imageUrl")):
        if _text(line.get(source)):
            item[name] = str(line[source])
    categories = line.get("categories") or []
    if categories:  # one text: Dotdigital rejects arrays nested in arrays
        item["categories"] = ", ".join(map(str, categories))
    return item


def decide_enrolment(
    cart: Cart,
    *,
    now: datetime,
    idle: timedelta,
    reenrol: timedelta,
    marketable: bool,
    converted: bool,
    cart_enrolled: bool,
    last_contact_enrolment: datetime | None,
    contact_id: int | None,
) -> EnrolmentDecision:
    """Whether one cart enrols its contact now, and if not, why (first reason wins,
    in the order a reader checks them: the cart, then the contact)."""
    def no(reason: str) -> EnrolmentDecision:
        return EnrolmentDecision(cart.cart_id, cart.email, False, reason)

    if cart_enrolled:
        return no(ALREADY_ENROLLED)
    if cart.empty:
        return no(EMPTY)
    if converted:
        return no(CONVERTED)
    if now - cart.updated_at < idle:
        return no(NOT_IDLE)
    if not marketable:
        return no(NO_CONSENT)
    if last_contact_enrolment is not None and now - last_contact_enrolment < reenrol:
        return no(RECENTLY_ENROLLED)
    if contact_id is None:
        return no(NO_CONTACT_ID)
    return EnrolmentDecision(cart.cart_id, cart.email, True, None, contact_id)


def plan_enrolments(
    carts: Iterable[Cart],
    *,
    now: datetime,
    idle_minutes: int,
    reenrol_hours: int,
    marketable: Mapping[str, bool],
    orders_placed: Mapping[str, Sequence[datetime]],
    enrolled_carts: frozenset[str] | set[str],
    last_enrolment: Mapping[str, datetime],
    contact_ids: Mapping[str, int],
) -> list[EnrolmentDecision]:
    """Decisions for a run's carts. A contact is enrolled at most once per run, by its
    most recently updated due cart (its other due carts wait for the re-enrolment
    window, like any later cart of the contact)."""
    idle, reenrol = timedelta(minutes=idle_minutes), timedelta(hours=reenrol_hours)
    ordered = sorted(carts, key=lambda c: (c.updated_at, c.cart_id), reverse=True)
    taken: dict[str, datetime] = {}
    out: list[EnrolmentDecision] = []
    for cart in ordered:
        last = taken.get(cart.email, last_enrolment.get(cart.email))
        decision = decide_enrolment(
            cart, now=now, idle=idle, reenrol=reenrol,
            marketable=marketable.get(cart.email, False),
            converted=is_converted(cart, orders_placed),
            cart_enrolled=cart.cart_id in enrolled_carts,
            last_contact_enrolment=last, contact_id=contact_ids.get(cart.email))
        if decision.enrol:
            taken[cart.email] = now
        out.append(decision)
    return out


#: The ledger entity of cart enrolments (key: cart id). An enrolment is claimed
#: (``Ledger.claim``: ``in_doubt``, committed) before its call and settled after, so a
#: crash or a lost answer leaves it in doubt: never enrolled again automatically.
LEDGER_ENTITY = "cart_enrolments"
#: Ledger states that count as "this cart enrolled its contact".
ENROLLED_STATES = frozenset({"synced", "in_doubt"})


def enrolment_history(entries: Iterable[Mapping[str, Any]],
                      cart_emails: Mapping[str, str]
                      ) -> tuple[set[str], dict[str, datetime]]:
    """(carts that enrolled, each contact's last enrolment time) from ledger rows of
    :data:`LEDGER_ENTITY` (``key``, ``state``, ``sent_at`` or ``updated_at``).
    ``cart_emails`` maps a cart id to its contact's e-mail. An enrolment in doubt
    counts as made, at the time it was claimed: the safe reading of an unknown outcome."""
    enrolled: set[str] = set()
    last: dict[str, datetime] = {}
    for entry in entries:
        if entry.get("state") not in ENROLLED_STATES:
            continue
        cart_id = str(entry["key"])
        enrolled.add(cart_id)
        when = parse_time(entry.get("sent_at") or entry.get("updated_at"))
        email = cart_emails.get(cart_id)
        if when is not None and email is not None and (email not in last
                                                       or when > last[email]):
            last[email] = when
    return enrolled, last


def enrolment_batches(contact_ids: Iterable[int],
                      size: int = MAX_ENROLMENT_CONTACTS) -> Iterator[list[int]]:
    """Distinct contact ids, in first-seen order, ``size`` (≤ 25) at a time."""
    if not 1 <= size <= MAX_ENROLMENT_CONTACTS:
        raise ValueError(f"an enrolment takes 1 to {MAX_ENROLMENT_CONTACTS} contacts")
    batch: list[int] = []
    for contact_id in dict.fromkeys(contact_ids):
        batch.append(contact_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _quantity(line: Mapping[str, Any]) -> float:
    try:
        return float(line.get("quantity") or 0)
    except (TypeError, ValueError):
        return 0.0


def _present(value: Any) -> bool:
    return value is not None and value == value and value != ""


def _text(value: Any) -> str | None:
    return str(value) if _present(value) and str(value).strip() else None


def _money(value: Any, currency: str) -> float:
    return round_amount(float(Decimal(str(value))), currency)


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
