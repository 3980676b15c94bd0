"""The guarantees of RELIABILITY.md as checks on the ledger, the staging store and the
emulator, run after every fault, crash or hostile file.

Two levels:

* :func:`check_consistent` holds at *any* moment, even right after a SIGKILL or a
  failed run: every ledger row says something true about Dotdigital (a ``synced``
  record is there, a send Dotdigital received is ``synced`` or ``in_doubt`` and so can
  never be sent again, no insight record without its contact).
* :func:`check_invariants` holds once runs were allowed to finish: on top of the
  above, every staged record is settled (guarantee 1), nothing was sent twice (2),
  nothing was stored before its contact (3), and ``dotsync status`` accounts for
  every record.

Each check collects every violation before failing, so one failing test tells the
whole story.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dotsync.emulator import EmulatorServer
from dotsync.store import ENTITIES, ENTITY_KEYS, STATES, Ledger, Store
from dotsync.store.status import source_hashes, status
from tests.e2e.helpers import sends_by_code

#: States a staged record may end in once runs were allowed to finish.
FINAL = {
    "customers": {"synced", "rejected"},
    "orders": {"synced", "rejected"},
    "certificates": {"synced", "rejected", "in_doubt"},
    # A cart not sent (empty, no consent) is settled "synced" with error code not_sent.
    "carts": {"synced", "rejected"},
}
#: Ledger entities whose send must never repeat, and the personalisation value naming it.
EXACTLY_ONCE = {"certificates": "CERTIFICATE_CODE", "confirmations": "ORDER_ID"}


class InvariantViolation(AssertionError):
    """One or more guarantees do not hold; the message lists every violation."""


@dataclass
class Findings:
    """What a check found: violations, and counts a test may assert on further."""

    violations: list[str] = field(default_factory=list)
    states: dict[str, Counter[str]] = field(default_factory=dict)
    waiting: dict[str, list[str]] = field(default_factory=dict)

    def add(self, guarantee: int, text: str) -> None:
        self.violations.append(f"[guarantee {guarantee}] {text}")

    def raise_if_any(self) -> None:
        if self.violations:
            shown = self.violations[:60]
            more = len(self.violations) - len(shown)
            raise InvariantViolation(
                f"{len(self.violations)} invariant violation(s):\n  " + "\n  ".join(shown)
                + (f"\n  … and {more} more" if more else ""))


def _norm(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def _frames(store: Store) -> dict[str, pd.DataFrame]:
    ledger = Ledger(store)
    entities = (*ENTITIES, "contacts", "confirmations")
    return {e: ledger.frame(e).set_index("key", drop=False) for e in entities}


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _sent_codes(emulator: EmulatorServer) -> Counter[str]:
    """Sends per certificate code or order id (both stripped, as the contracts store them)."""
    counts: Counter[str] = Counter()
    for code, n in sends_by_code(emulator.state.sends()).items():
        counts[code.strip()] += n
    return counts


def _identity_of_sends(store: Store, frames: dict[str, pd.DataFrame]
                       ) -> dict[str, dict[str, list[str]]]:
    """``{entity: {sent value: [ledger keys it may belong to]}}`` for exactly-once entities."""
    certs = store.read_staged("certificates")
    by_code: dict[str, list[str]] = {}
    for key, code in zip(certs["certificate_id"], certs["code"], strict=True):
        if isinstance(code, str):
            by_code.setdefault(code.strip(), []).append(str(key))
    by_order = {str(k).strip(): [str(k)] for k in frames["confirmations"].index}
    return {"certificates": by_code, "confirmations": by_order}


def check_consistent(store: Store, emulator: EmulatorServer, *,
                     findings: Findings | None = None) -> Findings:
    """What holds at any moment, even right after a kill or a failed run.

    * every ledger row has a valid state, and every rejected, failed or in-doubt row a
      reason (guarantee 1: "rejected with a reason");
    * a ``synced`` contact, order or certificate is in Dotdigital (the ledger never
      claims what did not happen, guarantee 4);
    * every send Dotdigital received is ``synced`` or ``in_doubt`` in the ledger, so
      no later run can send it again (guarantee 2), and a ``synced`` one was sent;
    * every insight record belongs to an existing contact created before it, and no
      insight write was refused for a missing contact (guarantee 3).
    """
    found = findings or Findings()
    frames = _frames(store)
    for entity, frame in frames.items():
        bad = frame[~frame["state"].isin(STATES)]
        for key, state in zip(bad.index, bad["state"], strict=True):
            found.add(4, f"{entity} {key!r}: invalid ledger state {state!r}")
        unexplained = frame[frame["state"].isin(["rejected", "failed", "in_doubt"])
                            & frame["error_message"].map(lambda m: not _norm(m))]
        for key, state in zip(unexplained.index, unexplained["state"], strict=True):
            found.add(1, f"{entity} {key!r} is {state} without a reason")

    contacts = emulator.state.contacts()
    by_email = {_norm(c["identifiers"].get("email")): c for c in contacts
                if c["identifiers"].get("email")}
    by_mobile = {str(c["identifiers"].get("mobileNumber")): c for c in contacts
                 if c["identifiers"].get("mobileNumber")}
    ids = {c["contactId"]: c for c in contacts}

    synced_contacts = frames["contacts"][frames["contacts"]["state"] == "synced"]
    for key in synced_contacts.index:
        if key.startswith("mobile:"):
            present = key.removeprefix("mobile:").lstrip("+") in by_mobile
        else:
            present = _norm(key) in by_email
        if not present:
            found.add(4, f"contact {key!r} is synced in the ledger but not in Dotdigital")

    records = emulator.state.insight_records("Purchases")
    record_keys = Counter(str(r["key"]) for r in records)
    synced_orders = frames["orders"][frames["orders"]["state"] == "synced"]
    for key in synced_orders.index:
        if not record_keys.get(str(key)):
            found.add(4, f"order {key!r} is synced in the ledger but Dotdigital has no record")

    # Guarantee 3: no insight record for a contact that does not exist (yet).
    for record in records:
        owner = ids.get(record.get("contactId"))
        if owner is None:
            found.add(3, f"insight record {record['key']!r} has no contact "
                         f"(contactId {record.get('contactId')!r})")
            continue
        made, stored = _when(owner.get("created")), _when(record.get("created"))
        if made and stored and stored < made:
            found.add(3, f"insight record {record['key']!r} was stored before its contact")
    for call in emulator.state.calls():
        if (call["method"] == "PUT" and call["path"].startswith("/insightData/v3/contacts/")
                and call["status"] == 404):
            # Refused for a missing contact, or for a path the server could not route?
            parts = call["path"].split("/")
            owner = by_email.get(_norm(parts[5])) if parts[4] == "email" else None
            made = _when(owner.get("created")) if owner else None
            if made is None or made.timestamp() > call["time"]:
                found.add(3, f"an order was sent before its contact existed: {call['path']}")
    for imp in emulator.state.imports():
        for failure in imp.get("failures") or []:
            if failure.get("failureReason") == "ContactEmailDoesNotExist":
                found.add(3, f"insight import {imp['id']} carried order {failure.get('key')!r}"
                             " before its contact existed")

    # Guarantee 2: every send is known to the ledger as sent (or maybe sent).
    sent = _sent_codes(emulator)
    identities = _identity_of_sends(store, frames)
    for entity, value_name in EXACTLY_ONCE.items():
        frame = frames[entity]
        for value, n in sent.items():
            keys = identities[entity].get(value)
            if keys is None:
                continue
            states = [frame.loc[k, "state"] if k in frame.index else None for k in keys]
            may_have_sent = sum(s in ("synced", "in_doubt") for s in states)
            must_have_sent = sum(s == "synced" for s in states)
            if n > may_have_sent:
                found.add(2, f"{entity}: {value_name} {value!r} was sent {n} time(s) but the "
                             f"ledger allows {may_have_sent} (states {states})")
            elif n < must_have_sent:
                found.add(4, f"{entity}: {value_name} {value!r} is synced in the ledger "
                             f"{must_have_sent} time(s) but was sent {n} time(s)")
        synced = frame[frame["state"] == "synced"]
        for key in synced.index:
            values = [v for v, ks in identities[entity].items() if key in ks]
            if entity == "certificates" and values and not any(sent.get(v) for v in values):
                found.add(4, f"certificate {key!r} is synced in the ledger but was never sent")
            if entity == "confirmations" and not sent.get(str(key).strip()):
                found.add(4, f"confirmation {key!r} is synced in the ledger but was never sent")
    # A code sent that no staged certificate has, or an order id no confirmation row has:
    # a send the ledger does not know about at all.
    known = set(identities["certificates"]) | set(identities["confirmations"])
    for value, n in sent.items():
        if value not in known:
            found.add(2, f"{n} send(s) of {value!r} that no ledger row accounts for")
    return found


def check_invariants(store: Store, emulator: EmulatorServer, *,
                     allow_pending_waiting: bool = True,
                     expect_confirmations: bool = False) -> Findings:
    """Guarantees 1-3 (and 4 where the state shows it), after runs allowed to finish.

    ``allow_pending_waiting``: an order or certificate whose contact was rejected stays
    ``pending`` with error_code ``waiting_for_contact`` and a reason (it goes out once
    the customer row is fixed); that is allowed, nothing else is. ``expect_confirmations``:
    every synced order also had its order confirmation sent (or it is in doubt, or
    Dotdigital refused it), as a sync with ``DOTSYNC_ORDER_CAMPAIGN`` must do.

    Raises :class:`InvariantViolation` listing every violation; returns the findings.
    """
    found = check_consistent(store, emulator)
    frames = _frames(store)
    staged = {e: store.read_staged(e) for e in ENTITIES}
    rejected_emails = set()
    customers = staged["customers"]
    cust_ledger = frames["customers"]
    for cid, email in zip(customers["customer_id"], customers["email"], strict=True):
        if cid in cust_ledger.index and cust_ledger.loc[cid, "state"] == "rejected":
            rejected_emails.add(_norm(email))
    contact_states = frames["contacts"]["state"].to_dict()

    for entity in ENTITIES:
        frame, rows = frames[entity], staged[entity]
        key_col = ENTITY_KEYS[entity]
        hashes = source_hashes(entity, rows) if not rows.empty else pd.Series(dtype=object)
        email_col = {"orders": "customer_email", "certificates": "recipient_email",
                     "carts": "customer_email"}.get(entity)
        found.states[entity] = Counter()
        found.waiting[entity] = []
        for i, key in enumerate(rows[key_col]):
            if key not in frame.index:
                found.add(1, f"staged {entity} {key!r} has no ledger row (lost)")
                continue
            row = frame.loc[key]
            state = row["state"]
            found.states[entity][state] += 1
            if state == "pending" and allow_pending_waiting and email_col is not None \
                    and row["error_code"] == "waiting_for_contact":
                email = _norm(rows[email_col].iloc[i])
                if contact_states.get(email) == "synced":
                    found.add(1, f"{entity} {key!r} waits for contact {email!r}, which is "
                                 "synced: it should have gone out")
                elif email not in rejected_emails:
                    found.add(1, f"{entity} {key!r} waits for contact {email!r}, whose "
                                 "customer row is not rejected")
                elif not _norm(row["error_message"]):
                    found.add(1, f"{entity} {key!r} waits without a reason")
                found.waiting[entity].append(str(key))
                continue
            if state not in FINAL[entity]:
                found.add(1, f"{entity} {key!r} ended {state!r} "
                             f"({row['error_code']}: {row['error_message']})")
                continue
            exact = entity == "certificates" and state in ("synced", "in_doubt")
            if not exact and row["source_hash"] != hashes.iloc[i]:
                found.add(1, f"{entity} {key!r} is {state} for an older version of the row")

    if expect_confirmations:
        confirmations = frames["confirmations"]
        orders = frames["orders"]
        for key in orders.index[orders["state"] == "synced"]:
            state = confirmations.loc[key, "state"] if key in confirmations.index else None
            if state not in ("synced", "in_doubt", "rejected"):
                found.add(1, f"order {key!r} is synced but its confirmation is {state!r} "
                             "(lost: it will never be sent)")

    # Guarantee 2, by the book: no certificate code or order id sent twice, unless two
    # staged certificates share that code.
    code_holders = Counter(c.strip() for c in staged["certificates"]["code"]
                           if isinstance(c, str))
    for value, n in _sent_codes(emulator).items():
        if n > max(1, code_holders.get(value, 0)):
            found.add(2, f"{value!r} was sent {n} times")

    # `dotsync status` accounts for every staged record.
    counted = status(store)["entities"]
    for entity in ENTITIES:
        c = counted[entity]
        total = sum(c[s] for s in STATES)
        if c["staged"] != len(staged[entity]) or total != len(staged[entity]):
            found.add(1, f"status() counts {total} {entity} in states and {c['staged']} "
                         f"staged, but {len(staged[entity])} are staged")
        if c["pending"] != len(found.waiting.get(entity, [])):
            found.add(1, f"status() shows {c['pending']} {entity} pending; "
                         f"{len(found.waiting.get(entity, []))} wait for a rejected contact")
        for state in ("synced", "rejected", "in_doubt", "failed"):
            if c[state] != found.states[entity][state]:
                found.add(1, f"status() shows {c[state]} {entity} {state}; the ledger "
                             f"{found.states[entity][state]}")
    found.raise_if_any()
    return found


def dump_store(store: Store) -> str:
    """Every row of every table of the store, as text (for secret searches)."""
    parts: list[str] = []
    meta = sa.MetaData()
    meta.reflect(store.engine)
    with store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(parts)
