"""One run's context: what every step reads and writes, passed explicitly.

The store, the ledger, the client (as the :class:`~dotsync.dotdigital.api.DotdigitalAPI`
protocol), the report and the options, plus the little the steps tell each other
within a run: which keys are settled, why a contact is not in Dotdigital (for the
orders and certificates that wait on it), what a dry run would have pushed. Each of
these is a declared attribute, so a step never reads back state another step may or
may not have left behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from dotsync import failpoints
from dotsync.config import Settings
from dotsync.dotdigital.api import DotdigitalAPI
from dotsync.masking import mask_email
from dotsync.store import Ledger, Store
from dotsync.store import keys as record_keys
from dotsync.store import warnings as field_warnings
from dotsync.store.ledger import EXACTLY_ONCE
from dotsync.store.loader import MAX_KEY_LENGTH
from dotsync.store.schema import ENTITY_KEYS
from dotsync.sync.report import RunReport
from dotsync.sync.steps.options import Options
from dotsync.sync.steps.records import norm_email
from dotsync.sync.transactional import SendPlan

#: The report's name for each staged entity.
ENTITY_OF_STEP = {"customers": "contacts", "orders": "orders", "certificates": "certificates",
                  "products": "products", "carts": "carts"}
#: The column holding the e-mail of each staged entity's contact.
EMAIL_COLUMN = {"customers": "email", "orders": "customer_email",
                "certificates": "recipient_email", "carts": "customer_email"}
#: The entities whose settled keys a run remembers.
SETTLED_ENTITIES = ("contacts", "orders", "confirmations", "certificates", "products",
                    "carts", "cart_enrolments", "program_enrolments")


class Forgetful(set):  # type: ignore[type-arg]
    """A set that keeps nothing: settled keys are not tracked in a streaming backfill."""

    def add(self, _item: Any) -> None:
        return None

    def update(self, *_items: Any) -> None:
        return None


class RunContext:
    """What one run's steps share; built once per run and handed to every step."""

    def __init__(self, store: Store, settings: Settings, client: DotdigitalAPI | None, *,
                 options: Options, run_id: str | None = None, flow: str = "sync") -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.options = options
        self.run_id = run_id or uuid.uuid4().hex
        self.ledger = Ledger(store)
        self.report = RunReport(run_id=self.run_id, flow=flow, dry_run=options.dry_run)
        #: The order-confirmation campaign, resolved when the run connects.
        self.order_campaign_id: int | None = None
        #: When order confirmations were first enabled for this store (None: never).
        self.confirmations_enabled_at: datetime | None = None
        #: What this run sends (or, in a dry run, the next would), once decided.
        self.send_plan: SendPlan | None = None
        #: Called with the number of records settled by each finished import.
        self.on_progress: Callable[[int], None] | None = None
        #: Why a contact is not in Dotdigital, by e-mail, for the dependants that wait.
        self.contact_reasons: dict[str, str] = {}
        #: Contacts a dry run would push: their dependants count as ready.
        self.dry_run_contacts: set[str] = set()
        #: Orders a dry run would sync for the first time: the confirmations it would owe.
        self.first_synced_orders: list[dict[str, Any]] = []
        #: Keys whose outcome this run is final; a retried task skips them.
        self.settled: dict[str, set[str]] = {
            e: set() if options.track_settled else Forgetful() for e in SETTLED_ENTITIES}
        #: Bulk imports submitted and not all settled (``bulk_import.InFlight``): one
        #: pipeline's wait for its poll follows the others meanwhile.
        self.in_flight: list[Any] = []
        #: Contacts whose orders this run sent (not kept by a backfill, which sends
        #: millions): the carts step checks their carts for a conversion.
        self.ordered_emails: set[str] = set() if flow != "backfill" else Forgetful()
        #: The orders this run sent (not kept by a backfill): the events they raise may
        #: start a program (``DOTSYNC_PROGRAMS``).
        self.synced_order_ids: set[str] = set() if flow != "backfill" else Forgetful()
        self._staged_customers: pd.DataFrame | None = None

    @property
    def api(self) -> DotdigitalAPI:
        """The client, for the steps that send (a dry run never reaches them)."""
        if self.client is None:
            raise RuntimeError("this run has no Dotdigital client (a dry run sends nothing)")
        return self.client

    def progress(self, settled: int) -> None:
        if self.on_progress is not None:
            self.on_progress(settled)

    def wait_until(self, until: float, busy: Any = None) -> None:
        """Wait until the monotonic clock reads ``until``, meanwhile polling and settling
        whatever comes due in the other imports in flight (not ``busy``, the one
        waiting): an import submitted earlier is followed while a later one runs."""
        for other in list(self.in_flight):
            if other is not busy:
                other.step_until(until)
        remaining = until - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    # -- staged customers -----------------------------------------------------------

    def staged_customers(self) -> pd.DataFrame:
        """Every staged customer, read once per run (the one-frame paths use it)."""
        if self._staged_customers is None:
            frame = self.store.read_staged("customers")
            frame["_email_norm"] = norm_email(frame["email"])
            self._staged_customers = frame
        return self._staged_customers

    def customers_with_emails(self, emails: Iterable[str]) -> pd.DataFrame:
        """Staged customer rows whose normalised e-mail is one of ``emails``.

        Uses the customers already read this run when there are; otherwise asks the
        database, so a streaming backfill never holds the whole table.
        """
        wanted = sorted({e for e in emails if e})
        if self._staged_customers is not None:
            staged = self._staged_customers
            return staged[staged["_email_norm"].isin(wanted)]
        frame = self.store.read_staged_by_email(wanted)
        frame["_email_norm"] = norm_email(frame["email"])
        return frame[frame["_email_norm"].isin(wanted)]

    # -- what every step records ----------------------------------------------------

    def record_rejects(
        self, entity: str, pending: pd.DataFrame, rejects: pd.DataFrame,
        email_column: str | None, count: bool = True,
    ) -> set[str]:
        """Write contract rejects to the ledger (one reason per record) and the report."""
        if rejects.empty:
            return set()
        # The ledger's text key (products: store and sku joined) of every pending row.
        by_key = pending.assign(_text_key=record_keys.of_frame(entity, pending).to_numpy())
        by_key = by_key.drop_duplicates("_text_key").set_index("_text_key")
        rows: list[dict[str, Any]] = []
        keys: set[str] = set()
        for key, group in rejects.groupby("key", sort=False):
            key = str(key)
            first = group.iloc[0]
            reason = "; ".join(str(r) for r in group["reason"])
            fields = ", ".join(dict.fromkeys(str(f) for f in group["field"]))
            keys.add(key)
            source = by_key.loc[key] if key in by_key.index else None
            rows.append({
                "key": key, "state": "rejected", "error_code": str(first["check"]),
                "error_field": fields, "error_message": reason,
                "source_hash": None if source is None else source["_hash"],
            })
            email = None if source is None or email_column is None else source[email_column]
            if entity == "customers" and isinstance(email, str) and email.strip():
                norm = email.strip().lower()
                self.contact_reasons.setdefault(
                    norm, f"contact {mask_email(norm)} rejected: {first['check']} {reason}")
            self.report.problem(ENTITY_OF_STEP[entity], record_keys.display(key) or key,
                                "rejected", reason,
                                field=fields, email=email, code=str(first["check"]))
        if count:
            self.report.counts[ENTITY_OF_STEP[entity]].rejected += len(rows)
        if not self.options.dry_run:
            self.ledger.record(entity, rows, run_id=self.run_id,
                               protect_sent=entity in EXACTLY_ONCE)
        return keys

    def reject_long_keys(self, entity: str, pending: pd.DataFrame) -> pd.DataFrame:
        """Keys longer than dotsync keeps (512 characters) are rejected, not sent."""
        text = record_keys.of_frame(entity, pending)
        long = text.map(lambda k: isinstance(k, str) and len(k) > MAX_KEY_LENGTH)
        if not long.any():
            return pending
        key = " + ".join(record_keys.columns(entity))
        rejects = pd.DataFrame({
            "key": text[long].tolist(), "field": key, "check": "max_length",
            "reason": f"{key} is longer than {MAX_KEY_LENGTH} characters"})
        self.record_rejects(entity, pending, rejects, EMAIL_COLUMN.get(entity))
        return pending.loc[~long]

    def record_warnings(self, entity: str, validated: Iterable[str],
                        warnings: pd.DataFrame, replace: bool = True) -> None:
        """Fields left out of what is sent (SPEC §1): into the report and, replacing what
        an earlier validation of the same records said, into the ledger's warnings."""
        rows = [] if warnings.empty else [
            {"key": str(k), "field": f, "check": c, "value": v, "reason": r}
            for k, f, c, v, r in zip(warnings["key"], warnings["field"], warnings["check"],
                                     warnings["value"], warnings["reason"], strict=True)]
        self.report.warn(ENTITY_OF_STEP[entity], rows, replace=replace)
        if self.options.dry_run:
            return
        if replace:
            field_warnings.replace(self.store, entity, validated, rows, run_id=self.run_id)
        else:
            field_warnings.add(self.store, entity, rows, run_id=self.run_id)
        failpoints.hit("after_warnings")

    def tally(self, entity: str, state: str) -> None:
        """One record settled in ``state``, in the report's counts (``synced`` is sent)."""
        counts = self.report.counts[entity]
        if state == "synced":
            counts.sent += 1
        elif state == "rejected":
            counts.rejected += 1
        elif state == "in_doubt":
            counts.in_doubt += 1
        else:
            counts.failed += 1

    def count_skips(self, entity: str, skipped: Sequence[tuple[str, str]]) -> None:
        """Skipped sends: counted, by reason, in the report (``skipped`` in ``--json``)."""
        if not skipped:
            return
        counts = self.report.counts[entity]
        counts.skipped += len(skipped)
        for _key, why in skipped:
            counts.skipped_because[why] = counts.skipped_because.get(why, 0) + 1

    # -- dependants and their contacts ----------------------------------------------

    def contact_gate(self, emails: Iterable[str]) -> dict[str, str | None]:
        """For each e-mail: None when its contact is in Dotdigital, else the reason to wait."""
        wanted = sorted({e for e in emails if e})
        states = self.ledger.states("contacts", wanted)
        waiting = [e for e in wanted if states.get(e) != "synced"
                   and e not in self.dry_run_contacts]
        reasons = {e: self.contact_reasons[e] for e in waiting if e in self.contact_reasons}
        unexplained = [e for e in waiting if e not in reasons]
        if unexplained:
            self._explain(unexplained, reasons)
            for email in waiting:
                state = states.get(email)
                reasons.setdefault(
                    email, f"contact {mask_email(email)} "
                    + (f"{state}" if state else "not yet in Dotdigital"))
        return {email: reasons.get(email) if email in waiting else None for email in wanted}

    def _explain(self, emails: list[str], reasons: dict[str, str]) -> None:
        """The ledger's reason a customer behind each e-mail was rejected or failed."""
        holders = self.customers_with_emails(emails)
        if holders.empty:
            return
        problems = self.ledger.frame("customers", holders["customer_id"].tolist())
        problems = problems.set_index("key")
        for cid, email in zip(holders["customer_id"], holders["_email_norm"], strict=True):
            if cid in problems.index and problems.loc[cid, "state"] in ("rejected", "failed"):
                p = problems.loc[cid]
                reasons.setdefault(
                    email, f"contact {mask_email(email)} {p['state']}: "
                    f"{p['error_code'] or ''} {p['error_message'] or ''}".strip())

    def wait_for_contact(
        self, entity: str, rows: Sequence[Mapping[str, Any]], gate: Mapping[str, str | None],
        email_column: str,
    ) -> None:
        """Leave dependants pending with the reason their contact gives."""
        if not rows:
            return
        key_col = ENTITY_KEYS[entity]
        self.report.counts[entity].skipped += len(rows)
        self.settled[entity].update(str(r[key_col]) for r in rows)
        for row in rows:
            self.report.problem(entity, row[key_col], "waiting",
                                gate.get(row[email_column]) or "waiting for contact",
                                field=email_column, email=row[email_column],
                                code="waiting_for_contact")
        if not self.options.dry_run:
            self.ledger.record(entity, [
                {"key": r[key_col], "state": "pending", "source_hash": r["_hash"],
                 "error_code": "waiting_for_contact", "error_field": email_column,
                 "error_message": gate.get(r[email_column]) or "waiting for contact"}
                for r in rows
            ], run_id=self.run_id, protect_sent=entity in EXACTLY_ONCE)
