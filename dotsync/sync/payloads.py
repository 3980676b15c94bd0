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

import numpy as np
import orjson
import pandas as pd
from dotsync.data_contracts.currencies import format_amount, minor_units, round_amount

from dotsync.sync.consent_policy import sent_status
from dotsync.sync.consent_records import consent_record

#: SPEC §1 input values -> Dotdigital v3 request enums (lower camel case).
EMAIL_TYPES = {"html": "html", "plaintext": "plainText"}
OPT_IN_TYPES = {
    "unknown": "unknown",
    "single": "single",
    "double": "double",
    "verified_double": "verifiedDouble",
}


def _present(value: Any) -> bool:
    """Not missing: not None, NaN, NaT or empty text (checked by exact type first:
    this runs for every value of every record)."""
    kind = type(value)
    if kind is str:
        return bool(value)  # non-empty
    if kind is float:
        return not math.isnan(value)
    if value is None or value is pd.NaT:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and value == "")


def payload_hash(payload: Any) -> str:
    """A stable 32-hex-digit fingerprint of a JSON payload.

    orjson with sorted keys writes the same bytes as ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` for everything a payload holds
    (strings, ints, two-decimal amounts, lists, objects), about ten times faster,
    so hashes written before stay valid. The rare value orjson refuses (an int
    beyond 64 bits, a non-string key) takes the standard library's path.
    """
    try:
        text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode("utf-8")
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def iso_utc_series(values: pd.Series) -> pd.Series:
    """:func:`iso_utc` over a column of timestamps, vectorised (None where missing)."""
    ts = pd.to_datetime(values, utc=True, errors="coerce")
    present = ts.notna().to_numpy()
    years = ts.dt.year[present]
    if years.empty or (years.between(1000, 9999)).all():
        # numpy formats a column about ten times faster than strftime; both truncate to
        # milliseconds, and agree for four-digit years.
        stamps = ts.dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
        text = np.char.add(np.datetime_as_string(stamps, unit="ms"), "Z").astype(object)
        text[~present] = None
        return pd.Series(text, index=values.index, dtype=object)
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
    text: str = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return text


def contact_payload(row: Mapping[str, Any], address_book_id: int | None = None) -> dict[str, Any]:
    """A v3 contact (for ``PATCH /contacts/v3/…`` and ``PUT /contacts/v3/import``).

    Only what the source says is sent: absent values are left out rather than sent
    as null (a null clears the field in Dotdigital), and the e-mail/SMS status only
    when the source's consent column says ``subscribed`` or ``unsubscribed``. What a
    contact dotsync *creates* gets without consent is added at the call
    (:mod:`dotsync.sync.consent_policy`): Dotdigital would make it subscribed.
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
        # The contract fills the defaults (html, unknown); None means a bad value was left
        # out with a warning (SPEC §1): Dotdigital then keeps what it has.
        email: dict[str, Any] = {}
        if row.get("email_type", "html") is not None:
            email["emailType"] = EMAIL_TYPES.get(str(row.get("email_type") or "html"), "html")
        if row.get("opt_in_type", "unknown") is not None:
            email["optInType"] = OPT_IN_TYPES.get(str(row.get("opt_in_type") or "unknown"),
                                                  "unknown")
        status = sent_status(row.get("email_consent"))
        if status is not None:
            email["status"] = status
        if email:
            channels["email"] = email
    sms = sent_status(row.get("sms_consent"))
    if "mobileNumber" in identifiers and sms is not None:
        channels["sms"] = {"status": sms}
    if channels:
        payload["channelProperties"] = channels
    if address_book_id is not None:
        payload["lists"] = [address_book_id]
    record, _problems = consent_record(row)
    if record is not None:
        payload["consentRecords"] = [record]
    return payload


def contact_key(row: Mapping[str, Any]) -> str:
    """The ledger key of a contact: its normalised e-mail, else its mobile number."""
    if _present(row.get("email")):
        return str(row["email"])
    return f"mobile:{row['mobile_number']}"


def _money(value: Any, currency: Any = None) -> float | None:
    """An amount as a number in the currency's ISO 4217 minor units (always a float, so
    a collection's field never changes type)."""
    return round_amount(float(value), currency) if _present(value) else None


