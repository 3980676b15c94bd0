"""``dotsync trace ENTITY ID``: one record's story, from the store alone.

The staged row (personal data masked unless asked), what the data contracts say of it
now, every attempt from the attempt log, its ledger state, what it waits for, and the
ledger rows it depends on (its contact; an order's confirmation). Every read is by key
through an index (the staging table's primary key, the ledger's, the attempt log's
(entity, key, at), the customers' e-mail index), so a trace costs the same on a store
of millions as on an empty one. What Dotdigital holds now is :mod:`dotsync.trace_remote`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.config import Settings
from dotsync.masking import mask_email, mask_phone, mask_text
from dotsync.store import Store, attempts, schema
from dotsync.store import keys as record_keys
from dotsync.store.ledger import LEDGER_COLUMNS, WAITING_PREFIX
from dotsync.store.status import source_hashes

#: Staged columns whose values are personal, and how each is masked.
PERSONAL_COLUMNS: dict[str, dict[str, Any]] = {
    "customers": {"email": mask_email, "first_name": mask_text, "last_name": mask_text,
                  "mobile_number": mask_phone, "data_fields": mask_text,
                  "consent_ip": mask_text, "consent_user_agent": mask_text},
    "orders": {"customer_email": mask_email},
    # The recovery link opens the customer's basket.
    "carts": {"customer_email": mask_email, "url": mask_text},
    # The code and the link redeem the gift: as good as money.
    "certificates": {"recipient_email": mask_email, "code": mask_text, "link": mask_text},
    # A product names no person.
    "products": {},
}
_EMAIL_COLUMN = {"customers": "email", "orders": "customer_email",
                 "certificates": "recipient_email", "carts": "customer_email"}


#: The entities a trace tells: the synced ones (carts among them) and the catalogue's
#: products.
TRACED: tuple[str, ...] = (*schema.ENTITIES, "products")


class RecordNotFound(LookupError):
    """Neither the staging store nor the ledger knows the record."""


def run_url(run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run, when the UI's address is known
    (``PREFECT_UI_URL``, else ``PREFECT_API_URL`` without its ``/api``)."""
    if not run_id:
        return None
    base = os.environ.get("PREFECT_UI_URL", "").strip()
    if not base:
        api = os.environ.get("PREFECT_API_URL", "").strip().rstrip("/")
        if not api.endswith("/api"):
            return None
        base = api[: -len("/api")]
    return f"{base.rstrip('/')}/runs/flow-run/{run_id}"


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _masked_row(entity: str, row: dict[str, Any], show_personal: bool) -> dict[str, Any]:
    out = {k: _plain(v) for k, v in row.items() if not k.startswith("_")}
    if not show_personal:
        for column, masker in PERSONAL_COLUMNS[entity].items():
            if out.get(column) is not None:
                out[column] = masker(out[column])
    return out


def _ledger_row(store: Store, entity: str, key: str) -> dict[str, Any] | None:
    t = schema.ledger
    query = sa.select(*[t.c[c] for c in LEDGER_COLUMNS]).where(t.c.entity == entity,
                                                                 t.c.key == key)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else {k: _plain(v) for k, v in row._mapping.items()}


def _contract(entity: str, staged: pd.DataFrame, settings: Settings, store: Store,
              show_personal: bool) -> dict[str, Any]:
    """This one row through its data contract, as the next run would see it."""
    import dotsync.data_contracts as dc

    frame = staged[list(schema.ENTITY_COLUMNS[entity])]
    if entity == "customers":
        result = dc.validate_customers(frame, settings.default_region, settings.strict_fields)
    elif entity in ("orders", "carts"):
        ids = [i for i in frame["customer_id"].tolist() if isinstance(i, str) and i.strip()]
        emails: dict[str, Any] = {}
        if ids:
            found = store.read_staged("customers", ids)
            emails = dict(zip(found["customer_id"], found["email"], strict=True))
        if entity == "carts":
            from dotsync.data_contracts.carts import validate_carts

            result = validate_carts(frame, strict=settings.strict_fields,
                                    customer_emails=emails)
        else:
            result = dc.validate_orders(frame, strict=settings.strict_fields,
                                        customer_emails=emails)
    elif entity == "products":
        from dotsync.data_contracts.products import validate_products

        result = validate_products(frame, strict=settings.strict_fields)
    else:
        result = dc.validate_certificates(frame, settings.certificate_campaign_id,
                                          settings.strict_fields)

    def say(text: Any) -> Any:
        return text if show_personal else attempts.scrub(text)

    rejects = [{"field": r["field"], "check": r["check"], "reason": say(r["reason"])}
               for r in result.rejects.to_dict("records")]
    warnings = [{"field": w["field"], "check": w["check"], "value": say(_plain(w["value"])),
                 "reason": say(w["reason"])} for w in result.warnings.to_dict("records")]
    return {"result": "rejected" if rejects else "valid", "rejects": rejects,
            "warnings": warnings}


