"""Which fields are optional (SPEC §1): a problem in one is a *warning*, not a reject.

A record whose optional field cannot be used is sent without that field (never with a
null: a null clears a Dotdigital data field), and the warning names the field, the
value (masked where it is personal) and the reason. ``DOTSYNC_STRICT_FIELDS`` names
fields whose problems reject the record instead, as every problem did before.

Kept free of pandas so configuration can check ``DOTSYNC_STRICT_FIELDS`` cheaply.
Fields of the consent record and other optional columns join these sets as their
checks are written; a contract routes a problem by asking :func:`is_optional`.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Per entity, the fields whose problems are warnings unless made strict. ``lines.sku``
#: and ``lines.categories`` are fields of an order's line; ``data_fields`` covers each of
#: a customer's extra data fields.
OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    "customers": frozenset({
        "mobile_number", "first_name", "last_name", "country", "store", "locale",
        "data_fields", "email_type", "opt_in_type",
    }),
    "orders": frozenset({
        "subtotal", "tax", "shipping", "discount", "refunded", "store", "coupon_code",
        "lines.sku", "lines.categories",
    }),
    "certificates": frozenset({"expires_at", "campaign_id"}),
    "carts": frozenset({"subtotal", "total", "url", "created_at", "lines.sku",
                        "lines.categories"}),
    "products": frozenset({"sale_price", "url", "image_url", "categories", "stock"}),
}

#: Fields whose values are personal: warnings show them masked.
PERSONAL_FIELDS: frozenset[str] = frozenset({
    "mobile_number", "first_name", "last_name", "data_fields",
})


def all_optional() -> frozenset[str]:
    """Every field name ``DOTSYNC_STRICT_FIELDS`` may list."""
    out: set[str] = set()
    for names in OPTIONAL_FIELDS.values():
        out |= names
    return frozenset(out)


def parse_strict(raw: str | Iterable[str] | None) -> frozenset[str]:
    """``DOTSYNC_STRICT_FIELDS`` (comma-separated) as a set of known field names.

    Raises ``ValueError`` naming any name that is not an optional field (a typo must
    not silently leave a field lenient).
    """
    if raw is None:
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    names = frozenset(n.strip() for n in items if n and n.strip())
    unknown = sorted(names - all_optional())
    if unknown:
        raise ValueError(
            f"DOTSYNC_STRICT_FIELDS names {', '.join(repr(n) for n in unknown)}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not an optional field; known: "
            f"{', '.join(sorted(all_optional()))}"
        )
    return names


def is_strict(field: str, strict: frozenset[str]) -> bool:
    """Whether ``field`` (``lines.sku``, ``data_fields``, …) was made strict."""
    return field in strict or field.split(".", 1)[0] in strict


def is_optional(entity: str, field: str, strict: frozenset[str] = frozenset()) -> bool:
    """Whether a problem in ``field`` of ``entity`` is a warning (not a reject)."""
    return field in OPTIONAL_FIELDS.get(entity, frozenset()) and not is_strict(field, strict)