def order_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The insight record JSON of an order (snake_case, SPEC §2).

    Absent optional values are left out, so a field never flips between number and
    null (Dotdigital rejects a type change within a collection). Line categories are
    joined into one text because Dotdigital rejects arrays nested in arrays.
    """
    currency = row["currency"]
    record: dict[str, Any] = {
        "id": row["order_id"],
        "order_status": row["status"],
        "purchase_date": iso_utc(row["placed_at"]),
        "currency": currency,
        "order_total": _money(row["total"], currency),
    }
    for column, name in (("subtotal", "order_subtotal"), ("tax", "tax_total"),
                         ("shipping", "shipping_total"), ("discount", "discount_total")):
        if _present(row.get(column)):
            record[name] = _money(row[column], currency)
    if not row.get(REFUND_LEFT_OUT):
        refunded = _money(row.get("refunded"), currency) or 0.0
        record["refunded_total"] = refunded
        record["refunded"] = refunded > 0
    for column in ("store", "coupon_code"):
        if _present(row.get(column)):
            record[column] = row[column]
    if _present(row.get("fulfilled_date")):
        record["fulfilled_date"] = iso_utc(row["fulfilled_date"])
    record["products"] = [_product(line, currency) for line in row.get("lines") or []]
    return record


#: A column the engine sets on orders whose ``refunded`` was left out with a warning:
#: their record then says nothing about refunds (rather than "0, not refunded").
REFUND_LEFT_OUT = "_refund_left_out"


def _product(line: Mapping[str, Any], currency: Any = None) -> dict[str, Any]:
    product: dict[str, Any] = {"name": str(line["name"])}
    sku = line.get("sku")
    if sku is not None:  # tips, gift wrap, custom items have none: left out, never null
        product["sku"] = str(sku)
    product["qty"] = line["quantity"]
    product["price"] = _money(line["unit_price"], currency)
    categories = line.get("categories") or []
    if categories:
        product["categories"] = ", ".join(map(str, categories))
    return product


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values, None where missing (or absent)."""
    if name not in frame:
        return [None] * len(frame)
    return [v if _present(v) else None for v in frame[name].tolist()]


def _raw_column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values, None only for NaN/NaT (empty text is kept)."""
    return [None if v is None or v is pd.NaT or (type(v) is float and math.isnan(v)) else v
            for v in frame[name].tolist()]


def _money_column(frame: pd.DataFrame, name: str, currencies: list[Any]) -> list[float | None]:
    """:func:`_money` over a column, each value in its row's currency."""
    if name not in frame:
        return [None] * len(frame)
    column = frame[name]
    if column.dtype.kind != "f":
        values = [None if v is None else float(v) for v in _column(frame, name)]
        return [None if v is None or v != v else round_amount(v, c)
                for v, c in zip(values, currencies, strict=True)]
    return _rounded(column.to_numpy(dtype=float), currencies)


def _rounded(values: np.ndarray, currencies: list[Any]) -> list[float | None]:
    """:func:`round_amount` over a float column, None for NaN, one currency at a time.

    An amount equal to ``numpy.round`` of itself at the currency's digits is the float
    nearest a decimal with that many digits, which :func:`round_amount` returns as is
    (plus ``0.0``): nearly every amount of a real shop. Only the others go through the
    exact decimal path, so a backfill does not call it millions of times."""
    out = values + 0.0
    codes = np.asarray(currencies, dtype=object)
    slow = np.zeros(len(values), dtype=bool)
    for code in set(currencies):
        mask = codes == code
        digits = minor_units(code)
        if digits is None:  # kept as given, signed zero included
            out[mask] = values[mask]
            continue
        chosen = values[mask]
        slow[mask] = ~((np.round(chosen, digits) == chosen) | np.isnan(chosen))
    for i in np.flatnonzero(slow).tolist():
        out[i] = round_amount(float(values[i]), currencies[i])
    result: list[float | None] = out.tolist()
    for i in np.flatnonzero(np.isnan(out)).tolist():
        result[i] = None
    return result


