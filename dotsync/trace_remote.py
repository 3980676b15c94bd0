"""``dotsync trace --remote``: what Dotdigital holds now for one record.

Read-only calls only, a handful per trace: the contact by e-mail (``GET
/contacts/v3/email/{email}``), for an order its insight record (``GET
/insightData/v3/contacts/email/{email}/{collection}/{order_id}``), for a certificate
its campaign (``GET /v2/campaigns/{id}``). A triggered-campaign send answers 200 with
no body and Dotdigital's API offers no per-send record of it to read back (DOTDIGITAL.md,
"triggered-campaign"): for certificates the ledger and the attempt log are the record,
and this says so.
"""

from __future__ import annotations

from typing import Any

from dotsync.config import Settings
from dotsync.dotdigital import errors as dd
from dotsync.masking import mask_email, mask_text
from dotsync.store import attempts

SEND_HISTORY_NOTE = ("Dotdigital keeps no readable record of a triggered-campaign send "
                     "(the send call answers with no body and no id): the ledger and the "
                     "attempts above are the record of it")


def _contact(client: Any, email: str, show_personal: bool) -> dict[str, Any]:
    try:
        found = client.get_contact("email", email)
    except dd.NotFoundError:
        return {"found": False}
    channels = found.get("channelProperties") or {}
    fields = found.get("dataFields") or {}
    out = {
        "found": True,
        "contact_id": found.get("contactId"),
        "email": email if show_personal else mask_email(email),
        "status": found.get("status"),
        "email_status": (channels.get("email") or {}).get("status"),
        "sms_status": (channels.get("sms") or {}).get("status"),
        "created": found.get("created"),
        "updated": found.get("updated"),
        "lists": [x.get("id") if isinstance(x, dict) else x
                  for x in found.get("lists") or []],
        "data_fields": fields if show_personal else {
            k: mask_text(v) if v not in (None, "") else v for k, v in fields.items()},
    }
    return out


def _insight(client: Any, collection: str, key: str, email: str) -> dict[str, Any]:
    record = client.get_contact_insight(collection, email, key)
    if record is None:  # the contact, the collection or the record is not there
        return {"found": False}
    return {"found": True, "collection": collection, "key": record.get("key"),
            "created": record.get("created"), "updated": record.get("updated"),
            "json": record.get("json")}


def remote(client: Any, settings: Settings, story: dict[str, Any], email: str | None, *,
           show_personal: bool = False) -> dict[str, Any]:
    """What Dotdigital holds for the record ``story`` tells (``email``: its contact's
    normalised e-mail, unmasked, or None when the record has none)."""
    entity, key = story["entity"], story["id"]
    out: dict[str, Any] = {}
    try:
        if email is None:
            out["contact"] = {"found": False, "note": "the record names no e-mail"}
            return out
        out["contact"] = _contact(client, email, show_personal)
        if entity in ("orders", "carts"):
            collection = settings.insight_collection if entity == "orders" else "CartInsight"
            out["insight_record"] = (_insight(client, collection, key, email)
                                     if out["contact"]["found"] else {"found": False})
        elif entity == "certificates":
            campaign = (story.get("staged") or {}).get("campaign_id") or \
                settings.certificate_campaign_id
            if campaign:
                try:
                    c = client.get_campaign(int(campaign))
                    out["campaign"] = {"id": c.id, "name": c.name, "status": c.status}
                except (dd.NotFoundError, ValueError):
                    out["campaign"] = {"id": campaign, "found": False}
            out["send_history"] = SEND_HISTORY_NOTE
    except dd.DotdigitalError as exc:
        if isinstance(exc, dd.AuthenticationError):
            raise
        out["error"] = attempts.scrub(f"{type(exc).__name__}: {exc}")
    return out
