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

import itertools
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd

from dotsync import failpoints
from dotsync.config import Settings
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.bulk import chunk_contacts, chunk_insight_records
from dotsync.dotdigital.models import INSIGHT_IMPORT_DONE
from dotsync.masking import mask_email, mask_phone
from dotsync.store import Ledger, Store
from dotsync.store import warnings as field_warnings
from dotsync.store.ledger import EXACTLY_ONCE
from dotsync.store.loader import MAX_KEY_LENGTH
from dotsync.store.schema import ENTITY_KEYS
from dotsync.store.status import source_hashes
from dotsync.sync import consent, consent_policy, payloads
from dotsync.sync.collection import CollectionGuard
from dotsync.sync.consent_census import Census
from dotsync.sync.consent_records import COLUMNS as CONSENT_RECORD_COLUMNS
from dotsync.sync.consent_records import consent_record, given_columns
from dotsync.sync.failure_fields import contact_problem_field, field_of_error
from dotsync.sync.imports import Finished, run_imports
from dotsync.sync.inflight import Kept
from dotsync.sync.report import RunReport
from dotsync.sync.transactional import (
    EXPIRED,
    SendPlan,
    cap_exceeded,
    certificate_expired,
    confirmation_skip,
    confirmations_enabled_at,
    enable_confirmations,
)

log = logging.getLogger("dotsync.sync")

ENTITY_OF_STEP = {"customers": "contacts", "orders": "orders", "certificates": "certificates"}


class RunFailed(RuntimeError):
    """The run as a whole cannot go on (credentials, host, region, configuration)."""


class CredentialsRefused(RunFailed):
    """Dotdigital refused the API credentials: retrying cannot help (never retried)."""


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
    #: Records behind the imports in flight, at most: keeps a backfill's memory flat.
    records_in_flight: int = 600_000
    #: Records settled (written to the ledger) at a time when an import ends.
    settle_batch: int = 10_000
    #: Triggered-campaign sends per batch call; one dropped batch leaves this many in doubt.
    send_batch_size: int = 50
    #: Send order confirmations for orders synced for the first time (never in a backfill).
    confirmations: bool = True
    #: Owed confirmations read, planned and sent at a time.
    confirmations_chunk: int = 2_000
    #: Remember settled keys so a retried task skips them (a streaming backfill re-reads
    #: the ledger instead, and keeps memory flat).
    track_settled: bool = True
    #: Transactional e-mails this run may send, instead of DOTSYNC_MAX_SENDS_PER_RUN.
    allow_sends: int | None = None
    now: Callable[[], pd.Timestamp] = field(default=lambda: pd.Timestamp.now(tz="UTC"))


class _Forgetful(set):  # type: ignore[type-arg]
    """A set that keeps nothing: settled keys are not tracked in a streaming backfill."""

    def add(self, _item: Any) -> None:
        return None

    def update(self, *_items: Any) -> None:
        return None


def _path_safe(key: str) -> bool:
    """Whether a record key can be one segment of a URL path, whatever the server."""
    return bool(key) and key not in (".", "..") and not any(c in key for c in "/\\?#%")