def insight_import_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`insight_import_record` for every row of a frame of validated orders.

    The same records, built column by column: a backfill builds millions, and the
    per-row path spends most of its time asking each value whether it is present.
    """
    if frame.empty:
        return []
    ids = _raw_column(frame, "order_id")
    emails = _raw_column(frame, "customer_email")
    statuses = _raw_column(frame, "status")
    dates = [v if type(v) is str and v.endswith("Z") else iso_utc(v)
             for v in _column(frame, "placed_at")]
    currencies = _raw_column(frame, "currency")
    totals = _money_column(frame, "total", currencies)
    optional = [(name, _money_column(frame, column, currencies)) for column, name in (
        ("subtotal", "order_subtotal"), ("tax", "tax_total"), ("shipping", "shipping_total"),
        ("discount", "discount_total"))]
    refunds = _money_column(frame, "refunded", currencies)
    no_refund = (frame[REFUND_LEFT_OUT].fillna(False).astype(bool).tolist()
                 if REFUND_LEFT_OUT in frame else [False] * len(frame))
    texts = [(column, _column(frame, column)) for column in ("store", "coupon_code")]
    fulfilled = [v if v is None or (type(v) is str and v.endswith("Z")) else iso_utc(v)
                 for v in _column(frame, "fulfilled_date")]
    lines = frame["lines"].tolist() if "lines" in frame else [None] * len(frame)
    out: list[dict[str, Any]] = []
    for i, order_id in enumerate(ids):
        record: dict[str, Any] = {
            "id": order_id,
            "order_status": statuses[i],
            "purchase_date": dates[i],
            "currency": currencies[i],
            "order_total": totals[i],
        }
        for name, values in optional:
            if values[i] is not None:
                record[name] = values[i]
        if not no_refund[i]:
            refunded = refunds[i] or 0.0
            record["refunded_total"] = refunded
            record["refunded"] = refunded > 0
        for name, values in texts:
            if values[i] is not None:
                record[name] = values[i]
        if fulfilled[i] is not None:
            record["fulfilled_date"] = fulfilled[i]
        currency = currencies[i]
        record["products"] = [_product(line, currency) for line in lines[i] or ()]
        out.append({
            "contactIdentity": {"identifier": "email", "value": emails[i]},
            "key": str(order_id),
            "json": record,
        })
    return out


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


def _amount(value: Any, currency: Any) -> str:
    """An amount as personalisation text in the currency's ISO 4217 minor units."""
    return format_amount(float(value), currency) if _present(value) else ""


def certificate_personalisation(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "CERTIFICATE_CODE": _text(row["code"]),
        "CERTIFICATE_AMOUNT": _amount(row["amount"], row["currency"]),
        "CERTIFICATE_CURRENCY": _text(row["currency"]),
        "CERTIFICATE_LINK": _text(row["link"]),
        "CERTIFICATE_EXPIRES": _text(row.get("expires_at")),
    }


def confirmation_personalisation(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "ORDER_ID": _text(row["order_id"]),
        "ORDER_TOTAL": _amount(row["total"], row["currency"]),
        "CURRENCY": _text(row["currency"]),
    }


def without_mobile(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A contact payload without its mobile number (and so without an SMS status): what
    is sent when Dotdigital says another contact holds the number."""
    out = dict(payload)
    out["identifiers"] = {k: v for k, v in payload.get("identifiers", {}).items()
                          if k != "mobileNumber"}
    channels = dict(payload.get("channelProperties") or {})
    channels.pop("sms", None)
    if channels:
        out["channelProperties"] = channels
    else:
        out.pop("channelProperties", None)
    return out