def _contact_email(entity: str, row: dict[str, Any] | None, store: Store) -> str | None:
    if row is None:
        return None
    if entity not in _EMAIL_COLUMN:  # a product has no contact
        return None
    email = row.get(_EMAIL_COLUMN[entity])
    if entity in ("orders", "carts") and not (isinstance(email, str) and email.strip()):
        cid = row.get("customer_id")
        if isinstance(cid, str) and cid.strip():
            found = store.read_staged("customers", [cid])
            email = found["email"].iloc[0] if not found.empty else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


def _state_now(ledger: dict[str, Any] | None, staged: pd.DataFrame | None,
               entity: str) -> tuple[str, str | None]:
    """The record's state as ``dotsync rejects`` and ``status`` would name it, and what
    it waits for (None when nothing)."""
    if ledger is None:
        if staged is None:
            return "unknown", None
        return "pending", "the next run: no run has processed this record yet"
    state = ledger["state"]
    # A certificate once sent is never sent again, whatever changes.
    rechecked = state == "rejected" or (state == "synced" and entity != "certificates")
    if (staged is not None and rechecked
            and source_hashes(entity, staged).iloc[0] != ledger.get("source_hash")):
        return "pending", "the next run: the staged record changed since it was processed"
    code = ledger.get("error_code") or ""
    if state == "pending" and code.startswith(WAITING_PREFIX):
        return "waiting", ledger.get("error_message") or code
    if state == "pending":
        return "pending", "the next run"
    if state == "failed":
        return "failed", "the next run, which retries it"
    if state == "in_doubt":
        return "in_doubt", ("someone to check Dotdigital: the send may or may not have "
                            "happened; `dotsync resend certificate ID` sends it again")
    return state, None


def _public_ledger(row: dict[str, Any] | None, show_personal: bool) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k not in ("source_hash", "payload_hash")}
    if not show_personal:
        out["error_message"] = attempts.scrub(out.get("error_message"))
        if "@" in str(out.get("key") or ""):
            out["key"] = mask_email(out["key"])
    return out


def trace(store: Store, settings: Settings, entity: str, key: str, *,
          show_personal: bool = False, client: Any | None = None) -> dict[str, Any]:
    """One record's story as a JSON-able dict; :class:`RecordNotFound` when neither the
    staging store nor the ledger nor the attempt log has it. With a Dotdigital
    ``client``, ``remote`` says what Dotdigital holds now."""
    if entity not in TRACED:
        raise ValueError(f"unknown entity {entity!r}: one of {', '.join(TRACED)}")
    key = record_keys.of_shown(entity, key)  # a product as shown: ``store / sku``
    staged = store.read_staged(entity, [key])
    staged = None if staged.empty else staged
    row = None if staged is None else staged.iloc[0].to_dict()
    ledger = _ledger_row(store, entity, key)
    log = attempts.of_record(store, entity, key)
    if row is None and ledger is None and not log:
        raise RecordNotFound(f"no {entity} record {record_keys.display(key)!r} in the staging "
                             "store or the ledger")
    email = _contact_email(entity, row, store)
    contact = _ledger_row(store, "contacts", email) if email else None
    # A guest's contact attempts are logged under its e-mail.
    contact_log = attempts.of_record(store, "contacts", email) if email and entity != \
        "customers" else []
    state, waits_for = _state_now(ledger, staged, entity)
    if state == "pending" and waits_for == "the next run" and entity != "customers" \
            and email and (contact is None or contact["state"] != "synced"):
        waits_for = (f"its contact {email if show_personal else mask_email(email)}, "
                     f"{'not yet in Dotdigital' if contact is None else contact['state']}")
    out: dict[str, Any] = {
        "entity": entity,
        "id": record_keys.display(key),
        "state": state,
        "waits_for": waits_for,
        "staged": None if row is None else _masked_row(entity, row, show_personal),
        "contract": None if staged is None else _contract(entity, staged, settings, store,
                                                          show_personal),
        "ledger": _public_ledger(ledger, show_personal),
        "contact": None if email is None else {
            "email": email if show_personal else mask_email(email),
            "ledger": _public_ledger(contact, show_personal),
            "attempts": [_attempt(a, show_personal) for a in contact_log]},
        "attempts": [_attempt(a, show_personal) for a in log],
    }
    # What followed from the record, exactly once: its confirmation, its enrolment.
    follow = {"orders": ("confirmation", "confirmations"),
              "carts": ("enrolment", "cart_enrolments")}.get(entity)
    if follow is not None:
        name, kind = follow
        then = _ledger_row(store, kind, key)
        if then is not None:
            out[name] = {
                "ledger": _public_ledger(then, show_personal),
                "attempts": [_attempt(a, show_personal)
                             for a in attempts.of_record(store, kind, key)]}
    if client is not None:
        from dotsync.trace_remote import remote

        out["remote"] = remote(client, settings, out, email, show_personal=show_personal)
    return out


