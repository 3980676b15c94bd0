"""The sync itself, as plain Python: extract → validate → contacts → orders →
confirmations → certificates. Prefect tasks in ``tasks/`` call these steps; keeping
them here makes each step testable without an orchestrator and keeps one place
where the rules live.

Rules kept here:

* contacts go first; an order or certificate whose contact is not ``synced`` in the
  ledger waits (state ``pending``, with the reason) and goes out in a later run;
* a payload identical to the one last sent is not sent again (zero write calls on
  a no-change run);
* certificates and order confirmations are claimed in the ledger (``in_doubt``)
  before the call and settled after it; a send whose outcome is unknown stays
  ``in_doubt`` and is never repeated automatically;
* every outcome is written to the ledger as soon as it is known, so a retried task
  or flow resumes from there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dotsync.config import Settings
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.bulk import chunk_contacts, chunk_insight_records
from dotsync.masking import mask_email
from dotsync.store import Ledger, Store
from dotsync.store.schema import ENTITY_KEYS
from dotsync.store.status import source_hashes
from dotsync.sync import payloads
from dotsync.sync.imports import run_imports
from dotsync.sync.report import RunReport

log = logging.getLogger("dotsync.sync")

ENTITY_OF_STEP = {"customers": "contacts", "orders": "orders", "certificates": "certificates"}


class RunFailed(RuntimeError):
    """The run as a whole cannot go on (credentials, host, region, configuration)."""


@dataclass
class Options:
    dry_run: bool = False
    #: Contacts/orders up to this many go as single calls; more go as a bulk import.
    bulk_threshold: int = 200
    #: Serialised bytes per bulk import (Dotdigital's cap is 50 MB).
    import_max_bytes: int = 10_000_000
    #: Seconds between import status polls (Dotdigital advises 5-30 s).
    poll_interval: float = 5.0
    contact_imports_in_flight: int = 25
    insight_imports_in_flight: int = 5
    #: Triggered-campaign sends per batch call; one dropped batch leaves this many in doubt.
    send_batch_size: int = 50
    now: Callable[[], pd.Timestamp] = field(default=lambda: pd.Timestamp.now(tz="UTC"))


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _none_if_nan(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _norm_email(series: pd.Series) -> pd.Series:
    """Trim and lower-case, the way the contracts normalise e-mails, for matching."""
    return series.astype(object).where(series.notna(), None).map(
        lambda v: v.strip().lower() if isinstance(v, str) and v.strip() else None
    )


class SyncEngine:
    """One run's state: the store, the ledger, the client and the report."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: Any | None,
        *,
        run_id: str | None = None,
        options: Options | None = None,
        flow: str = "sync",
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.options = options or Options(bulk_threshold=settings.contact_bulk_threshold)
        self.run_id = run_id or uuid.uuid4().hex
        self.ledger = Ledger(store)
        self.report = RunReport(run_id=self.run_id, flow=flow, dry_run=self.options.dry_run)
        self.order_campaign_id: int | None = None
        self._staged_customers: pd.DataFrame | None = None
        self._first_synced_orders: list[dict[str, Any]] = []
        self._calls_at_start: dict[str, int] = dict(self._stats_calls()) if client else {}
        #: Keys whose outcome this run is final; a retried task skips them.
        self.settled: dict[str, set[str]] = {
            e: set() for e in ("contacts", "orders", "confirmations", "certificates")
        }

    # -- setup ------------------------------------------------------------------------

    def connect(self) -> None:
        """Check credentials and region, and resolve the order campaign, before any write.

        Raises :class:`RunFailed` with one clear message when the run cannot go on.
        """
        if self.options.dry_run or self.client is None:
            return
        try:
            self.client.account_info()
            if self.settings.order_campaign:
                self.order_campaign_id = self._resolve_campaign(self.settings.order_campaign)
        except dd.AuthenticationError as exc:
            raise RunFailed(
                "Dotdigital refused the API credentials (HTTP "
                f"{exc.status}): check DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD and that "
                "DOTDIGITAL_API_ENDPOINT is your account's region"
            ) from None
        except dd.HostNotAllowedError as exc:
            raise RunFailed(f"refusing to send credentials: {exc}") from None
        except dd.TransportError as exc:
            raise RunFailed(f"cannot reach Dotdigital: {exc}") from None

    def _resolve_campaign(self, name: str) -> int:
        wanted = name.strip()
        if wanted.isdigit():
            return int(wanted)
        matches = [c for c in self.client.list_campaigns() if c.name == wanted]
        if not matches:
            raise RunFailed(
                f"DOTSYNC_ORDER_CAMPAIGN names campaign {wanted!r}, which does not exist in "
                "this Dotdigital account"
            )
        return int(matches[0].id)

    def _stats_calls(self) -> Mapping[str, int]:
        stats = getattr(self.client, "stats", None)
        return dict(getattr(stats, "calls", {}) or {})

    def finish(self, status: str = "completed", message: str | None = None) -> RunReport:
        report = self.report
        report.finished_at = datetime.now(UTC)
        report.status = status
        report.message = message
        if self.client is not None:
            stats = getattr(self.client, "stats", None)
            calls = self._stats_calls()
            report.api_calls = {
                op: n - self._calls_at_start.get(op, 0)
                for op, n in calls.items()
                if n - self._calls_at_start.get(op, 0) > 0
            }
            report.retries = int(getattr(stats, "retries", 0) or 0)
            report.rate_limit_wait_seconds = float(
                getattr(stats, "rate_limit_wait_seconds", 0.0) or 0.0
            )
        return report

    # -- extract and validate -------------------------------------------------------

    def staged_customers(self) -> pd.DataFrame:
        if self._staged_customers is None:
            frame = self.store.read_staged("customers")
            frame["_email_norm"] = _norm_email(frame["email"])
            self._staged_customers = frame
        return self._staged_customers

    def extract(self, entity: str) -> pd.DataFrame:
        """Pending staged rows of ``entity`` with their source fingerprint in ``_hash``."""
        staged = self.staged_customers() if entity == "customers" else self.store.read_staged(
            entity
        )
        if staged.empty:
            return staged.assign(_hash=pd.Series([], dtype=object))
        hashes = source_hashes(entity, staged)
        mask = self.ledger.pending(entity, staged, hashes)
        out = staged.loc[mask].copy()
        out["_hash"] = hashes[mask]
        return out

    def _record_rejects(
        self, entity: str, pending: pd.DataFrame, rejects: pd.DataFrame,
        email_column: str | None, count: bool = True,
    ) -> set[str]:
        """Write contract rejects to the ledger (one reason per record) and the report."""
        if rejects.empty:
            return set()
        key_col = ENTITY_KEYS[entity]
        by_key = pending.drop_duplicates(key_col).set_index(key_col)
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
            self.report.problem(ENTITY_OF_STEP[entity], key, "rejected", reason,
                                field=fields, email=email, code=str(first["check"]))
        if count:
            self.report.counts[ENTITY_OF_STEP[entity]].rejected += len(rows)
        if not self.options.dry_run:
            self.ledger.record(entity, rows, run_id=self.run_id)
        return keys

    # -- contacts -------------------------------------------------------------------

    def plan_contacts(
        self, pending_customers: pd.DataFrame, dependants: Iterable[str]
    ) -> pd.DataFrame:
        """Contacts to push this run: changed customers (merged by e-mail) and the
        e-mail-only contacts that pending orders and certificates need.

        Returns one row per contact: ``key``, ``payload``, ``payload_hash`` and the
        ``customers`` rows (with their fingerprints) it stands for.
        """
        from data_contracts import merge_customers, validate_customers

        staged = self.staged_customers()
        counts = self.report.counts["contacts"]
        plans: list[dict[str, Any]] = []
        if not pending_customers.empty:
            emails = set(pending_customers["_email_norm"].dropna())
            group = staged[staged["_email_norm"].isin(emails)
                           | staged["customer_id"].isin(pending_customers["customer_id"])]
            group = group.copy()
            group["_hash"] = source_hashes("customers", group)
            result = validate_customers(group.drop(columns=["_email_norm", "_hash"]),
                                        self.settings.default_region)
            pending_ids = set(pending_customers["customer_id"])
            rejects = result.rejects[result.rejects["key"].astype(str).isin(pending_ids)]
            self._record_rejects("customers", group, rejects, "email")
            contacts, merged = merge_customers(result.valid)
            hash_of = dict(zip(group["customer_id"], group["_hash"], strict=True))
            merged_into: dict[str, list[str]] = {}
            for row in _records(merged):
                merged_into.setdefault(str(row["merged_into"]), []).append(str(row["customer_id"]))
            for row in _records(contacts):
                customer_id = str(row["customer_id"])
                members = [customer_id, *merged_into.get(customer_id, [])]
                if not pending_ids.intersection(members):
                    continue
                payload = payloads.contact_payload(row, self.settings.address_book_id)
                plans.append({
                    "key": payloads.contact_key(row),
                    "payload": payload,
                    "payload_hash": payloads.payload_hash(payload),
                    "customers": [(m, hash_of.get(m), m != customer_id and customer_id)
                                  for m in members],
                    "email": row.get("email"),
                })
            counts.merged += sum(
                1 for p in plans for (_, _, into) in p["customers"] if into
            )
        planned = {p["key"] for p in plans}
        # E-mail-only contacts for guests and certificate recipients with no customer row.
        wanted = sorted({e for e in dependants if e} - planned)
        if wanted:
            known = self.ledger.states("contacts", wanted)
            with_customer = set(staged["_email_norm"].dropna())
            guests = [e for e in wanted if known.get(e) != "synced" and e not in with_customer]
            for email in guests:
                payload = payloads.contact_payload({"email": email})
                plans.append({"key": email, "payload": payload,
                              "payload_hash": payloads.payload_hash(payload),
                              "customers": [], "email": email})
        return pd.DataFrame(plans, columns=["key", "payload", "payload_hash", "customers",
                                            "email"])

    def push_contacts(self, plan: pd.DataFrame) -> None:
        """Send planned contacts (single upserts when few, bulk imports when many)."""
        if plan.empty:
            return
        counts = self.report.counts["contacts"]
        items = [i for i in _records(plan) if i["key"] not in self.settled["contacts"]]
        if not items:
            return
        ledger = self.ledger.frame("contacts", [i["key"] for i in items]).set_index("key")
        to_send: list[dict[str, Any]] = []
        settled: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        for item in items:
            if item["key"] in ledger.index:
                row = ledger.loc[item["key"]]
                if row["state"] == "synced" and row["payload_hash"] == item["payload_hash"]:
                    counts.unchanged += 1
                    settled.append((item, "synced", {}))
                    continue
            to_send.append(item)
        if self.options.dry_run:
            counts.sent += len(to_send)
            self.report.notes.append(f"dry run: {len(to_send)} contacts would be sent")
            return
        self._settle_contacts(settled, count=False)
        if not to_send:
            return
        if len(to_send) <= self.options.bulk_threshold:
            self._contacts_single(to_send)
        else:
            self._contacts_bulk(to_send)

    def _contacts_single(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            try:
                self.client.upsert_contact(item["payload"])
            except (dd.ValidationError, dd.ConflictError, dd.NotFoundError) as exc:
                self._settle_contacts([(item, "rejected", {
                    "error_code": exc.error_code or type(exc).__name__,
                    "error_message": _describe(exc)})])
            except dd.DotdigitalError as exc:
                if isinstance(exc, dd.AuthenticationError):
                    raise
                self._settle_contacts([(item, "failed", {
                    "error_code": exc.error_code or type(exc).__name__,
                    "error_message": _describe(exc)})])
            else:
                self._settle_contacts([(item, "synced", {})])

    def _contacts_bulk(self, items: Sequence[dict[str, Any]]) -> None:
        by_identity = {self._identity(i["payload"]): i for i in items}
        chunks = chunk_contacts((i["payload"] for i in items),
                                max_bytes=self.options.import_max_bytes)
        for done in run_imports(
            chunks,
            submit=lambda chunk: self.client.import_contacts(list(chunk)),
            status=self.client.get_contact_import,
            max_in_flight=self.options.contact_imports_in_flight,
            poll_interval=self.options.poll_interval,
        ):
            chunk_items = [by_identity[self._identity(p)] for p in done.chunk]
            if done.error is not None or done.report is None:
                err = done.error
                if isinstance(err, dd.AuthenticationError):
                    raise err
                self._settle_contacts([(i, "failed", {
                    "error_code": getattr(err, "error_code", None) or type(err).__name__,
                    "error_message": _describe(err)}) for i in chunk_items])
                continue
            report = done.report
            if report.status != "Finished":
                self._settle_contacts([(i, "failed", {
                    "error_code": report.status,
                    "error_message": f"contact import {done.import_id} ended {report.status}",
                    "dotdigital_ref": done.import_id}) for i in chunk_items])
                continue
            failures = _contact_failures(report)
            outcome = []
            for item in chunk_items:
                failure = failures.get(self._identity(item["payload"]))
                if failure is None:
                    outcome.append((item, "synced", {"dotdigital_ref": done.import_id}))
                else:
                    code, description = failure
                    outcome.append((item, "rejected", {
                        "error_code": code, "dotdigital_ref": done.import_id,
                        "error_message": f"Dotdigital rejected the contact: {code}"
                                         + (f" ({description})" if description else "")}))
            self._settle_contacts(outcome)

    @staticmethod
    def _identity(payload: Mapping[str, Any]) -> str:
        ids = payload.get("identifiers", {})
        return str(ids.get("email") or f"mobile:+{ids.get('mobileNumber')}").lower()

    def _settle_contacts(
        self, outcomes: Sequence[tuple[dict[str, Any], str, dict[str, Any]]], count: bool = True
    ) -> None:
        """Write each contact's outcome, and the outcome of the customer rows behind it."""
        if not outcomes:
            return
        counts = self.report.counts["contacts"]
        now = datetime.now(UTC)
        contact_rows: list[dict[str, Any]] = []
        customer_rows: list[dict[str, Any]] = []
        for item, state, extra in outcomes:
            row = {"key": item["key"], "state": state, **extra}
            if state == "synced":
                row.update(payload_hash=item["payload_hash"], sent_at=now, error_code=None,
                           error_field=None, error_message=None)
            contact_rows.append(row)
            for customer_id, source_hash, merged_into in item["customers"]:
                cust = {"key": customer_id, "state": state, "source_hash": source_hash,
                        "error_code": extra.get("error_code"),
                        "error_field": "email" if state == "rejected" else None,
                        "error_message": extra.get("error_message"),
                        "detail": f"merged into customer {merged_into} (same e-mail)"
                        if merged_into else None}
                if state == "failed":
                    cust["source_hash"] = None
                customer_rows.append(cust)
            if state in ("synced", "rejected"):
                self.settled["contacts"].add(item["key"])
            if count:
                if state == "synced":
                    counts.sent += 1
                elif state == "rejected":
                    counts.rejected += 1
                else:
                    counts.failed += 1
            if state in ("rejected", "failed"):
                self.report.problem("contacts", item["key"] if item["customers"] == [] else
                                    item["customers"][0][0], state,
                                    extra.get("error_message") or state,
                                    field="email", email=item.get("email"),
                                    code=extra.get("error_code"))
        self.ledger.record("contacts", contact_rows, run_id=self.run_id,
                           count_attempt=count)
        if customer_rows:
            self.ledger.record("customers", customer_rows, run_id=self.run_id)

    def contact_gate(self, emails: Iterable[str]) -> dict[str, str | None]:
        """For each e-mail: None when its contact is in Dotdigital, else the reason to wait."""
        wanted = sorted({e for e in emails if e})
        states = self.ledger.states("contacts", wanted)
        out: dict[str, str | None] = {}
        waiting = [e for e in wanted if states.get(e) != "synced"]
        reasons: dict[str, str] = {}
        if waiting:
            staged = self.staged_customers()
            holders = staged[staged["_email_norm"].isin(waiting)]
            if not holders.empty:
                problems = self.ledger.frame("customers", holders["customer_id"].tolist())
                problems = problems.set_index("key")
                for cid, email in zip(holders["customer_id"], holders["_email_norm"],
                                      strict=True):
                    if cid in problems.index and problems.loc[cid, "state"] in (
                        "rejected", "failed"
                    ):
                        p = problems.loc[cid]
                        reasons.setdefault(
                            email,
                            f"contact {mask_email(email)} {p['state']}: "
                            f"{p['error_code'] or ''} {p['error_message'] or ''}".strip(),
                        )
            for email in wanted:
                if email in waiting:
                    state = states.get(email)
                    reasons.setdefault(
                        email,
                        f"contact {mask_email(email)} "
                        + (f"{state}" if state else "not yet in Dotdigital"),
                    )
        for email in wanted:
            out[email] = reasons.get(email) if email in waiting else None
        return out

    # -- orders ---------------------------------------------------------------------

    def validate_orders(self, pending: pd.DataFrame) -> pd.DataFrame:
        from data_contracts import validate_orders

        if pending.empty:
            return pending
        result = validate_orders(pending.drop(columns=["_hash"]), now=self.options.now())
        self._record_rejects("orders", pending, result.rejects, "customer_email")
        valid = result.valid.copy()
        valid["_hash"] = pending.loc[valid.index, "_hash"]
        return valid

    def push_orders(self, valid: pd.DataFrame) -> None:
        if valid.empty:
            return
        counts = self.report.counts["orders"]
        valid = valid[~valid["order_id"].astype(str).isin(self.settled["orders"])]
        if valid.empty:
            return
        gate = self.contact_gate(valid["customer_email"])
        rows = _records(valid)
        ready: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for row in rows:
            reason = gate.get(row["customer_email"])
            (waiting if reason else ready).append(row)
        self._wait_for_contact("orders", waiting, gate, "customer_email")
        ledger = self.ledger.frame("orders", [r["order_id"] for r in ready]).set_index("key")
        to_send: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        for row in ready:
            record = payloads.insight_import_record(row)
            row["_payload"] = record
            row["_payload_hash"] = payloads.payload_hash(record)
            prior = ledger.loc[row["order_id"]] if row["order_id"] in ledger.index else None
            row["_first_sync"] = prior is None or _none_if_nan(prior["sent_at"]) is None
            if (prior is not None and prior["state"] == "synced"
                    and prior["payload_hash"] == row["_payload_hash"]):
                unchanged.append(row)
            else:
                to_send.append(row)
        counts.unchanged += len(unchanged)
        self.settled["orders"].update(str(r["order_id"]) for r in unchanged)
        if self.options.dry_run:
            counts.sent += len(to_send)
            self.report.notes.append(f"dry run: {len(to_send)} orders would be sent")
            self._first_synced_orders = [r for r in to_send if r["_first_sync"]]
            return
        self.ledger.record("orders", [
            {"key": r["order_id"], "state": "synced", "source_hash": r["_hash"]}
            for r in unchanged
        ], run_id=self.run_id)
        missing_contact = self._send_orders(to_send)
        if missing_contact:
            # Dotdigital does not know these contacts (deleted there, or never created):
            # push them again now and retry their orders once in this run.
            self._repush_contacts({r["customer_email"] for r in missing_contact})
            gate = self.contact_gate(r["customer_email"] for r in missing_contact)
            retry = [r for r in missing_contact if not gate.get(r["customer_email"])]
            still = self._send_orders(retry, final=True)
            self._wait_for_contact(
                "orders", [r for r in missing_contact if r not in retry] + still,
                {r["customer_email"]: f"contact {mask_email(r['customer_email'])} does not "
                 "exist in Dotdigital (ContactEmailDoesNotExist); retried after the contact "
                 "is pushed" for r in missing_contact},
                "customer_email")

    def _wait_for_contact(
        self, entity: str, rows: Sequence[dict[str, Any]], gate: Mapping[str, str | None],
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
            ], run_id=self.run_id)

    def _send_orders(
        self, rows: Sequence[dict[str, Any]], final: bool = False
    ) -> list[dict[str, Any]]:
        """Send orders; returns those Dotdigital refused because the contact is missing."""
        if not rows:
            return []
        collection = self.settings.insight_collection
        missing: list[dict[str, Any]] = []
        if len(rows) <= self.options.bulk_threshold:
            for row in rows:
                try:
                    self.client.upsert_contact_insight(
                        collection, str(row["order_id"]), row["_payload"]["json"],
                        row["customer_email"])
                except dd.NotFoundError:
                    missing.append(row)
                except (dd.ValidationError, dd.ConflictError) as exc:
                    self._settle_orders([(row, "rejected", exc.error_code or "ValidationError",
                                          _describe(exc))])
                except dd.DotdigitalError as exc:
                    if isinstance(exc, dd.AuthenticationError):
                        raise
                    self._settle_orders([(row, "failed", exc.error_code or type(exc).__name__,
                                          _describe(exc))])
                else:
                    self._settle_orders([(row, "synced", None, None)])
            return missing
        by_key = {str(r["order_id"]): r for r in rows}
        chunks = chunk_insight_records(collection, (r["_payload"] for r in rows),
                                       max_bytes=self.options.import_max_bytes)
        for done in run_imports(
            chunks,
            submit=lambda chunk: self.client.import_insight_data(collection, list(chunk)),
            status=self.client.get_insight_import,
            max_in_flight=self.options.insight_imports_in_flight,
            poll_interval=self.options.poll_interval,
        ):
            chunk_rows = [by_key[str(p["key"])] for p in done.chunk]
            if done.error is not None or done.report is None:
                err = done.error
                if isinstance(err, dd.AuthenticationError):
                    raise err
                self._settle_orders([(r, "failed", getattr(err, "error_code", None)
                                      or type(err).__name__, _describe(err))
                                     for r in chunk_rows])
                continue
            report = done.report
            if report.status not in ("Finished", "Complete"):
                self._settle_orders([(r, "failed", report.status,
                                      f"insight import {done.import_id} ended {report.status}")
                                     for r in chunk_rows])
                continue
            failures = _insight_failures(report)
            outcome = []
            for row in chunk_rows:
                reason = failures.get(str(row["order_id"]))
                if reason is None:
                    outcome.append((row, "synced", None, None))
                elif reason == "ContactEmailDoesNotExist" and not final:
                    missing.append(row)
                else:
                    outcome.append((row, "rejected", reason,
                                    f"Dotdigital rejected the order record: {reason}"))
            self._settle_orders(outcome)
        return missing

    def _settle_orders(self, outcomes: Sequence[tuple[dict[str, Any], str, Any, Any]]) -> None:
        counts = self.report.counts["orders"]
        now = datetime.now(UTC)
        rows = []
        for row, state, code, message in outcomes:
            entry = {"key": str(row["order_id"]), "state": state, "error_code": code,
                     "error_message": message, "error_field": None}
            if state != "failed":
                self.settled["orders"].add(str(row["order_id"]))
            if state == "synced":
                entry.update(source_hash=row["_hash"], payload_hash=row["_payload_hash"],
                             sent_at=now)
                counts.sent += 1
                if row.get("_first_sync"):
                    self._first_synced_orders.append(row)
            elif state == "rejected":
                entry["source_hash"] = row["_hash"]
                counts.rejected += 1
            else:
                counts.failed += 1
            if state != "synced":
                self.report.problem("orders", row["order_id"], state, message or state,
                                    email=row["customer_email"], code=code)
            rows.append(entry)
        self.ledger.record("orders", rows, run_id=self.run_id, count_attempt=True)

    def _repush_contacts(self, emails: set[str]) -> None:
        self.ledger.record("contacts", [
            {"key": e, "state": "pending", "payload_hash": None,
             "error_code": "ContactEmailDoesNotExist",
             "error_message": "Dotdigital has no contact with this e-mail; pushing it again"}
            for e in emails
        ], run_id=self.run_id)
        staged = self.staged_customers()
        holders = staged[staged["_email_norm"].isin(emails)]
        if not holders.empty:
            holders = holders.copy()
            holders["_hash"] = source_hashes("customers", holders.drop(columns=["_email_norm"]))
        plan = self.plan_contacts(holders, emails)
        self.push_contacts(plan)

    # -- confirmations and certificates: exactly once --------------------------------

    def send_confirmations(self) -> None:
        """The order-confirmation e-mail, once per order, on its first sync."""
        if not self.settings.order_campaign:
            return
        orders = self._first_synced_orders
        self._first_synced_orders = []
        counts = self.report.counts["confirmations"]
        if not orders:
            return
        if self.options.dry_run:
            counts.sent += len(orders)
            return
        sends = [
            (str(o["order_id"]), o["customer_email"], self.order_campaign_id,
             payloads.confirmation_personalisation(o))
            for o in orders
        ]
        self._send_once("confirmations", sends)

    def validate_certificates(self, pending: pd.DataFrame) -> pd.DataFrame:
        from data_contracts import validate_certificates

        if pending.empty:
            return pending
        result = validate_certificates(pending.drop(columns=["_hash"]),
                                       self.settings.certificate_campaign_id)
        self._record_rejects("certificates", pending, result.rejects, "recipient_email")
        valid = result.valid.copy()
        valid["_hash"] = pending.loc[valid.index, "_hash"]
        return valid

    def send_certificates(self, valid: pd.DataFrame) -> None:
        if valid.empty:
            return
        counts = self.report.counts["certificates"]
        valid = valid[~valid["certificate_id"].astype(str).isin(self.settled["certificates"])]
        if valid.empty:
            return
        gate = self.contact_gate(valid["recipient_email"])
        rows = _records(valid)
        ready = [r for r in rows if not gate.get(r["recipient_email"])]
        waiting = [r for r in rows if gate.get(r["recipient_email"])]
        self._wait_for_contact("certificates", waiting, gate, "recipient_email")
        if self.options.dry_run:
            counts.sent += len(ready)
            self.report.notes.append(f"dry run: {len(ready)} certificates would be sent")
            return
        self._source_hash_of = {str(r["certificate_id"]): r["_hash"] for r in ready}
        sends = [
            (str(r["certificate_id"]), r["recipient_email"], int(r["campaign_id"]),
             payloads.certificate_personalisation(r))
            for r in ready
        ]
        self._send_once("certificates", sends)

    def _send_once(
        self, entity: str, sends: Sequence[tuple[str, str, int | None, dict[str, str]]]
    ) -> None:
        """Claim, send, settle: the exactly-once protocol for triggered campaigns."""
        from dotsync.dotdigital.models import TriggeredSend

        counts = self.report.counts[entity]
        by_key = {s[0]: s for s in sends}
        size = max(1, self.options.send_batch_size)
        keys = list(by_key)
        for start in range(0, len(keys), size):
            batch_keys = keys[start : start + size]
            claimed = self.ledger.claim(entity, batch_keys, run_id=self.run_id)
            counts.skipped += len(batch_keys) - len(claimed)
            batch = [by_key[k] for k in batch_keys if k in claimed]
            if not batch:
                continue
            try:
                if len(batch) == 1:
                    _key, to, campaign, values = batch[0]
                    self.client.send_triggered_campaign(campaign, to, values)
                    results: list[tuple[str | None, str | None]] = [(None, None)]
                else:
                    answer = self.client.send_triggered_campaign_batch([
                        TriggeredSend(campaign_id=c, to_address=to, personalization=v)
                        for _, to, c, v in batch
                    ])
                    results = [(None, None)] * len(batch)
                    for r in answer:
                        if r.failure_code or r.failure_reason:
                            results[r.index] = (r.failure_code or "Failed", r.failure_reason)
            except dd.SendOutcomeUnknown as exc:
                self._settle_sends(entity, batch, "in_doubt", "SendOutcomeUnknown",
                                   "the connection dropped after the send was written; "
                                   f"it may or may not have been sent ({_describe(exc)})")
                continue
            except dd.AuthenticationError:
                self._settle_sends(entity, batch, "failed", "AuthenticationError",
                                   "credentials refused; nothing was sent")
                raise
            except dd.DotdigitalError as exc:
                state = "failed" if exc.transient else "rejected"
                self._settle_sends(entity, batch, state, exc.error_code or type(exc).__name__,
                                   _describe(exc))
                continue
            except BaseException:
                # Anything else (a bug, an interrupt): the outcome is unknown; the claim
                # stays in_doubt in the ledger, which is what we want.
                raise
            for item, (code, reason) in zip(batch, results, strict=True):
                if code is None:
                    self._settle_sends(entity, [item], "synced", None, None)
                else:
                    self._settle_sends(entity, [item], "rejected", code,
                                       f"Dotdigital refused the send: {code}"
                                       + (f" ({reason})" if reason else ""))

    def _settle_sends(
        self, entity: str, batch: Sequence[tuple[str, str, int | None, dict[str, str]]],
        state: str, code: str | None, message: str | None,
    ) -> None:
        counts = self.report.counts[entity]
        now = datetime.now(UTC)
        rows = []
        for key, to, _campaign, _values in batch:
            row: dict[str, Any] = {"key": key, "state": state, "error_code": code,
                                   "error_message": message}
            if entity == "certificates":
                row["source_hash"] = getattr(self, "_source_hash_of", {}).get(key)
            if state != "failed":
                self.settled[entity].add(key)
            if state == "synced":
                row["sent_at"] = now
                counts.sent += 1
            elif state == "in_doubt":
                counts.in_doubt += 1
            elif state == "rejected":
                counts.rejected += 1
            else:
                counts.failed += 1
            if state != "synced":
                self.report.problem(entity, key, state, message or state, email=to, code=code)
            rows.append(row)
        self.ledger.record(entity, rows, run_id=self.run_id)

    def resend_certificate(self, certificate_id: str) -> None:
        """Deliberately send a certificate again (``dotsync resend certificate ID``)."""
        from data_contracts import validate_certificates

        staged = self.store.read_staged("certificates", [certificate_id])
        if staged.empty:
            raise RunFailed(f"no staged certificate {certificate_id!r}")
        result = validate_certificates(staged, self.settings.certificate_campaign_id)
        if result.valid.empty:
            reasons = "; ".join(result.rejects["reason"].astype(str))
            raise RunFailed(f"certificate {certificate_id!r} is invalid: {reasons}")
        row = _records(result.valid)[0]
        row["_hash"] = source_hashes("certificates", staged).iloc[0]
        self.ledger.record("certificates", [{
            "key": certificate_id, "state": "pending", "error_code": None,
            "error_message": "resend requested", "detail": "resend requested"}],
            run_id=self.run_id)
        self._source_hash_of = {certificate_id: row["_hash"]}
        self._send_once("certificates", [(
            certificate_id, row["recipient_email"], int(row["campaign_id"]),
            payloads.certificate_personalisation(row))])


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _contact_failures(report: Any) -> dict[str, tuple[str, str | None]]:
    """``{identity: (failureCode, description)}`` from a contact import report."""
    out: dict[str, tuple[str, str | None]] = {}
    for failure in report.failures:
        ids = failure.identifiers or {}
        identity = str(ids.get("email") or f"mobile:+{ids.get('mobileNumber')}").lower()
        code = failure.failure_codes[0] if failure.failure_codes else "Failed"
        description = failure.descriptions[0] if failure.descriptions else None
        out[identity] = (str(code), description)
    return out


def _insight_failures(report: Any) -> dict[str, str]:
    """``{record key: failureReason}`` from an insight import report."""
    return {str(f.key): str(f.failure_reason or "Failed") for f in report.failures
            if f.key is not None}
