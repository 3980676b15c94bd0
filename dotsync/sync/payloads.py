"""What reaches Dotdigital (SPEC §2), built from validated rows.

Each builder takes one validated, normalised row (a mapping produced by the data
contracts) and returns the JSON Dotdigital expects. Hashes of these payloads are
what the ledger compares to decide whether anything changed since the last send.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: SPEC §1 input values -> Dotdigital v3 request enums (lower camel case).
EMAIL_TYPES = {"html": "html", "plaintext": "plainText"}
OPT_IN_TYPES = {
    "unknown": "unknown",
    "single": "single",
    "double": "double",
    "verified_double": "verifiedDouble",
}


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if value is pd.NaT:
        return False
    return not (isinstance(value, str) and value == "")


def payload_hash(payload: Any) -> str:
    """A stable 32-hex-digit fingerprint of a JSON payload."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def iso_utc_series(values: pd.Series) -> pd.Series:
    """:func:`iso_utc` over a column of timestamps, vectorised (None where missing)."""
    ts = pd.to_datetime(values, utc=True, errors="coerce")
    text = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    return text.astype(object).where(ts.notna(), None)


def mobile_for_dotdigital(e164: str) -> str:
    """E.164 as Dotdigital's own examples write it: digits, no leading ``+``."""
    return e164[1:] if e164.startswith("+") else e164


def iso_utc(value: Any) -> str | None:
    """A timestamp as ISO 8601 in UTC with a ``Z``, as Dotdigital's insight dates."""
    if not _present(value):
        return None
    if isinstance(value, str) and value.endswith("Z"):  # already in this form
        return value
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def contact_payload(row: Mapping[str, Any], address_book_id: int | None = None) -> dict[str, Any]:
    """A v3 contact (for ``PATCH /contacts/v3/…`` and ``PUT /contacts/v3/import``).

    Only what the source says is sent: absent values are left out rather than sent
    as null (a null clears the field in Dotdigital), and the e-mail/SMS status only
    when the source's consent column is set, so dotsync never subscribes anyone.
    """
    identifiers: dict[str, Any] = {}
    if _present(row.get("email")):
        identifiers["email"] = row["email"]
    if _present(row.get("mobile_number")):
        identifiers["mobileNumber"] = mobile_for_dotdigital(row["mobile_number"])
    payload: dict[str, Any] = {
        "matchIdentifier": "email" if "email" in identifiers else "mobileNumber",
        "identifiers": identifiers,
    }
    fields: dict[str, Any] = {}
    extra = row.get("data_fields")
    if isinstance(extra, Mapping):
        fields.update({k: v for k, v in extra.items() if _present(v)})
    for column, name in (("first_name", "FIRSTNAME"), ("last_name", "LASTNAME"),
                         ("store", "STORE"), ("locale", "LOCALE")):
        if _present(row.get(column)):
            fields[name] = row[column]
    if fields:
        payload["dataFields"] = fields
    channels: dict[str, Any] = {}
    if "email" in identifiers and row.get("customer_id") is not None:
        email: dict[str, Any] = {
            "emailType": EMAIL_TYPES.get(str(row.get("email_type") or "html"), "html"),
            "optInType": OPT_IN_TYPES.get(str(row.get("opt_in_type") or "unknown"), "unknown"),
        }
        if _present(row.get("email_consent")):
            email["status"] = row["email_consent"]
        channels["email"] = email
    if "mobileNumber" in identifiers and _present(row.get("sms_consent")):
        channels["sms"] = {"status": row["sms_consent"]}
    if channels:
        payload["channelProperties"] = channels
    if address_book_id is not None:
        payload["lists"] = [address_book_id]
    return payload


def contact_key(row: Mapping[str, Any]) -> str:
    """The ledger key of a contact: its normalised e-mail, else its mobile number."""
    if _present(row.get("email")):
        return str(row["email"])
    return f"mobile:{row['mobile_number']}"


def _money(value: Any) -> float | None:
    return round(float(value), 4) if _present(value) else None


def order_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The insight record JSON of an order (snake_case, SPEC §2).

    Absent optional values are left out, so a field never flips between number and
    null (Dotdigital rejects a type change within a collection). Line categories are
    joined into one text because Dotdigital rejects arrays nested in arrays.
    """
    record: dict[str, Any] = {
        "id": row["order_id"],
        "order_status": row["status"],
        "purchase_date": iso_utc(row["placed_at"]),
        "currency": row["currency"],
        "order_total": _money(row["total"]),
    }
    for column, name in (("subtotal", "order_subtotal"), ("tax", "tax_total"),
                         ("shipping", "shipping_total"), ("discount", "discount_total")):
        if _present(row.get(column)):
            record[name] = _money(row[column])
    refunded = _money(row.get("refunded")) or 0.0
    record["refunded_total"] = refunded
    record["refunded"] = refunded > 0
    for column in ("store", "coupon_code"):
        if _present(row.get(column)):
            record[column] = row[column]
    if _present(row.get("fulfilled_date")):
        record["fulfilled_date"] = iso_utc(row["fulfilled_date"])
    products = []
    for line in row.get("lines") or []:
        product: dict[str, Any] = {
            "sku": str(line["sku"]),
            "name": str(line["name"]),
            "qty": line["quantity"],
            "price": _money(line["unit_price"]),
        }
        categories = line.get("categories") or []
        if categories:
            product["categories"] = ", ".join(str(c) for c in categories)
        products.append(product)
    record["products"] = products
    return record


def insight_import_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One record of ``PUT /insightData/v3/import`` for an order."""
    return {
        "contactIdentity": {"identifier": "email", "value": row["customer_email"]},
        "key": str(row["order_id"]),
        "json": order_record(row),
    }


def _text(value: Any) -> str:
    if not _present(value):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return iso_utc(value) or ""
    return str(value)


def certificate_personalisation(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "CERTIFICATE_CODE": _text(row["code"]),
        "CERTIFICATE_AMOUNT": _text(row["amount"]),
        "CERTIFICATE_CURRENCY": _text(row["currency"]),
        "CERTIFICATE_LINK": _text(row["link"]),
        "CERTIFICATE_EXPIRES": _text(row.get("expires_at")),
    }


def confirmation_personalisation(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "ORDER_ID": _text(row["order_id"]),
        "ORDER_TOTAL": _text(row["total"]),
        "CURRENCY": _text(row["currency"]),
    }