def _attempt(row: dict[str, Any], show_personal: bool) -> dict[str, Any]:
    out = {k: _plain(v) for k, v in row.items() if k not in ("entity", "key")}
    out["run_url"] = run_url(out.get("run_id"))
    return out


def as_text(story: dict[str, Any]) -> str:
    """The story for a terminal: sections, one line per attempt."""
    lines = [f"{story['entity']} {story['id']}: {story['state']}"
             + (f", waiting for {story['waits_for']}" if story.get("waits_for") else "")]
    if story["staged"] is None:
        lines.append("\nStaged row: none (deleted from the staging store, or never staged)")
    else:
        lines.append("\nStaged row:")
        lines += [f"  {k}: {_short(v)}" for k, v in story["staged"].items() if v is not None]
    contract = story.get("contract")
    if contract is not None:
        lines.append(f"\nContract: {contract['result']}")
        lines += [f"  rejected {r['field']} ({r['check']}): {r['reason']}"
                  for r in contract["rejects"]]
        lines += [f"  warning {w['field']} ({w['check']}): {w['reason']}"
                  for w in contract["warnings"]]
    ledger = story.get("ledger")
    lines.append("\nLedger: " + ("no row yet" if ledger is None else
                 f"{ledger['state']}, {ledger['attempts']} attempts, updated "
                 f"{ledger['updated_at']}, run {ledger['run_id']}"
                 + (f", {ledger['error_code']}: {ledger['error_message']}"
                    if ledger.get("error_code") else "")
                 + (f", ref {ledger['dotdigital_ref']}" if ledger.get("dotdigital_ref")
                    else "")))
    contact = story.get("contact")
    if contact is not None:
        c = contact["ledger"]
        lines.append(f"Contact {contact['email']}: "
                     + ("not yet pushed" if c is None else f"{c['state']}"
                        + (f" ({c['error_code']}: {c['error_message']})"
                           if c.get("error_code") else "")))
    lines.append(f"\nAttempts ({len(story['attempts'])}):")
    lines += [_attempt_line(a) for a in story["attempts"]] or ["  none logged"]
    for a in (contact or {}).get("attempts") or []:
        lines.append("  contact: " + _attempt_line(a).strip())
    confirmation = story.get("confirmation")
    if confirmation is not None:
        c = confirmation["ledger"]
        lines.append(f"\nOrder confirmation: {c['state']}")
        lines += [_attempt_line(a) for a in confirmation["attempts"]]
    if "remote" in story:
        lines.append("\nDotdigital now:")
        lines += [f"  {k}: {_short(json.dumps(v, default=str))}"
                  for k, v in story["remote"].items()]
    return "\n".join(lines)


def _attempt_line(a: dict[str, Any]) -> str:
    answer = " ".join(str(x) for x in (a.get("error_code"), a.get("error_message")) if x)
    return (f"  {a['at']}  {a['operation']}: {a['outcome']}"
            + (f"  {answer}" if answer else "")
            + (f"  ref {a['reference']}" if a.get("reference") else "")
            + f"  run {a.get('run_url') or a.get('run_id') or '-'}")


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