def _is_set(series: pd.Series) -> pd.Series:
    """True where a text column holds a value (not null, not blank)."""
    return series.map(lambda v: isinstance(v, str) and bool(v.strip()))


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None (never NaN/NaT) for missing values, vectorised."""
    if frame.empty:
        return []
    plain = frame.astype(object)
    plain = plain.where(plain.notna(), None)
    # Column lists zipped into dicts: several times faster than ``to_dict("records")``,
    # which boxes every value one by one (object columns hold Python values already).
    names = [str(c) for c in plain.columns]
    columns = [plain[c].tolist() for c in plain.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _norm_email(series: pd.Series) -> pd.Series:
    """Trim and lower-case, the way the contracts normalise e-mails, for matching."""
    # An object column, never pandas' Arrow strings: matching (``isin``) on those
    # converts every value back to Python, chunk after chunk.
    return pd.Series([v.strip().lower() if isinstance(v, str) and v.strip() else None
                      for v in series.tolist()], index=series.index, dtype=object)


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
        #: When order confirmations were first enabled for this store (None: never).
        self.confirmations_enabled_at: datetime | None = None
        #: What this run sends (or, in a dry run, the next would), once decided.
        self.send_plan: SendPlan | None = None
        #: Contacts a dry run would push: their dependants count as ready.
        self._dry_run_contacts: set[str] = set()
        self._staged_customers: pd.DataFrame | None = None
        self._first_synced_orders: list[dict[str, Any]] = []
        self._calls_at_start: dict[str, int] = dict(self._stats_calls()) if client else {}
        #: Called with the number of records settled by each finished import.
        self.on_progress: Callable[[int], None] | None = None
        #: Why a contact is not in Dotdigital, by e-mail, for the dependants that wait.
        self.contact_reasons: dict[str, str] = {}
        #: Contacts (by e-mail) whose mobile number Dotdigital said another contact holds:
        #: sent again without it (SPEC §1), with a warning.
        self.mobile_refused: set[str] = set()
        #: Customers deleted at the source whose contact is to be erased this run.
        self.pending_erasures: list[tuple[str, str, Any]] = []
        #: The insight collection single-record calls need (created when missing).
        self._collection: CollectionGuard | None = None
        #: Keys whose outcome this run is final; a retried task skips them.
        self.settled: dict[str, set[str]] = {
            e: set() if self.options.track_settled else _Forgetful()
            for e in ("contacts", "orders", "confirmations", "certificates")
        }

    # -- setup ------------------------------------------------------------------------

    def connect(self) -> None:
        """Check credentials and region, and resolve the order campaign, before any write.

        Raises :class:`RunFailed` with one clear message when the run cannot go on.
        """
        confirming = bool(self.settings.order_campaign and self.options.confirmations)
        if self.options.dry_run or self.client is None:
            if confirming:  # a dry run writes nothing: the next run would stamp "now"
                self.confirmations_enabled_at = (confirmations_enabled_at(self.store)
                                                 or datetime.now(UTC))
            return
        try:
            self.client.account_info()
            if confirming:
                self.order_campaign_id = self._resolve_campaign(self.settings.order_campaign)
                self.confirmations_enabled_at = enable_confirmations(self.store)
        except dd.AuthenticationError as exc:
            raise CredentialsRefused(
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
        if len(matches) != 1:
            raise RunFailed(
                f"DOTSYNC_ORDER_CAMPAIGN names campaign {wanted!r}, which "
                + ("does not exist in this Dotdigital account" if not matches else
                   f"{len(matches)} campaigns share (ids "
                   f"{', '.join(str(c.id) for c in matches)}): name one by its id")
            )
        return int(matches[0].id)

    def preflight(self) -> Any:
        """The go-live checks (``dotsync preflight``), failing the run before any write.

        A scheduled sync checks only the staged records it is about to read (changed
        since the last run, or to retry); a backfill checks every row it may send."""
        from dotsync.preflight import run_preflight

        result = run_preflight(self.settings, self.store, self.client,
                               changed_only=self.report.flow == "sync")
        for check in result.checks:
            if check.status != "pass":
                self.report.notes.append(f"preflight {check.name}: {check.status}: "
                                         f"{check.detail}")
        if not result.ok:
            failing = [c for c in result.checks if c.status in ("fail", "skipped")
                       and c.severity == "error"]
            raise RunFailed("preflight failed, nothing was sent: " + "; ".join(
                f"{c.name}: {c.detail} ({c.fix})" for c in failing))
        return result

    def _stats_calls(self) -> Mapping[str, int]:
        stats = getattr(self.client, "stats", None)
        return dict(getattr(stats, "calls", {}) or {})

    def progress(self, settled: int) -> None:
        if self.on_progress is not None:
            self.on_progress(settled)

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
        frame["_email_norm"] = _norm_email(frame["email"])
        return frame[frame["_email_norm"].isin(wanted)]

    def extract(self, entity: str) -> pd.DataFrame:
        """Pending staged rows of ``entity`` with their source fingerprint in ``_hash``,
        in one frame: read through the change stamps, so the cost follows what changed
        (the flows use the chunks of :mod:`dotsync.sync.changed` instead)."""
        from dotsync.sync.changed import Changes, all_pending

        return all_pending(Changes(self), entity)

    def reject_long_keys(self, entity: str, pending: pd.DataFrame) -> pd.DataFrame:
        """Keys longer than dotsync keeps (512 characters) are rejected, not sent."""
        key = ENTITY_KEYS[entity]
        long = pending[key].map(lambda k: isinstance(k, str) and len(k) > MAX_KEY_LENGTH)
        if not long.any():
            return pending
        rejects = pd.DataFrame({
            "key": pending.loc[long, key].tolist(), "field": key, "check": "max_length",
            "reason": f"{key} is longer than {MAX_KEY_LENGTH} characters"})
        email = {"customers": "email", "orders": "customer_email",
                 "certificates": "recipient_email"}[entity]
        self._record_rejects(entity, pending, rejects, email)
        return pending.loc[~long]

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
            if entity == "customers" and isinstance(email, str) and email.strip():
                norm = email.strip().lower()
                self.contact_reasons.setdefault(
                    norm, f"contact {mask_email(norm)} rejected: {first['check']} {reason}")
            self.report.problem(ENTITY_OF_STEP[entity], key, "rejected", reason,
                                field=fields, email=email, code=str(first["check"]))
        if count:
            self.report.counts[ENTITY_OF_STEP[entity]].rejected += len(rows)
        if not self.options.dry_run:
            self.ledger.record(entity, rows, run_id=self.run_id,
                               protect_sent=entity in EXACTLY_ONCE)
        return keys

    def _record_warnings(self, entity: str, validated: Iterable[str],
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

    # -- contacts -------------------------------------------------------------------

    def contact_items(
        self, group: pd.DataFrame, pending_ids: set[str]
    ) -> list[dict[str, Any]]:
        """Validate a group of customer rows (every row sharing an e-mail with a pending
        row must be in it), record the rejects, merge by e-mail and build one item per
        contact that a pending row belongs to.

        ``group`` holds staged columns plus ``_hash`` (source fingerprint). An item has
        ``key``, ``payload``, ``payload_hash``, ``email`` and ``customers``: the
        (customer id, fingerprint, merged-into) of every row behind the contact.
        """
        from data_contracts import merge_customers, validate_customers
        from data_contracts.mobiles import share_mobile_numbers

        if group.empty:
            return []
        marked = _is_set(group["deleted_at"])
        when = pd.to_datetime(group["deleted_at"].where(marked), utc=True, errors="coerce",
                              format="ISO8601")
        garbage = marked & when.isna()
        if garbage.any():  # not a timestamp: never taken for an erasure
            self._record_rejects("customers", group, pd.DataFrame({
                "key": group.loc[garbage & group["customer_id"].isin(pending_ids),
                                 "customer_id"].tolist(),
                "field": "deleted_at", "check": "iso8601",
                "reason": "deleted_at is not an ISO 8601 timestamp"}), "email")
            group = group[~garbage]
            marked = marked[~garbage]
        deleted = marked
        if deleted.any():
            live_emails = set(group.loc[~deleted, "_email_norm"].dropna()) if (
                "_email_norm" in group) else set()
            self._queue_erasures(group[deleted & group["customer_id"].isin(pending_ids)],
                                 live_emails)
            group = group[~deleted]
            if group.empty:
                return []
        staged_cols = [c for c in group.columns if not c.startswith("_")]
        result = validate_customers(group[staged_cols], self.settings.default_region,
                                    self.settings.strict_fields)
        rejects = result.rejects[result.rejects["key"].astype(str).isin(pending_ids)]
        self._record_rejects("customers", group, rejects, "email")
        contacts, merged = merge_customers(result.valid)
        contacts, shared = share_mobile_numbers(contacts, self.mobile_refused)
        # Only the fields of the row a contact is built from are sent: its warnings count.
        senders = set(contacts["customer_id"].astype(str))
        warned = result.warnings[result.warnings["key"].astype(str).isin(senders)]
        if not shared.empty:
            warned = pd.concat([warned, shared], ignore_index=True)
        self._record_warnings("customers", group["customer_id"].astype(str), warned)
        hash_of = dict(zip(group["customer_id"], group["_hash"], strict=True))
        merged_into: dict[str, list[str]] = {}
        for row in _records(merged):
            merged_into.setdefault(str(row["merged_into"]), []).append(str(row["customer_id"]))
        items: list[dict[str, Any]] = []
        rows = [r for r in _records(contacts)
                if pending_ids.intersection([str(r["customer_id"]),
                                             *merged_into.get(str(r["customer_id"]), [])])]
        suppressed = consent.suppressed_at(
            self.store, [r["email"] for r in rows
                         if r.get("email") and r.get("email_consent") == "subscribed"])
        consent_warnings: list[dict[str, Any]] = []
        for row in rows:
            customer_id = str(row["customer_id"])
            members = [customer_id, *merged_into.get(customer_id, [])]
            payload = payloads.contact_payload(row, self.settings.address_book_id)
            when = suppressed.get(row.get("email") or "")
            if consent.keep_unsubscribed({"payload": payload}, row.get("updated_at"), when):
                del payload["channelProperties"]["email"]["status"]
                self.report.counts["contacts"].kept_unsubscribed += 1
                self.report.problem(
                    "contacts", customer_id, "kept_unsubscribed",
                    f"source says subscribed (updated {payloads.iso_utc(row['updated_at'])}) "
                    f"but Dotdigital has had the contact suppressed since "
                    f"{when.isoformat()}: its status was not sent",
                    field="email_consent", email=row.get("email"), code="suppressed")
            consent_warnings += self._note_consent_record(customer_id, row)
            items.append({
                "key": payloads.contact_key(row),
                "payload": payload,
                "payload_hash": payloads.payload_hash(payload),
                "customers": [(m, hash_of.get(m), m != customer_id and customer_id)
                              for m in members],
                "email": row.get("email"),
                "create": consent_policy.creation_channels(payload, row),
            })
        if consent_warnings:  # after the group's own warnings, which replaced older ones
            self._record_warnings("customers", [], pd.DataFrame(consent_warnings),
                                  replace=False)
        self.report.counts["contacts"].merged += sum(
            1 for item in items for (_, _, into) in item["customers"] if into
        )
        return items

    def _queue_erasures(self, deleted: pd.DataFrame, live_emails: set[str]) -> None:
        """Customers deleted at the source (``deleted_at`` set).

        With DOTSYNC_PROPAGATE_DELETES the contact is deleted from Dotdigital (unless
        another live customer row shares its e-mail); without, nothing is sent. Either
        way the ledger keeps the fact, not the personal data.
        """
        if deleted.empty:
            return
        emails = _norm_email(deleted["email"])
        for customer_id, email, source_hash in zip(deleted["customer_id"], emails,
                                                   deleted["_hash"], strict=True):
            if email:
                self.contact_reasons[email] = (
                    f"contact {mask_email(email)} was deleted at the source (deleted_at)")
            if (self.settings.propagate_deletes and email and email not in live_emails):
                self.pending_erasures.append((str(customer_id), email, source_hash))
            else:
                why = ("another customer row with this e-mail is live" if email in live_emails
                       else "DOTSYNC_PROPAGATE_DELETES is off")
                self.report.counts["contacts"].unchanged += 1
                if not self.options.dry_run:
                    self.ledger.record("customers", [{
                        "key": str(customer_id), "state": "synced", "source_hash": source_hash,
                        "error_code": None, "error_message": None,
                        "detail": f"deleted at the source; not erased in Dotdigital ({why})"}],
                        run_id=self.run_id)

    def erase(self) -> None:
        """Delete the queued contacts from Dotdigital: one call each when few, bulk
        deletes (at most 5000 a request) when many."""
        queued, self.pending_erasures = self.pending_erasures, []
        if not queued:
            return
        counts = self.report.counts["contacts"]
        if self.options.dry_run:
            counts.erased += len(queued)
            return
        done: list[tuple[str, str, Any]] = []
        failed: list[tuple[tuple[str, str, Any], str]] = []
        if len(queued) <= self.options.bulk_threshold:
            for entry in queued:
                try:
                    self.client.delete_contact("email", entry[1], missing_ok=True)
                    done.append(entry)
                except dd.DotdigitalError as exc:
                    if isinstance(exc, dd.AuthenticationError):
                        raise
                    failed.append((entry, _describe(exc)))
        else:
            parts = [queued[i:i + 5000] for i in range(0, len(queued), 5000)]
            for finished in run_imports(
                parts,
                submit=lambda part: self.client.delete_contacts(
                    [{"email": email} for _, email, _ in part]),
                status=self.client.get_contact_delete,
                max_in_flight=1,
                poll_interval=self.options.poll_interval,
            ):
                if isinstance(finished.error, dd.AuthenticationError):
                    raise finished.error
                if finished.report is not None and finished.report.status in INSIGHT_IMPORT_DONE:
                    done.extend(finished.chunk)
                else:
                    why = (_describe(finished.error) if finished.error is not None
                           else f"bulk delete ended {finished.report.status}")
                    failed.extend((entry, why) for entry in finished.chunk)
        counts.erased += len(done)
        counts.failed += len(failed)
        self.ledger.forget("contacts", [email for _, email, _ in done])
        self.ledger.record("erasures", [
            {"key": cid, "state": "synced", "detail": "contact erased from Dotdigital",
             "sent_at": datetime.now(UTC)} for cid, _, _ in done], run_id=self.run_id)
        self.ledger.record("customers", [
            {"key": cid, "state": "synced", "source_hash": h, "error_code": None,
             "error_message": None, "detail": "deleted at the source; erased in Dotdigital"}
            for cid, _, h in done]
            + [{"key": cid, "state": "failed", "source_hash": None, "error_code": "erasure",
                "error_message": f"erasure failed: {why}"} for (cid, _, _), why in failed],
            run_id=self.run_id)
        for (cid, email, _), why in failed:
            self.report.problem("contacts", cid, "failed", f"erasure failed: {why}",
                                field="deleted_at", email=email, code="erasure")

    def guest_items(self, emails: Iterable[str], with_customer: set[str]) -> list[dict[str, Any]]:
        """E-mail-only contacts for guests and certificate recipients with no customer row
        (and not already in Dotdigital)."""
        wanted = sorted({e for e in emails if e} - with_customer)
        if not wanted:
            return []
        known = self.ledger.states("contacts", wanted)
        items = []
        for email in wanted:
            if known.get(email) == "synced":
                continue
            payload = payloads.contact_payload({"email": email})
            items.append({"key": email, "payload": payload,
                          "payload_hash": payloads.payload_hash(payload),
                          "customers": [], "email": email,
                          "create": consent_policy.creation_channels(payload, {})})
        return items

    def plan_contacts(
        self, pending_customers: pd.DataFrame, dependants: Iterable[str]
    ) -> list[dict[str, Any]]:
        """Contacts to push this run: changed customers (merged by e-mail) and the
        e-mail-only contacts that pending orders and certificates need."""
        items: list[dict[str, Any]] = []
        with_customer: set[str] = set()
        if not pending_customers.empty:
            emails = set(pending_customers["_email_norm"].dropna())
            holders = self.customers_with_emails(emails)
            alone = pending_customers[
                ~pending_customers["customer_id"].isin(holders["customer_id"])]
            group = pd.concat([holders, alone.drop(columns=["_hash"], errors="ignore")],
                              ignore_index=True)
            group = group.assign(_hash=source_hashes("customers", group))
            items = self.contact_items(group, set(pending_customers["customer_id"]))
        wanted = {e for e in dependants if e}
        if wanted:
            with_customer = set(self.customers_with_emails(wanted)["_email_norm"].dropna())
        planned = {i["key"] for i in items}
        return items + self.guest_items(wanted, with_customer | planned)

    def unsent(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The contact items that need a call: not settled this run, and not identical
        to what Dotdigital already has (those are recorded as unchanged right away)."""
        counts = self.report.counts["contacts"]
        batch: list[dict[str, Any]] = []

        def flush() -> Iterator[dict[str, Any]]:
            known = self.ledger.lookup("contacts", [i["key"] for i in batch],
                                       ("state", "payload_hash", "sent_at", "detail"))
            unchanged = []
            for item in batch:
                row = known.get(item["key"])  # (state, payload hash, sent at, detail)
                if (row is not None and not item.get("recreate") and row[0] == "synced"
                        and row[1] == item["payload_hash"]):
                    unchanged.append((item, "synced", {}))
                    continue
                # Pushed before: it exists, so no status is added. Never pushed (or gone
                # from Dotdigital): a status for a contact this call creates.
                item["first_push"] = bool(item.get("recreate") or row is None
                                          or row[2] is None)
                item["ours"] = row is not None and (
                    row[3] == consent_policy.CREATED_NOT_MARKETABLE)
                yield item
            counts.unchanged += len(unchanged)
            if not self.options.dry_run:
                self._settle_contacts(unchanged, count=False)
            batch.clear()

        for item in items:
            if item["key"] in self.settled["contacts"]:
                continue
            batch.append(item)
            if len(batch) >= 5_000:
                yield from flush()
        if batch:
            yield from flush()

    def push_contacts(self, items: Iterable[dict[str, Any]], bulk: bool | None = None) -> None:
        """Send contact items: single upserts when few, bulk imports when many (or when
        ``bulk`` says so; a stream is always sent in bulk)."""
        to_send = self.unsent(items)
        self.erase()
        if self.options.dry_run:
            count = 0
            for item in to_send:
                self._dry_run_contacts.add(item["key"])
                count += 1
            self.report.counts["contacts"].sent += count
            self.report.notes.append(f"dry run: {count} contacts would be sent")
            return
        if bulk is None:
            first = list(itertools.islice(to_send, self.options.bulk_threshold + 1))
            bulk = len(first) > self.options.bulk_threshold
            to_send = itertools.chain(first, to_send)
        if bulk:
            self._contacts_bulk(to_send)
        else:
            self._contacts_single(list(to_send))

    def _contacts_single(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            if item.get("first_push") and item.get("create"):
                try:
                    try:
                        self.client.create_contact(consent_policy.for_creation(
                            item["payload"], item["create"]))
                    except dd.ConflictError as exc:
                        if not _mobile_conflict(item["payload"], exc.error_code,
                                                _describe(exc)):
                            raise
                        # Another contact holds the number (SPEC §1): created without it.
                        item = self._without_mobile(item)
                        self.client.create_contact(consent_policy.for_creation(
                            item["payload"], item["create"]))
                except dd.ConflictError:
                    pass  # it exists (or an identifier is taken): a plain upsert below
                except dd.DotdigitalError as exc:
                    if isinstance(exc, dd.AuthenticationError):
                        raise
                    state = "failed" if exc.transient else "rejected"
                    self._settle_contacts([(item, state, {
                        "error_code": exc.error_code or type(exc).__name__,
                        "error_message": _describe(exc)})])
                    continue
                else:
                    item["mark"] = "set"
                    self._settle_contacts([(item, "synced", {})])
                    continue
            try:
                try:
                    self.client.upsert_contact(self._outgoing(item))
                except dd.ConflictError as exc:
                    if not _mobile_conflict(item["payload"], exc.error_code,
                                            _describe(exc)):
                        raise
                    item = self._without_mobile(item)
                    self.client.upsert_contact(self._outgoing(item))
            except (dd.ValidationError, dd.ConflictError, dd.NotFoundError) as exc:
                self._settle_contacts([(item, "rejected", {
                    "error_code": exc.error_code or type(exc).__name__,
                    "error_field": field_of_error(exc),
                    "error_message": _describe(exc)})])
            except dd.DotdigitalError as exc:
                if isinstance(exc, dd.AuthenticationError):
                    raise
                self._settle_contacts([(item, "failed", {
                    "error_code": exc.error_code or type(exc).__name__,
                    "error_message": _describe(exc)})])
            else:
                self._settle_contacts([(item, "synced", {})])

    def _contacts_bulk(self, items: Iterable[dict[str, Any]]) -> None:
        """Bulk imports over a (possibly endless) stream of items, 25 in flight.

        Items are read only as import slots free up, and only the items of imports in
        flight are held, so memory stays flat whatever the stream's length.
        """
        # Items in the order they were serialised; chunks keep that order, so each chunk
        # takes its items from the front. Only what settling needs is kept, not payloads.
        order: deque[tuple[Any, ...]] = deque()

        def payload_stream() -> Iterator[dict[str, Any]]:
            for item in items:
                identity = self._identity(item["payload"])
                payload = self._outgoing(
                    item, exists=lambda identity=identity: self._census().holds(identity))
                order.append(_pack_contact(item["key"], item["payload_hash"], item["customers"],
                                           item.get("email"), identity, item.get("mark"),
                                           _refusable_mobile(item["payload"])))
                yield payload

        def too_large(_payload: Any, size: int) -> None:
            # The one just read: it never reaches a chunk.
            item = _unpack_contact(dict(zip(_CONTACT_SETTLE_FIELDS, order.pop(), strict=True)))
            self._settle_contacts([(item, "rejected", {
                "error_code": "too_large", "error_message":
                f"the contact serialises to {size} bytes, more than one import may carry "
                f"({self.options.import_max_bytes})"})])

        chunks = chunk_contacts(payload_stream(), max_bytes=self.options.import_max_bytes,
                                serialized=True, on_oversize=too_large)
        refused: list[dict[str, Any]] = []
        for done in run_imports(
            chunks,
            submit=lambda chunk: self.client.import_contacts(chunk),
            # Only the failures matter here: skip the report's list of every contact.
            status=lambda import_id: self.client.get_contact_import(import_id, contacts=False),
            max_in_flight=self.options.contact_imports_in_flight,
            poll_interval=self.options.poll_interval,
            keep=lambda chunk: Kept(_CONTACT_SETTLE_FIELDS,
                                    [order.popleft() for _ in range(len(chunk))]),
            max_records_in_flight=self.options.records_in_flight,
        ):
            failpoints.hit("after_import_report")
            err = done.error
            if isinstance(err, dd.AuthenticationError):
                raise err
            report = done.report
            failures = (_contact_failures(report)
                        if err is None and report is not None and report.status == "Finished"
                        else {})
            for batch in done.chunk.batches(self.options.settle_batch):
                refused += self._settle_contact_batch(
                    done, failures, [_unpack_contact(item) for item in batch])
        if refused:
            self._retry_without_mobile(refused)

    def _settle_contact_batch(self, done: Finished[Any, Any], failures: Mapping[str, Any],
                              items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Settle one slice; returns the contacts refused only for their mobile number
        (another contact holds it), to be sent again without it."""
        if done.error is not None or done.report is None:
            err = done.error
            self._settle_contacts([(i, "failed", {
                "error_code": getattr(err, "error_code", None) or type(err).__name__,
                "error_message": _describe(err)}) for i in items])
            return []
        status = done.report.status
        if status != "Finished":
            self._settle_contacts([(i, "failed", {
                "error_code": status,
                "error_message": f"contact import {done.import_id} ended {status}",
                "dotdigital_ref": done.import_id}) for i in items])
            return []
        outcome = []
        refused = []
        for item in items:
            failure = failures.get(item["identity"])
            if failure is None:
                outcome.append((item, "synced", {"dotdigital_ref": done.import_id}))
            elif item.get("has_mobile") and _mobile_failure(*failure):
                refused.append(item)
            else:
                code, description = failure
                outcome.append((item, "rejected", {
                    "error_code": code, "dotdigital_ref": done.import_id,
                    "error_field": contact_problem_field(code, description),
                    "error_message": f"Dotdigital rejected the contact: {code}"
                                     + (f" ({description})" if description else "")}))
        self._settle_contacts(outcome)
        self.progress(len(items) - len(refused))
        return refused

    def _without_mobile(self, item: dict[str, Any]) -> dict[str, Any]:
        """The contact item without its mobile number (Dotdigital said another contact
        holds it), and the warning that says so, recorded against the customer behind it."""
        payload = payloads.without_mobile(item["payload"])
        number = str(item["payload"].get("identifiers", {}).get("mobileNumber") or "")
        if item.get("email"):
            self.mobile_refused.add(str(item["email"]))
        if item["customers"]:
            masked = mask_phone(number)
            self._record_warnings("customers", [], pd.DataFrame([{
                "key": item["customers"][0][0], "field": "mobile_number",
                "check": "duplicate_identifier", "value": masked,
                "reason": f"Dotdigital refused mobile_number {masked!r}: another contact in "
                          "Dotdigital holds it (Duplicate identifier detected for "
                          "mobileNumber)"}]), replace=False)
        out = {**item, "payload": payload, "payload_hash": payloads.payload_hash(payload)}
        if item.get("create"):  # no number, no SMS channel to create
            out["create"] = {k: v for k, v in item["create"].items() if k != "sms"}
        return out

    def _retry_without_mobile(self, items: Sequence[dict[str, Any]]) -> None:
        """Contacts an import refused for a mobile number another contact holds: built
        again from the staging store without it, and sent again (SPEC §1)."""
        emails = {str(i["email"]) for i in items if i.get("email")}
        self.mobile_refused |= emails
        counts = self.report.counts["contacts"]
        before = (counts.merged, counts.kept_unsubscribed)
        holders = self.customers_with_emails(emails)
        again: list[dict[str, Any]] = []
        if not holders.empty:
            holders = holders.assign(_hash=source_hashes("customers", holders))
            again = [i for i in self.contact_items(holders, set(holders["customer_id"]))
                     if i["key"] in emails]
        counts.merged, counts.kept_unsubscribed = before
        # Guests have no number to refuse; anything left is settled as Dotdigital said.
        built = {i["key"] for i in again}
        left = [i for i in items if i["key"] not in built]
        self._settle_contacts([(i, "rejected", {
            "error_code": "Duplicate", "error_message": "Dotdigital rejected the contact: "
            "a duplicate identifier"}) for i in left])
        if again:
            if len(again) > self.options.bulk_threshold:
                self._contacts_bulk(iter(again))
            else:
                self._contacts_single(again)

    def _outgoing(self, item: dict[str, Any],
                  exists: Callable[[], bool] | None = None) -> dict[str, Any]:
        """What a contact item sends (README, "Consent"); sets ``item["mark"]``.

        A contact dotsync created non-marketable that the source now says is subscribed
        is resubscribed; one never pushed that ``exists()`` says is not in Dotdigital
        gets the non-marketable statuses. Without ``exists`` (single calls) creation is
        :meth:`_contacts_single`'s ``POST``.
        """
        payload = item["payload"]
        if item.get("ours") and consent_policy.says_subscribed(payload):
            item["mark"] = "clear"
            return consent_policy.for_resubscribe(payload)
        if (exists is not None and item.get("first_push") and item.get("create")
                and not exists()):
            item["mark"] = "set"
            return consent_policy.for_creation(payload, item["create"])
        return payload

    def _census(self) -> Census:
        """Who is in the Dotdigital account, read once per run when a bulk push needs it."""
        if getattr(self, "_account_census", None) is None:
            self._account_census = Census.of_account(self.client)
        return self._account_census

    def _note_consent_record(self, customer_id: str, row: Mapping[str, Any]
                             ) -> list[dict[str, Any]]:
        """A consent record that cannot be sent (some column missing or invalid) is left
        out and the contact still goes (SPEC §1: an optional field never holds a record).
        Returns one warning per field at fault; the value is not repeated (IP addresses
        and browser strings are personal data)."""
        _record, problems = consent_record(row)
        if not problems:
            return []
        self.report.counts["contacts"].consent_records_left_out += 1
        # Each warning is about a value that was given: a column that is missing is said
        # in the reason of the columns that are there (they are what was left out).
        given = given_columns(row)
        missing = [f for f, _ in problems if f not in given]
        wrong = {f: reason for f, reason in problems if f in given}
        out = []
        for column in given:
            reasons = [wrong[column]] if column in wrong else []
            if missing:
                reasons.append("a consent record needs all of "
                               f"{', '.join(CONSENT_RECORD_COLUMNS)}; missing: "
                               f"{', '.join(missing)}")
            if reasons:
                out.append({"key": customer_id, "field": column, "check": "consent_record",
                            "value": None,
                            "reason": "; ".join(reasons) + "; the consent record was left out"})
        return out

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
                mark = item.get("mark")
                if mark == "set":
                    row["detail"] = consent_policy.CREATED_NOT_MARKETABLE
                    counts.created_not_marketable += 1
                elif mark == "clear":
                    row["detail"] = None
            contact_rows.append(row)
            for customer_id, source_hash, merged_into in item["customers"]:
                cust = {"key": customer_id, "state": state, "source_hash": source_hash,
                        "error_code": extra.get("error_code"),
                        "error_field": (extra.get("error_field") or "email")
                        if state == "rejected" else None,
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
            if state in ("rejected", "failed") and item.get("email"):
                self.contact_reasons[str(item["email"])] = (
                    f"contact {mask_email(item['email'])} {state}: "
                    f"{extra.get('error_message') or extra.get('error_code') or ''}".strip())
            if state in ("rejected", "failed"):
                self.report.problem("contacts", item["key"] if item["customers"] == [] else
                                    item["customers"][0][0], state,
                                    extra.get("error_message") or state,
                                    field=extra.get("error_field") or "email",
                                    email=item.get("email"),
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
        waiting = [e for e in wanted if states.get(e) != "synced"
                   and e not in self._dry_run_contacts]
        reasons: dict[str, str] = {}
        for email in waiting:
            if email in self.contact_reasons:
                reasons[email] = self.contact_reasons[email]
        unexplained = [e for e in waiting if e not in reasons]
        if unexplained:
            holders = self.customers_with_emails(unexplained)
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

    def customer_emails(self, orders: pd.DataFrame) -> dict[str, Any]:
        """``{customer_id: staged e-mail}`` for the orders without a ``customer_email``
        (SPEC §1): one look-up by key, for those orders' customers only."""
        if "customer_email" in orders:
            blank = ~_is_set(orders["customer_email"])
        else:
            blank = pd.Series(True, index=orders.index)
        ids = orders.loc[blank, "customer_id"] if "customer_id" in orders else []
        wanted = sorted({i for i in ids if isinstance(i, str) and i.strip()})
        if not wanted:
            return {}
        found = self.store.read_staged("customers", wanted)
        return dict(zip(found["customer_id"], found["email"], strict=True))

    def validate_orders(self, pending: pd.DataFrame, record: bool = True) -> pd.DataFrame:
        from data_contracts import validate_orders

        if pending.empty:
            return pending
        staged = pending.drop(columns=["_hash"], errors="ignore")
        result = validate_orders(staged, now=self.options.now(),
                                 strict=self.settings.strict_fields,
                                 customer_emails=self.customer_emails(staged))
        if record:
            self._record_rejects("orders", pending, result.rejects, "customer_email")
            self._record_warnings("orders", pending["order_id"].astype(str), result.warnings)
        valid = result.valid.copy()
        if "_hash" in pending:
            valid["_hash"] = pending.loc[valid.index, "_hash"]
        warned = result.warnings
        left_out = set(warned.loc[warned["field"] == "refunded", "key"].astype(str))
        if left_out:
            valid[payloads.REFUND_LEFT_OUT] = valid["order_id"].astype(str).isin(left_out)
        return valid

    def prepare_orders(self, valid: pd.DataFrame) -> list[dict[str, Any]]:
        """The valid orders that need a call: their contact is in Dotdigital and their
        record differs from the one last sent. The others are settled here: waiting for
        their contact (pending, with the reason) or unchanged."""
        if valid.empty:
            return []
        counts = self.report.counts["orders"]
        valid = valid[~valid["order_id"].astype(str).isin(self.settled["orders"])]
        if valid.empty:
            return []
        gate = self.contact_gate(valid["customer_email"])
        # Timestamps as the ISO text Dotdigital gets, once per column rather than per row.
        valid = valid.assign(**{c: payloads.iso_utc_series(valid[c])
                                for c in ("placed_at", "updated_at") if c in valid})
        waits = [bool(gate.get(e)) for e in valid["customer_email"].tolist()]
        if any(waits):
            self._wait_for_contact("orders", _records(valid[waits]), gate, "customer_email")
            valid = valid[[not w for w in waits]]
        if valid.empty:
            return []
        # Everything below is built column by column: a backfill prepares millions.
        keys = [str(k) for k in valid["order_id"].tolist()]
        prior = self.ledger.frame("orders", keys)
        prior_of = {k: (state, payload_hash, _none_if_nan(sent_at), detail)
                    for k, state, payload_hash, sent_at, detail in zip(
                        prior["key"], prior["state"], prior["payload_hash"], prior["sent_at"],
                        prior["detail"], strict=True)}
        fulfilled = set(self.settings.fulfilled_statuses)
        dates = [_fulfilled_date({"status": status, "updated_at": updated},
                                 prior_of.get(key), fulfilled)
                 for key, status, updated in zip(keys, valid["status"].tolist(),
                                                 valid["updated_at"].tolist(), strict=True)]
        valid = valid.assign(fulfilled_date=dates)
        records = payloads.insight_import_records(valid)
        to_send: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        for key, email, total, currency, source_hash, date, record in zip(
                keys, valid["customer_email"].tolist(), valid["total"].tolist(),
                valid["currency"].tolist(), valid["_hash"].tolist(), dates, records,
                strict=True):
            before = prior_of.get(key)
            row = {"order_id": key, "customer_email": email, "total": total,
                   "currency": currency, "_hash": source_hash, "fulfilled_date": date,
                   "status": record["json"]["order_status"],
                   "placed_at": record["json"]["purchase_date"],
                   "_payload": record, "_payload_hash": payloads.payload_hash(record),
                   "_first_sync": before is None or before[2] is None}
            if before is not None and before[0] == "synced" and before[1] == row["_payload_hash"]:
                unchanged.append(row)
            else:
                to_send.append(row)
        counts.unchanged += len(unchanged)
        self.settled["orders"].update(str(r["order_id"]) for r in unchanged)
        if not self.options.dry_run and unchanged:
            self.ledger.record("orders", [
                {"key": r["order_id"], "state": "synced", "source_hash": r["_hash"]}
                for r in unchanged
            ], run_id=self.run_id)
        return to_send

    def push_orders(self, valid: pd.DataFrame) -> None:
        to_send = self.prepare_orders(valid)
        if self.options.dry_run:
            self.report.counts["orders"].sent += len(to_send)
            self.report.notes.append(f"dry run: {len(to_send)} orders would be sent")
            self._first_synced_orders += [r for r in to_send if r["_first_sync"]]
            return
        missing = self._send_orders(to_send, bulk=len(to_send) > self.options.bulk_threshold)
        self.retry_missing_contacts(missing)

    def retry_missing_contacts(self, missing: Sequence[dict[str, Any]]) -> None:
        """Orders Dotdigital refused because their contact does not exist there (deleted
        in Dotdigital, or never created): push those contacts again, then send the orders
        once more, read afresh from the store; what still fails waits for a later run."""
        if not missing:
            return
        reason = {r["customer_email"]: f"contact {mask_email(r['customer_email'])} does not "
                  "exist in Dotdigital (ContactEmailDoesNotExist); the order is retried after "
                  "the contact is pushed" for r in missing}
        self._repush_contacts(set(reason))
        staged = self.store.read_staged("orders", [str(r["order_id"]) for r in missing])
        staged["_hash"] = source_hashes("orders", staged)
        to_send = self.prepare_orders(self.validate_orders(staged))
        still = self._send_orders(to_send, bulk=len(to_send) > self.options.bulk_threshold)
        self._wait_for_contact("orders", still, reason, "customer_email")

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
            ], run_id=self.run_id, protect_sent=entity in EXACTLY_ONCE)

    def _send_orders(
        self, rows: Iterable[dict[str, Any]], bulk: bool
    ) -> list[dict[str, Any]]:
        """Send orders; returns those Dotdigital refused because the contact is missing.

        ``bulk`` streams them through insight imports (5 in flight), holding only the few
        fields needed to settle each order while its import runs.
        """
        collection = self.settings.insight_collection
        missing: list[dict[str, Any]] = []
        if not bulk:
            rows = list(rows)
            # A key that cannot stand in a URL path goes in an import body instead.
            unsafe = [r for r in rows if not _path_safe(str(r["order_id"]))]
            if unsafe:
                missing += self._send_orders(unsafe, bulk=True)
                rows = [r for r in rows if _path_safe(str(r["order_id"]))]
            if rows and self._collection is None:
                self._collection = CollectionGuard(self.client, collection,
                                                   note=self.report.notes.append)
            for row in rows:
                try:
                    self._collection.upsert(str(row["order_id"]), row["_payload"]["json"],
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
        order: deque[tuple[Any, ...]] = deque()

        def record_stream() -> Iterator[dict[str, Any]]:
            for row in rows:
                order.append(tuple(row.get(k) for k in _ORDER_SETTLE_FIELDS))
                yield row["_payload"]

        def too_large(_payload: Any, size: int) -> None:
            row = dict(zip(_ORDER_SETTLE_FIELDS, order.pop(), strict=True))
            self._settle_orders([(row, "rejected", "too_large",
                                  f"the order record serialises to {size} bytes, more than "
                                  f"one import may carry ({self.options.import_max_bytes})")])

        chunks = chunk_insight_records(collection, record_stream(),
                                       max_bytes=self.options.import_max_bytes, serialized=True,
                                       on_oversize=too_large)
        for done in run_imports(
            chunks,
            submit=lambda chunk: self.client.import_insight_data(collection, chunk),
            status=self.client.get_insight_import,
            max_in_flight=self.options.insight_imports_in_flight,
            poll_interval=self.options.poll_interval,
            keep=lambda chunk: Kept(_ORDER_SETTLE_FIELDS,
                                    [order.popleft() for _ in range(len(chunk))]),
            max_records_in_flight=self.options.records_in_flight,
        ):
            failpoints.hit("after_import_report")
            if isinstance(done.error, dd.AuthenticationError):
                raise done.error
            report = done.report
            failures = (_insight_failures(report) if done.error is None and report is not None
                        and report.status in INSIGHT_IMPORT_DONE else {})
            for batch in done.chunk.batches(self.options.settle_batch):
                missing += self._settle_order_batch(done, failures, batch)
        return missing

    def _settle_order_batch(self, done: Finished[Any, Any], failures: Mapping[str, str],
                            rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Settle one slice of an ended insight import's orders; returns those refused
        because their contact does not exist."""
        if done.error is not None or done.report is None:
            err = done.error
            self._settle_orders([(r, "failed", getattr(err, "error_code", None)
                                  or type(err).__name__, _describe(err)) for r in rows])
            return []
        report = done.report
        if report.status not in INSIGHT_IMPORT_DONE:
            self._settle_orders([(r, "failed", report.status,
                                  f"insight import {done.import_id} ended {report.status}")
                                 for r in rows])
            return []
        outcome = []
        missing = []
        for row in rows:
            reason = failures.get(str(row["order_id"]))
            if reason is None:
                outcome.append((row, "synced", None, None))
            elif reason == "ContactEmailDoesNotExist":
                missing.append(row)
            else:
                outcome.append((row, "rejected", reason,
                                f"Dotdigital rejected the order record: {reason}"))
        self._settle_orders(outcome)
        self.progress(len(rows))
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
                if row.get("fulfilled_date"):
                    entry["detail"] = _fulfilled_detail(row["fulfilled_date"])
                counts.sent += 1
            elif state == "rejected":
                entry["source_hash"] = row["_hash"]
                counts.rejected += 1
            else:
                counts.failed += 1
            if state != "synced":
                self.report.problem("orders", row["order_id"], state, message or state,
                                    email=row["customer_email"], code=code)
            rows.append(entry)
        if self.settings.order_campaign and self.options.confirmations:
            # The confirmation is owed from the moment the order is first synced: write
            # that down first, so no crash between the two writes can lose it.
            self.ledger.ensure("confirmations", [
                str(row["order_id"]) for row, state, _, _ in outcomes
                if state == "synced" and row.get("_first_sync")])
        self.ledger.record("orders", rows, run_id=self.run_id, count_attempt=True)
        failpoints.hit("after_settle")

    def _repush_contacts(self, emails: set[str]) -> None:
        self.ledger.record("contacts", [
            {"key": e, "state": "pending", "payload_hash": None,
             "error_code": "ContactEmailDoesNotExist",
             "error_message": "Dotdigital has no contact with this e-mail; pushing it again"}
            for e in emails
        ], run_id=self.run_id)
        holders = self.customers_with_emails(emails)
        items = []
        if not holders.empty:
            holders = holders.assign(_hash=source_hashes("customers", holders))
            items = self.contact_items(holders, set(holders["customer_id"]))
        planned = {i["key"] for i in items}
        items += self.guest_items(emails, planned | set(holders["_email_norm"].dropna()))
        for item in items:  # Dotdigital says it has no such contact: it is created again
            item["recreate"] = True
        self.push_contacts(items)

    # -- confirmations and certificates: exactly once --------------------------------

    def send_confirmations(self) -> None:
        """The order-confirmation e-mail, once per order, owed since its first sync.

        The owed confirmations are read from the ledger (``pending`` or ``failed``), so
        one a crash or a transient failure left behind goes out with the next run. They
        are read, planned and sent a chunk at a time (:mod:`dotsync.sync.confirmations`),
        and never more than the send cap was decided on.
        """
        if not self.settings.order_campaign or not self.options.confirmations:
            return
        counts = self.report.counts["confirmations"]
        left = self.send_plan.confirmations if self.send_plan is not None else None
        for sends, skipped in self.confirmation_chunks():
            if left is not None:
                sends, left = sends[:left], max(0, left - len(sends))
            if self.options.dry_run:
                counts.sent += len(sends)
                self._count_skips("confirmations", skipped)
                continue
            if skipped:
                # Never owed after all: the ledger forgets them, so no later run sends one.
                self.ledger.forget("confirmations", [k for k, _ in skipped])
                self.settled["confirmations"].update(k for k, _ in skipped)
                self._count_skips("confirmations", skipped)
            self._send_once("confirmations", sends)

    def plan_confirmations(self) -> tuple[list[tuple[str, str, int | None, dict[str, str]]],
                                          list[tuple[str, str]]]:
        """The confirmations this run sends, and those it skips with the reason, all at
        once (the steps use :meth:`confirmation_chunks`)."""
        sends: list[tuple[str, str, int | None, dict[str, str]]] = []
        skipped: list[tuple[str, str]] = []
        for part, skips in self.confirmation_chunks():
            sends += part
            skipped += skips
        return sends, skipped

    def confirmation_chunks(self) -> Iterator[tuple[
            list[tuple[str, str, int | None, dict[str, str]]], list[tuple[str, str]]]]:
        """The confirmations this run sends, and those it skips with the reason, a chunk
        of owed keys at a time.

        Owed ones are read from the ledger (``pending`` or ``failed``); a dry run adds
        the orders it would sync for the first time. Each is checked against
        DOTSYNC_NO_CONFIRMATION_STATUSES, DOTSYNC_CONFIRMATION_MAX_AGE and the moment
        confirmations were enabled, on the staged order as it is now.
        """
        from dotsync.sync.confirmations import owed_keys

        if not self.settings.order_campaign or not self.options.confirmations:
            return
        now = self.options.now()
        enabled = self.confirmations_enabled_at
        planned: set[str] = set()
        if self.options.dry_run and self._first_synced_orders:
            sends: list[tuple[str, str, int | None, dict[str, str]]] = []
            skipped: list[tuple[str, str]] = []
            for row in self._first_synced_orders:
                why = confirmation_skip(row.get("status"), row.get("placed_at"), now, enabled,
                                        self.settings)
                if why:
                    skipped.append((str(row["order_id"]), why))
                else:
                    sends.append((str(row["order_id"]), row["customer_email"], None, {}))
            planned = {s[0] for s in sends} | {k for k, _ in skipped}
            yield sends, skipped
        for keys in owed_keys(self.store.engine, self.options.confirmations_chunk):
            owed = [k for k in keys
                    if k not in self.settled["confirmations"] and k not in planned]
            if owed:
                yield self._plan_owed(owed, now, enabled)

    def _plan_owed(self, owed: list[str], now: pd.Timestamp, enabled: datetime | None
                   ) -> tuple[list[tuple[str, str, int | None, dict[str, str]]],
                              list[tuple[str, str]]]:
        sends: list[tuple[str, str, int | None, dict[str, str]]] = []
        skipped: list[tuple[str, str]] = []
        staged = self.store.read_staged("orders", owed)
        valid = self.validate_orders(staged, record=False)
        for o in _records(valid):
            why = confirmation_skip(o.get("status"), o.get("placed_at"), now, enabled,
                                    self.settings)
            if why:
                skipped.append((str(o["order_id"]), why))
            else:
                sends.append((str(o["order_id"]), o["customer_email"], self.order_campaign_id,
                              payloads.confirmation_personalisation(o)))
        return sends, skipped

    def _count_skips(self, entity: str, skipped: Sequence[tuple[str, str]]) -> None:
        """Skipped sends: counted, by reason, in the report (``skipped`` in ``--json``)."""
        if not skipped:
            return
        counts = self.report.counts[entity]
        counts.skipped += len(skipped)
        for _key, why in skipped:
            counts.skipped_because[why] = counts.skipped_because.get(why, 0) + 1

    def plan_certificates(self, valid: pd.DataFrame | None) -> tuple[
            list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]],
            dict[str, str | None]]:
        """Valid pending certificates as (ready, waiting for their contact, expired), and
        the contact gate."""
        if valid is None or valid.empty:
            return [], [], [], {}
        valid = valid[~valid["certificate_id"].astype(str).isin(self.settled["certificates"])]
        if valid.empty:
            return [], [], [], {}
        now = self.options.now()
        rows = _records(valid)
        expired = [r for r in rows if certificate_expired(r.get("expires_at"), now)]
        rows = [r for r in rows if not certificate_expired(r.get("expires_at"), now)]
        gate = self.contact_gate([r["recipient_email"] for r in rows])
        ready = [r for r in rows if not gate.get(r["recipient_email"])]
        waiting = [r for r in rows if gate.get(r["recipient_email"])]
        return ready, waiting, expired, gate

    def check_send_cap(self, valid_certificates: pd.DataFrame | None,
                       confirmations: bool = True) -> SendPlan:
        """Before any confirmation or certificate goes out: how many would, and the cap.

        A run that would send more than DOTSYNC_MAX_SENDS_PER_RUN (or the run's
        ``allow_sends``) sends none of them and fails (:class:`RunFailed`) naming the
        number and the way to allow it; nothing is written before that decision. A dry
        run notes what the next run would send.
        """
        plan = SendPlan()
        for sends, skipped in (self.confirmation_chunks() if confirmations else ()):
            plan.confirmations += len(sends)
            for _key, why in skipped:
                plan.skip(why)
        ready, _waiting, expired, _gate = self.plan_certificates(valid_certificates)
        plan.certificates = len(ready)
        plan.skip(EXPIRED, len(expired))
        by_flag = self.options.allow_sends is not None
        allowed = self.options.allow_sends if by_flag else self.settings.max_sends_per_run
        problem = cap_exceeded(plan, int(allowed or 0), by_flag)
        self.send_plan = plan
        if self.options.dry_run:
            self.report.notes.append(f"dry run: the next run would send {plan.describe()}"
                                     + (f"; it would fail: {problem}" if problem else ""))
            return plan
        failpoints.hit("after_send_cap")
        if problem:
            raise RunFailed(problem)
        return plan

    def validate_certificates(self, pending: pd.DataFrame) -> pd.DataFrame:
        from data_contracts import validate_certificates

        if pending.empty:
            return pending
        result = validate_certificates(pending.drop(columns=["_hash"]),
                                       self.settings.certificate_campaign_id,
                                       self.settings.strict_fields)
        self._record_rejects("certificates", pending, result.rejects, "recipient_email")
        self._record_warnings("certificates", pending["certificate_id"].astype(str),
                              result.warnings)
        valid = result.valid.copy()
        valid["_hash"] = pending.loc[valid.index, "_hash"]
        return valid

    def send_certificates(self, valid: pd.DataFrame) -> None:
        if valid.empty:
            return
        counts = self.report.counts["certificates"]
        ready, waiting, expired, gate = self.plan_certificates(valid)
        self._skip_expired(expired)
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

    def _skip_expired(self, expired: Sequence[dict[str, Any]]) -> None:
        """Certificates past their ``expires_at`` are not sent: ``rejected`` in the ledger
        with the reason (a later ``expires_at`` makes them pending again), counted as
        skipped in the report."""
        if not expired:
            return
        self._count_skips("certificates", [(str(r["certificate_id"]), EXPIRED)
                                           for r in expired])
        self.settled["certificates"].update(str(r["certificate_id"]) for r in expired)
        for r in expired:
            self.report.problem("certificates", r["certificate_id"], "skipped",
                                f"not sent: expired at {payloads.iso_utc(r['expires_at'])}",
                                field="expires_at", email=r["recipient_email"],
                                code="expired")
        if not self.options.dry_run:
            self.ledger.record("certificates", [
                {"key": str(r["certificate_id"]), "state": "rejected",
                 "source_hash": r["_hash"], "error_code": "expired",
                 "error_field": "expires_at",
                 "error_message": f"not sent: the certificate expired at "
                                  f"{payloads.iso_utc(r['expires_at'])}"}
                for r in expired], run_id=self.run_id, protect_sent=True)

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
            failpoints.hit("after_claim")
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
            failpoints.hit("after_send")
            sent = [item for item, (code, _) in zip(batch, results, strict=True) if code is None]
            self._settle_sends(entity, sent, "synced", None, None)
            for item, (code, reason) in zip(batch, results, strict=True):
                if code is not None:
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
        result = validate_certificates(staged, self.settings.certificate_campaign_id,
                                       self.settings.strict_fields)
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


#: What an order in flight keeps until its import settles it (and its confirmation needs).
#: What settling an order or a contact needs, kept while its import runs.
_ORDER_SETTLE_FIELDS = ("order_id", "customer_email", "_hash", "_payload_hash", "_first_sync",
                        "fulfilled_date")
_CONTACT_SETTLE_FIELDS = ("key", "payload_hash", "customers", "email", "identity", "mark",
                          "same")


def _pack_contact(key: str, payload_hash: str, members: list[tuple[Any, ...]],
                  email: str | None, identity: str, mark: str | None = None,
                  has_mobile: bool = False) -> tuple[Any, ...]:
    """What settling a contact needs, compact while its import runs: the customer rows
    behind it as JSON bytes (as they are when JSON cannot hold them exactly), and the
    e-mail and identity left out (a flag says so) when they equal the key, as they
    nearly always do."""
    try:
        # Copied to its size: orjson's result keeps the ~4 KB block it was written into,
        # which for a queue of a hundred thousand contacts is hundreds of megabytes.
        packed: Any = memoryview(orjson.dumps(members)).tobytes()
    except TypeError:
        packed = members
    same = (1 if email == key else 0) | (2 if identity == key else 0) | (4 if has_mobile else 0)
    return (key, payload_hash, packed, None if same & 1 else email,
            None if same & 2 else identity, mark, same)


def _unpack_contact(item: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_pack_contact`, on its fields as a dict."""
    if isinstance(item["customers"], bytes):
        item["customers"] = [tuple(m) for m in orjson.loads(item["customers"])]
    same = item.pop("same")
    item["has_mobile"] = bool(same & 4)
    if same & 1:
        item["email"] = item["key"]
    if same & 2:
        item["identity"] = item["key"]
    return item


def _fulfilled_date(
    row: Mapping[str, Any], prior: tuple[Any, ...] | None, fulfilled: set[str]
) -> str | None:
    """When the order first reached a fulfilled status (DOTSYNC_FULFILLED_STATUSES).

    ``prior`` is the order's ledger (state, payload hash, sent at, detail), if any.

    Kept in the ledger once reached, so a later return or refund does not move it;
    Dotdigital programs can then start post-purchase journeys on fulfilment only.
    """
    detail = prior[3] if prior is not None else None
    if isinstance(detail, str):
        try:
            known = json.loads(detail).get("fulfilled_date")
        except (ValueError, AttributeError):
            known = None
        if known:
            return str(known)
    if str(row.get("status") or "").strip().lower() in fulfilled:
        return payloads.iso_utc(row.get("updated_at"))
    return None


def _fulfilled_detail(date: str) -> str:
    """``json.dumps({"fulfilled_date": date})``, at a fraction of the cost."""
    return '{"fulfilled_date": ' + orjson.dumps(date).decode() + "}"


def _refusable_mobile(payload: Mapping[str, Any]) -> bool:
    """Whether Dotdigital could refuse this contact only for its mobile number: it is
    matched by e-mail and carries a number (a contact identified by its number keeps it)."""
    return (payload.get("matchIdentifier") == "email"
            and bool(payload.get("identifiers", {}).get("mobileNumber")))


def _mobile_failure(code: Any, description: Any) -> bool:
    """An import failure saying an identifier is taken (``Duplicate``/``duplicateIdentifier``,
    "Duplicate identifier detected for mobileNumber …") and not naming the e-mail."""
    if str(code or "").lower() not in ("duplicate", "duplicateidentifier"):
        return False
    text = str(description or "")
    return "mobileNumber" in text or "email" not in text.lower()


def _mobile_conflict(payload: Mapping[str, Any], code: Any, description: str) -> bool:
    """A 409 on a single upsert by e-mail of a contact with a number: the number is taken
    (the contact is matched by its e-mail, so the e-mail cannot be)."""
    if not _refusable_mobile(payload):
        return False
    return "email" not in description.lower() or "mobileNumber" in description


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
