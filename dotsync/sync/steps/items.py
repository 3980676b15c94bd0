"""The records the steps hand each other, typed.

They stay plain dicts at run time (a backfill builds millions, and the bulk pipeline
packs a few fields of each while its import runs); these declarations say which keys
a step may rely on.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

#: A customer row behind a contact: (customer id, source fingerprint, merged into).
Member = tuple[str, Any, Any]


class ContactItem(TypedDict):
    """One contact to push: its payload, and every customer row behind it."""

    key: str
    payload: dict[str, Any]
    payload_hash: str
    customers: list[Member]
    email: str | None
    #: The channels a contact created by this push is given (consent policy).
    create: dict[str, Any] | None
    #: Never pushed (or gone from Dotdigital): a status for a contact this call creates.
    first_push: NotRequired[bool]
    #: Created by dotsync not marketable: resubscribed when the source says subscribed.
    ours: NotRequired[bool]
    #: "set" (created not marketable) or "clear" (resubscribed): the ledger's detail.
    mark: NotRequired[str | None]
    #: Dotdigital said it has no such contact: created again whatever the ledger says.
    recreate: NotRequired[bool]
    identity: NotRequired[str]
    has_mobile: NotRequired[bool]


class OrderRow(TypedDict):
    """One prepared order: its insight record and what settling it needs."""

    order_id: str
    customer_email: str
    total: Any
    currency: Any
    _hash: Any
    fulfilled_date: str | None
    status: Any
    placed_at: Any
    #: The insight record sent; dropped once serialised into an import.
    _payload: NotRequired[dict[str, Any]]
    _payload_hash: str
    #: Never synced before: its confirmation is owed once it is.
    _first_sync: bool
    #: Prepared before this run's contacts were settled: the contact gate is asked
    #: for it before it is sent (:mod:`dotsync.sync.steps.orders_ahead`).
    _ahead: NotRequired[bool]


class CertificateRow(TypedDict):
    """One valid certificate, as the contract passed it, with its source fingerprint."""

    certificate_id: str
    recipient_email: str
    code: str
    amount: Any
    currency: str
    link: str
    #: The certificate's campaign (its own column, else the configured one).
    campaign_id: Any
    expires_at: NotRequired[Any]
    _hash: Any


def certificate_rows(rows: list[dict[str, Any]]) -> list[CertificateRow]:
    """Plain record dicts of valid certificates, typed (no copy: the contract
    guarantees the keys)."""
    return rows  # type: ignore[return-value]
