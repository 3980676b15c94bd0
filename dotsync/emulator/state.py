"""The emulator's in-memory account: contacts, insight data, imports, sends, calls, faults.

Every read and write holds one re-entrant lock, because the server runs in its own thread
while tests read the state from theirs; inspection methods return copies so a test can
never observe (or cause) a half-applied change.

Imports are applied when due (``import_delay`` after submission), in submission order, and
report ``Finished`` only once applied. With ``import_delay <= 0`` they are applied at once,
inside the submitting call. Otherwise a worker thread applies them: a big import takes
seconds to apply, and Dotdigital answers status polls and other calls meanwhile, so the
worker gives the lock up every :data:`SLICE_SECONDS` and the calls get in between. A call
may therefore see an import's first records before the import reports ``Finished`` (as
with Dotdigital), never the other way round. The worker stops when nothing is pending and
on :meth:`EmulatorState.close`.

Big things are kept compact (see :mod:`dotsync.emulator.compact`): an applied import keeps
its report as JSON bytes and drops its payload; insight records keep their JSON as bytes.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dotsync.emulator.compact import Packed, pack, pack_json_bytes, paused_gc, unpack
from dotsync.emulator.config import EmulatorConfig, Faults, load_seed
from dotsync.emulator.programs import ProgramBook
from dotsync.emulator.structure import AccountStructure
from dotsync.emulator.validation import (
    EMAIL_TYPES,
    IMPORT_MERGE_OPTIONS,
    OPT_IN_TYPES,
    canonical_email,
    canonical_mobile,
    contains_nested_array,
    email_key,
    mobile_country,
    schema_paths,
)

#: Email channel statuses that an update saying ``subscribed`` must not undo.
SUPPRESSED_EMAIL_STATUSES = frozenset({
    "unsubscribed", "suppressed", "softBounced", "hardBounced", "ispComplained",
    "directComplaint", "spamTrap", "blockedlocalpart", "sharedsuppression",
    "sharedDomainSuppression", "knownComplainer", "knownLitigator", "domainSuppressed",
})
_REASON_TO_STATUS = {
    "unsubscribed": "unsubscribed", "hardbounced": "hardBounced",
    "softbounced": "softBounced", "ispcomplained": "ispComplained",
    "directcomplaint": "directComplaint", "spamtrap": "spamTrap",
}
_TOP_LEVEL_STATUS = {"subscribed": "subscribed", "unsubscribed": "unsubscribed",
                     "pendingOptIn": "pendingOptIn", "noSubscription": "noSubscription",
                     "deleted": "deleted", "binned": "binned"}

log = logging.getLogger(__name__)

#: How long the import worker holds the lock before letting waiting calls in.
SLICE_SECONDS = 0.01
#: How long it then stays out of the lock: long enough for a woken thread to take it.
_SLICE_GAP = 0.0005


def _no_pause() -> None:
    """The pause point of an import applied inline: keep the lock."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, the form Dotdigital's v3 API returns."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_when(text: str) -> datetime:
    """Parse an ISO date or date-time; naive values are UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(slots=True)
class Contact:
    """One contact; slotted because a backfill keeps a million of them."""

    contact_id: int
    email: str | None
    mobile: str | None
    created: datetime
    updated: datetime
    data_fields: dict[str, Any] = field(default_factory=dict)
    email_type: str = "Html"
    opt_in_type: str = "Unknown"
    email_status: str = "subscribed"
    sms_status: str = "noSubscription"
    lists: list[int] = field(default_factory=list)
    consent_records: list[dict[str, Any]] = field(default_factory=list)

    def identifiers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.email is not None:
            out["email"] = self.email
        if self.mobile is not None:
            out["mobileNumber"] = self.mobile
        return out

    def status(self) -> str:
        if self.email_status in SUPPRESSED_EMAIL_STATUSES and self.email_status != "unsubscribed":
            return "suppressed"
        return _TOP_LEVEL_STATUS.get(self.email_status, "subscribed")

    def to_v3(self, *, channel: bool = True, lists: bool = True, consent: bool = True,
              data_fields: list[str] | None = None) -> dict[str, Any]:
        """The v3 ``contact`` schema; ``data_fields=None`` means all of them."""
        out: dict[str, Any] = {
            "contactId": self.contact_id,
            "status": self.status(),
            "created": iso(self.created),
            "updated": iso(self.updated),
            "identifiers": self.identifiers(),
        }
        if data_fields is None:
            out["dataFields"] = dict(self.data_fields)
        elif data_fields:
            wanted = {n.upper() for n in data_fields}
            out["dataFields"] = {k: v for k, v in self.data_fields.items()
                                 if k.upper() in wanted}
        if channel:
            props: dict[str, Any] = {"email": {"emailType": self.email_type,
                                               "optInType": self.opt_in_type,
                                               "status": self.email_status}}
            if self.mobile is not None:
                props["sms"] = {"countryCode": mobile_country(self.mobile),
                                "status": self.sms_status}
            out["channelProperties"] = props
        if lists:
            out["lists"] = [{"id": i, "name": f"List {i}", "status": "subscribed"}
                            for i in self.lists]
        if consent and self.consent_records:
            out["consentRecords"] = copy.deepcopy(self.consent_records)
        return out

    def to_v2(self) -> dict[str, Any]:
        """The v2 contact shape used inside ``suppressedContact``."""
        return {"id": self.contact_id, "email": self.email or "",
                "optInType": self.opt_in_type, "emailType": self.email_type,
                "dataFields": None, "status": _v2_status(self.email_status)}


def _v2_status(email_status: str) -> str:
    special = {"pendingOptIn": "PendingOptIn", "hardBounced": "HardBounced",
               "softBounced": "SoftBounced", "ispComplained": "IspComplained"}
    return special.get(email_status, email_status[:1].upper() + email_status[1:])


@dataclass(slots=True)
class Import:
    """A contact import, insight import or bulk delete, applied when due.

    ``payload`` is dropped once applied (a backfill would otherwise keep every body it
    sent); ``report`` is then packed, and ``collection`` keeps the one payload field an
    insight import's status shows.
    """

    kind: str  # "contacts" | "insight" | "delete"
    import_id: str
    payload: dict[str, Any] | list[Any] | None
    submitted: datetime
    due: float
    seq: int = 0
    collection: str | None = None
    status: str = "NotFinished"
    report: Packed = field(default_factory=dict)
    #: Whether the fault profile makes it fail, drawn at submission: requests come in a
    #: fixed order, the worker's turns do not, so a seeded profile stays reproducible.
    doomed: bool = False
    #: Failed by ``fail_first_imports``: fails even if the draw's faults are turned off.
    forced: bool = False

    @property
    def active(self) -> bool:
        return self.status == "NotFinished"


class _Abandoned(Exception):
    """The state was reset while the worker was applying an import: drop it."""


class ConflictError(Exception):
    """Two identifiers of one request belong to two different contacts."""

    def __init__(self, identifier: str, value: str) -> None:
        super().__init__(identifier, value)
        self.identifier = identifier
        self.value = value


class EmulatorState:
    """All of the emulated account, safe to read from any thread.

    Inspection (all return copies): :meth:`contacts`, :meth:`contact`, :meth:`insight`,
    :meth:`insight_records`, :meth:`sends`, :meth:`calls`, :meth:`imports`,
    :meth:`suppressions`, :meth:`campaigns`. Control: ``faults`` (a :class:`Faults`, change
    attributes or call :meth:`set_faults`), :meth:`complete_imports`, :meth:`reset`,
    :meth:`add_campaign`, :meth:`add_program`, :meth:`add_suppression`, :meth:`close` (stops
    the import worker); ``programs`` holds programs and enrolments (:mod:`.programs`).
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        #: Signalled whenever an import is queued, applied or dropped (and on reset/close).
        self._changed = threading.Condition(self.lock)
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._generation = 0
        self.faults: Faults = config.faults()
        self.rng = random.Random(config.random_seed)
        self._seed = load_seed(config.seed)
        self.reset()

    # ------------------------------------------------------------------ set-up
    def reset(self) -> None:
        """Back to the seeded account: no calls, no sends, no imports (faults are kept)."""
        with self.lock:
            seed = copy.deepcopy(self._seed)
            self._generation += 1  # an import being applied now is dropped, not finished
            self._queue: deque[Import] = deque()  # not yet applied, in submission order
            self._seq = 0
            self._forced_seq = 0  # imports up to this seq are due now (complete_imports)
            self._changed.notify_all()
            self._contacts: dict[int, Contact] = {}
            self._by_email: dict[str, int] = {}
            self._by_mobile: dict[str, int] = {}
            self._next_contact_id = 10001
            self._suppressions: dict[str, dict[str, Any]] = {}
            self._collections: dict[str, dict[str, Any]] = {}
            self._imports: dict[str, Import] = {}
            #: The most imports of each kind ever active at once (:meth:`max_active_imports`).
            self._max_active: dict[str, int] = {}
            self._sends: list[dict[str, Any]] = []
            self._calls: list[dict[str, Any]] = []
            self._campaigns: dict[int, dict[str, Any]] = {}
            self._window_start: float | None = None
            self._window_count = 0
            self.account = dict(seed.get("account") or {})
            self.structure = AccountStructure(seed.get("dataFields"), seed["addressBooks"])
            self.programs = ProgramBook(seed.get("programs"))
            for campaign in seed["campaigns"]:
                self.add_campaign(**campaign)
            for n in range(int(seed.get("generatedCampaigns") or 0)):
                self.add_campaign(id=200000 + n, name=f"Generated campaign {n + 1}",
                                  status="Sent")
            for col in seed.get("collections") or []:
                self._collections[col["name"]] = {
                    "scope": col.get("scope", "contact"), "type": col.get("type", "custom"),
                    "schema": {}, "records": {}}
            for sup in seed["suppressed"]:
                self.add_suppression(sup["email"], sup.get("reason", "Unsubscribed"),
                                     sup.get("dateRemoved"))
            for c in seed.get("contacts") or []:
                payload = {"identifiers": {k: c[k] for k in ("email", "mobileNumber") if k in c},
                           "dataFields": c.get("dataFields") or {},
                           "channelProperties": c.get("channelProperties") or {}}
                self.upsert_contact(payload, match=("email" if "email" in c else
                                                    "mobileNumber"), merge="overwrite")

    @property
    def known_data_fields(self) -> set[str] | None:
        """The account's data field names (upper case); None accepts any well-formed name."""
        with self.lock:
            return self.structure.known()

    def add_data_field(self, name: str, type: str = "String") -> None:
        """Create a contact data field, as a user would in Dotdigital's UI."""
        with self.lock:
            self.structure.add_data_field(name, type)

    def list_member_count(self, list_id: int) -> int:
        with self.lock:
            return sum(1 for c in self._contacts.values() if list_id in c.lists)

    def add_campaign(self, id: int, name: str, status: str = "Triggered",
                     **extra: Any) -> None:
        """Add (or replace) a campaign; ``status`` ``Triggered`` allows triggered sends."""
        with self.lock:
            self._campaigns[int(id)] = {
                "id": int(id), "name": name,
                "subject": extra.get("subject", name),
                "fromName": extra.get("fromName", "dotsync emulator"),
                "fromAddress": {"id": 1, "email": extra.get("fromAddress",
                                                            "shop@emulator.invalid")},
                "htmlContent": extra.get("htmlContent", f"<html><body>{name}</body></html>"),
                "plainTextContent": extra.get("plainTextContent", name),
                "replyAction": "Unset", "replyToAddress": "", "isSplitTest": False,
                "status": status,
            }

    def add_program(self, id: int, name: str, status: str = "Active") -> None:
        """Add (or replace) a program; only an ``Active`` one takes enrolments."""
        with self.lock:
            self.programs.add_program(id, name, status)

    def add_suppression(self, email: str, reason: str = "Unsubscribed",
                        date_removed: str | datetime | None = None) -> None:
        """Suppress an address: its contact (now or later) keeps a non-subscribed status."""
        with self.lock:
            when = (parse_when(date_removed) if isinstance(date_removed, str)
                    else date_removed or utcnow())
            self._suppressions[email_key(email)] = {"email": email, "reason": reason,
                                                    "dateRemoved": when}
            status = _REASON_TO_STATUS.get(reason.lower(), "suppressed")
            cid = self._by_email.get(email_key(email))
            if cid is not None:
                self._contacts[cid].email_status = status
                self._contacts[cid].updated = utcnow()

    # ------------------------------------------------------------------ imports
    def process_due(self, force: bool = False) -> None:
        """Apply pending imports now when ``force`` (see :meth:`complete_imports`).

        Without ``force`` there is nothing to do: the worker applies imports as they fall
        due. Kept so callers written for the lazy model still work.
        """
        if force:
            self.complete_imports()

    def complete_imports(self) -> None:
        """Apply every pending import now, whatever its delay; return once all are applied.

        For tests and benchmarks. Imports submitted meanwhile are not waited for.
        """
        with self.lock:
            if not self._queue:
                return
            last = self._queue[-1].seq
            self._forced_seq = max(self._forced_seq, last)
            self._changed.notify_all()
            while self._queue and self._queue[0].seq <= last:
                if self._worker is None:
                    self._apply_head()  # nobody else is applying: do it here, in order
                else:
                    self._changed.wait()  # the worker may be half-way through the oldest

    def close(self) -> None:
        """Stop the import worker (after the import it is applying, if any).

        Pending imports stay pending; the next submission, status read or
        :meth:`complete_imports` starts a worker again. :class:`EmulatorServer` calls this
        when it stops, so no thread outlives the server.
        """
        with self.lock:
            worker = self._worker
            if worker is None:
                return
            self._stopping = True
            self._changed.notify_all()
        worker.join()
        with self.lock:
            self._stopping = False

    def active_imports(self, kind: str) -> int:
        """Imports of ``kind`` not finished yet (queued, or being applied)."""
        with self.lock:
            return sum(1 for i in self._queue if i.kind == kind)

    def max_active_imports(self, kind: str) -> int:
        """The most imports of ``kind`` that were ever active at once since the last reset:
        what a test of a shared limit on imports in flight (across runs and workers)
        checks, since Dotdigital's own limit is only the outer bound."""
        with self.lock:
            return self._max_active.get(kind, 0)

    def submit(self, kind: str, payload: dict[str, Any] | list[Any],
               limit: int | None = None) -> str | None:
        """Queue an import and return its id; None when ``limit`` imports of ``kind`` are
        already active (checked and queued atomically).

        The state takes ``payload`` over (no copy: a 48 MB body takes seconds to copy), so
        the caller must not change it afterwards.
        """
        with self.lock:
            if limit is not None and self.active_imports(kind) >= limit:
                return None
            import_id = str(uuid.uuid4())
            self._seq += 1
            collection = payload.get("collectionName") if isinstance(payload, dict) else None
            imp = Import(kind, import_id, payload, utcnow(),
                         time.monotonic() + self.config.import_delay, seq=self._seq,
                         collection=collection)
            imp.forced = self.faults.fail_first_imports > 0
            if imp.forced:
                self.faults.fail_first_imports -= 1
            imp.doomed = imp.forced or bool(self.faults.fail_imports
                                            and self.rng.random() < self.faults.fail_imports)
            self._imports[import_id] = imp
            self._queue.append(imp)
            self._max_active[kind] = max(self._max_active.get(kind, 0),
                                         self.active_imports(kind))
            if self.config.import_delay <= 0:
                self.complete_imports()  # at once, in this call, as before
            else:
                self._ensure_worker()
                self._changed.notify_all()
            return import_id

    def get_import(self, kind: str, import_id: str) -> dict[str, Any] | None:
        """An import's status and report (a copy), or None when there is no such import."""
        with self.lock:
            self._ensure_worker()
            imp = self._imports.get(import_id)
            if imp is None or imp.kind != kind:
                return None
            return self._import_view(imp)

    def import_status_json(self, kind: str, import_id: str) -> bytes | None:
        """:meth:`get_import` as JSON text, for the status endpoint.

        A finished report of a big import is megabytes: it is spliced from the stored bytes
        rather than decoded and encoded again, so a poll stays quick.
        """
        with self.lock:
            self._ensure_worker()
            imp = self._imports.get(import_id)
            if imp is None or imp.kind != kind:
                return None
            head = pack_json_bytes(self._import_head(imp))
            report = pack_json_bytes(imp.report)
        if report == b"{}":
            return head
        return head[:-1] + b"," + report[1:]

    def _import_head(self, imp: Import) -> dict[str, Any]:
        if imp.kind == "delete":
            return {"deleteId": imp.import_id, "status": imp.status}
        if imp.kind == "insight":
            return {"importId": imp.import_id, "status": self._insight_status(imp.status),
                    "collectionName": imp.collection}
        return {"importId": imp.import_id, "status": imp.status}

    def _import_view(self, imp: Import) -> dict[str, Any]:
        out = self._import_head(imp)
        out.update(unpack(imp.report))
        return out

    def _insight_status(self, status: str) -> str:
        if self.config.insight_status_style == "docs":
            return status
        return {"NotFinished": "Processing", "Finished": "Complete"}.get(status, status)

    def _ensure_worker(self) -> None:
        """Start the worker when imports are pending and none runs (lock held)."""
        if self._worker is not None or self._stopping or not self._queue:
            return
        self._worker = threading.Thread(target=self._work, daemon=True,
                                        name=f"dotsync-emulator-imports-{id(self):x}")
        self._worker.start()

    def _work(self) -> None:
        """The worker: apply the oldest import once it is due, until none is pending."""
        with self.lock:
            try:
                while self._queue and not self._stopping:
                    head = self._queue[0]
                    wait = head.due - time.monotonic()
                    if wait > 0 and head.seq > self._forced_seq:
                        self._changed.wait(wait)
                        continue
                    self._apply_head(sliced=True)
            finally:
                self._worker = None
                self._changed.notify_all()

    def _apply_head(self, sliced: bool = False) -> None:
        """Apply the oldest pending import and take it off the queue (lock held).

        ``sliced``: give the lock up every :data:`SLICE_SECONDS` meanwhile (the worker
        does; a call applying inline must not, as its caller may rely on holding the lock).
        """
        imp = self._queue[0]
        pause = self._slicer() if sliced else _no_pause
        try:
            if self.config.tune_gc:
                # The collector would otherwise scan the contacts made here again and again.
                with paused_gc(freeze=True):
                    self._finish(imp, pause)
            else:
                self._finish(imp, pause)
        except _Abandoned:
            return  # reset: the queue this import was in is gone
        except Exception:
            if not sliced:
                raise  # inline: the calling request fails, as it always did
            # In the worker nobody would see the error and the import would never finish.
            log.exception("emulator: applying import %s failed", imp.import_id)
            imp.status, imp.report, imp.payload = "Failed", {}, None
        self._queue.popleft()
        self._changed.notify_all()

    def _slicer(self) -> Callable[[], None]:
        """A pause point for apply loops: every :data:`SLICE_SECONDS` it lets the lock go
        for a moment, so status polls and other calls are answered while a big import is
        applied; raises :class:`_Abandoned` when the state was reset meanwhile."""
        generation = self._generation
        deadline = time.perf_counter() + SLICE_SECONDS

        def pause() -> None:
            nonlocal deadline
            if time.perf_counter() < deadline:
                return
            self._changed.wait(_SLICE_GAP)  # releases the lock, whatever its depth
            if self._generation != generation:
                raise _Abandoned
            deadline = time.perf_counter() + SLICE_SECONDS

        return pause

    def _finish(self, imp: Import, pause: Callable[[], None]) -> None:
        if imp.doomed and (imp.forced or self.faults.fail_imports):
            imp.status = (self.faults.failed_import_status if imp.kind == "contacts"
                          else "Failed")
            imp.report = {}
        else:
            if imp.kind == "contacts":
                report = self._apply_contact_import(imp.payload, pause)  # type: ignore[arg-type]
            elif imp.kind == "insight":
                report = self._apply_insight_import(imp.payload, pause)  # type: ignore[arg-type]
            else:
                report = self._apply_bulk_delete(imp.payload, pause)  # type: ignore[arg-type]
            imp.report = pack(report)
            imp.status = "Finished"
        imp.payload = None

    def _apply_contact_import(self, payload: dict[str, Any],
                              pause: Callable[[], None] = _no_pause) -> dict[str, Any]:
        merge = IMPORT_MERGE_OPTIONS[payload.get("mergeOption", "overwrite")]
        summary = {"newContacts": 0, "updatedContacts": 0, "globallySuppressed": 0,
                   "invalidEntries": 0, "duplicateIdentifiers": 0}
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        records = payload["contacts"]
        for i in range(len(records)):
            pause()
            # Each record is let go once read (the payload is the import's own), so a
            # 48 MB body is freed a slice at a time rather than in one long stall at the end.
            record, records[i] = records[i], None
            match = record["matchIdentifier"]
            identifiers = dict(record.get("identifiers") or {})
            problems: list[dict[str, str]] = []

            def fail(code: str, description: str, counter: str,
                     problems: list[dict[str, str]] = problems) -> None:
                problems.append({"failureCode": code, "description": description})
                summary[counter] += 1

            # Each identifier is checked and canonicalised once (a mobile number's check
            # is the costliest step of a record) and the values are passed on.
            email = mobile = None
            if "email" in identifiers:
                email = canonical_email(identifiers["email"])
                if email is None:
                    fail("InvalidEmail", "Invalid value for 'email'", "invalidEntries")
            if "mobileNumber" in identifiers:
                mobile = canonical_mobile(identifiers["mobileNumber"])
                if mobile is None:
                    fail("InvalidPhoneNumber", "Invalid value for 'mobileNumber': must be E.164",
                         "invalidEntries")
            if not problems and identifiers.get(match) in (None, ""):
                fail("NoValidIdentifiers", f"No value for the match identifier '{match}'",
                     "invalidEntries")
            keys = self._identity_keys(identifiers, mobile)
            if not problems:
                dup = next((k for k in keys if k in seen), None)
                if dup is not None:
                    fail("Duplicate", f"Duplicate identifier detected for {dup[0]} "
                                      f"'{identifiers.get(dup[0])}'", "duplicateIdentifiers")
            seen.update(keys)
            if not problems:
                try:
                    contact, was_created, suppressed = self._upsert(
                        record, match, merge, canonical=(email, mobile))
                except ConflictError as exc:
                    # The contacts spec's import report example words an identifier
                    # another contact holds this way ("Duplicate identifier detected for
                    # email 'emma@emailsim.io'"), counted in summary.duplicateIdentifiers.
                    fail("Duplicate", f"Duplicate identifier detected for {exc.identifier} "
                                      f"'{exc.value}'", "duplicateIdentifiers")
                except KeyError:
                    fail("NoValidIdentifiers", f"No contact has contactId "
                                               f"{identifiers.get('contactId')}",
                         "invalidEntries")
                else:
                    ref = {"contactId": contact.contact_id, "identifiers": contact.identifiers()}
                    (created if was_created else updated).append(ref)
                    summary["newContacts" if was_created else "updatedContacts"] += 1
                    if suppressed:
                        summary["globallySuppressed"] += 1
                    continue
            failures.append({"matchIdentifier": match,
                             "identifiers": {k: v for k, v in identifiers.items()
                                             if k != "contactId"},
                             "failures": problems})
        return {"summary": summary, "created": created, "updated": updated,
                "failures": failures}

    @staticmethod
    def _identity_keys(identifiers: dict[str, Any],
                       mobile: str | None) -> list[tuple[str, str]]:
        """The keys that make two records of one import duplicates; ``mobile`` is the
        canonical form of ``identifiers["mobileNumber"]`` (None when absent or invalid)."""
        keys = []
        if isinstance(identifiers.get("email"), str):
            keys.append(("email", email_key(identifiers["email"])))
        if mobile:
            keys.append(("mobileNumber", mobile))
        if isinstance(identifiers.get("contactId"), int):
            keys.append(("contactId", str(identifiers["contactId"])))
        return keys

    def _apply_insight_import(self, payload: dict[str, Any],
                              pause: Callable[[], None] = _no_pause) -> dict[str, Any]:
        name = payload["collectionName"]
        scope = payload["collectionScope"]
        collection = self._collections.setdefault(
            name, {"scope": scope, "type": payload["collectionType"], "schema": {},
                   "records": {}})
        failures: list[dict[str, Any]] = []
        seen: set[str] = set()
        imported = 0
        records = payload["records"]
        for i in range(len(records)):
            pause()
            record, records[i] = records[i], None  # as in _apply_contact_import
            key = str(record["key"])
            body = record["json"]
            identity = record.get("contactIdentity")
            owner: dict[str, Any] = {"ownerType": scope}
            if scope == "contact" and identity is not None:
                owner["contactIdentity"] = {"identifier": str(identity.get("identifier")),
                                            "value": _str_or_none(identity.get("value"))}
            reason, details = None, []
            if key in seen:
                reason, details = "DuplicateKey", [f"Key '{key}' appears more than once"]
            elif contains_nested_array(body):
                reason, details = "JsonContainsNestedArray", ["Arrays may not contain arrays"]
            contact = None
            if reason is None and scope == "contact":
                contact, reason = self._insight_owner(identity)
                if reason:
                    details = ["The contact could not be found"]
            paths: dict[str, str] = {}
            if reason is None:
                paths = schema_paths(body)
                clash = _paths_clash(collection["schema"], paths)
                if clash:
                    reason, details = "JsonValueIncompatibleWithSchema", [clash]
            seen.add(key)
            if reason is not None:
                failures.append({"collectionOwner": owner, "failureReason": reason,
                                 "details": details, "key": key, "json": body})
                continue
            self._store_insight(collection, key, pack(body), contact, paths)
            imported += 1
        report: dict[str, Any] = {"summary": {"totalRecords": len(records),
                                              "totalImported": imported,
                                              "totalRejected": len(failures)}}
        if failures:
            report["failures"] = failures
        return report

    def _insight_owner(self, identity: Any) -> tuple[Contact | None, str | None]:
        if not isinstance(identity, dict):
            return None, "InvalidContactIdentifier"
        kind, value = identity.get("identifier"), identity.get("value")
        if kind == "email":
            contact = self.find("email", value) if isinstance(value, str) else None
            return contact, None if contact else "ContactEmailDoesNotExist"
        if kind == "contactId":
            contact = self.find("contactId", str(value))
            return contact, None if contact else "ContactIdDoesNotExist"
        if kind == "mobileNumber":
            contact = self.find("mobileNumber", value) if isinstance(value, str) else None
            return contact, None if contact else "InvalidContactIdentifier"
        return None, "InvalidContactIdentifier"

    def _apply_bulk_delete(self, payload: list[dict[str, Any]],
                           pause: Callable[[], None] = _no_pause) -> dict[str, Any]:
        summary = {"requestedContacts": len(payload), "deletedContacts": 0,
                   "unknownContacts": 0, "invalidEntries": 0}
        deleted: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for ident in payload:
            pause()
            (kind, value), = ident.items()
            if kind == "email" and canonical_email(value) is None:
                summary["invalidEntries"] += 1
                failures.append({"identifier": ident, "failures": [
                    {"failureCode": "invalidEmail", "description": "Invalid value for 'email'"}]})
                continue
            contact = self.find(kind, str(value))
            if contact is None:
                summary["unknownContacts"] += 1
                failures.append({"identifier": ident, "failures": [
                    {"failureCode": "contactNotFound",
                     "description": "The contact could not be found"}]})
                continue
            self._delete(contact)
            summary["deletedContacts"] += 1
            deleted.append(ident)
        return {"summary": summary, "deleted": deleted, "failures": failures}

    # ------------------------------------------------------------------ contacts
    def find(self, identifier: str, value: str) -> Contact | None:
        """The contact with ``identifier`` = ``value`` (email case-insensitive), or None."""
        with self.lock:
            cid: int | None
            if identifier == "email":
                cid = self._by_email.get(email_key(value))
            elif identifier == "mobileNumber":
                mobile = canonical_mobile(value)
                cid = self._by_mobile.get(mobile) if mobile else None
            elif identifier == "contactId":
                cid = int(value) if str(value).isdigit() else None
            else:
                cid = None
            return self._contacts.get(cid) if cid is not None else None

    def _contact_of(self, contact_id: int | None) -> Contact | None:
        return self._contacts.get(contact_id) if contact_id is not None else None

    def upsert_contact(self, body: dict[str, Any], match: str, merge: str,
                       path_value: str | None = None) -> tuple[dict[str, Any], bool]:
        """Create or update one contact (PATCH semantics). Raises :class:`ConflictError`."""
        with self.lock:
            record = copy.deepcopy(body)
            identifiers = dict(record.get("identifiers") or {})
            if path_value is not None and match != "contactId":
                identifiers.setdefault(match, path_value)
            if path_value is not None and match == "contactId":
                identifiers["contactId"] = int(path_value)
            record["identifiers"] = identifiers
            contact, created, _ = self._upsert(record, match, merge,
                                               path_value=path_value)
            return contact.to_v3(), created

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a contact, never update one (``POST /contacts/v3``): Dotdigital's spec
        says the call "will fail ... with a 409" unless every identifier is unique in
        the account. Raises :class:`ConflictError` naming the identifier taken."""
        with self.lock:
            record = copy.deepcopy(body)
            identifiers = dict(record.get("identifiers") or {})
            record["identifiers"] = identifiers
            for name in ("email", "mobileNumber"):
                if name in identifiers and self.find(name, str(identifiers[name])) is not None:
                    raise ConflictError(name, identifiers[name])
            match = "email" if "email" in identifiers else "mobileNumber"
            contact, _created, _ = self._upsert(record, match, "overwrite")
            return contact.to_v3()

    def _upsert(self, record: dict[str, Any], match: str, merge: str,
                path_value: str | None = None,
                canonical: tuple[str | None, str | None] | None = None,
                ) -> tuple[Contact, bool, bool]:
        """Create or update the contact a record matches: (contact, created, suppressed).

        ``canonical``: the record's e-mail and mobile number already checked and
        canonicalised (an import does that first), so they are not checked again; given
        only when each identifier present is valid and the match identifier has a value.
        """
        identifiers = record.get("identifiers") or {}
        if canonical is None:
            lookup = path_value if path_value is not None else identifiers.get(match)
            target = self.find(match, str(lookup)) if lookup is not None else None
            email = canonical_email(identifiers["email"]) if "email" in identifiers else None
            mobile = (canonical_mobile(identifiers["mobileNumber"])
                      if "mobileNumber" in identifiers else None)
        else:
            email, mobile = canonical
            lookup = identifiers.get(match)
            if match == "email":
                target = self._contact_of(self._by_email.get(email_key(email or "")))
            elif match == "mobileNumber":
                target = self._contact_of(self._by_mobile.get(mobile or ""))
            else:
                target = self.find(match, str(lookup)) if lookup is not None else None
        if match == "contactId" and target is None:
            raise KeyError(str(lookup))
        owners = {}
        if email is not None:
            owners["email"] = self._by_email.get(email_key(email))
        if mobile is not None:
            owners["mobileNumber"] = self._by_mobile.get(mobile)
        for name, owner in owners.items():
            if owner is None:
                continue
            if target is None or owner != target.contact_id:
                # Every identifier given must be free or already the matched contact's:
                # two contacts can never share an e-mail or a mobile number.
                raise ConflictError(name, identifiers[name])
        now = utcnow()
        created = target is None
        if target is None:
            target = Contact(self._next_contact_id, None, None, now, now)
            self._next_contact_id += 1
            self._contacts[target.contact_id] = target
        self._set_identifiers(target, email, mobile, merge, created)
        self._merge_fields(target, record.get("dataFields") or {}, merge)
        suppressed = self._apply_channels(target, record.get("channelProperties") or {},
                                          created)
        for list_id in record.get("lists") or []:
            if list_id not in target.lists:
                target.lists.append(list_id)
        consent = record.get("consentRecords")
        if consent:
            stamp = iso(now)
            for rec in consent:
                target.consent_records.append({**rec, "dateTimeCreated": stamp})
        target.updated = now
        return target, created, suppressed

    def _set_identifiers(self, contact: Contact, email: str | None, mobile: str | None,
                         merge: str, created: bool) -> None:
        if email is not None and (created or merge != "if-empty" or contact.email is None):
            if contact.email is not None:
                self._by_email.pop(email_key(contact.email), None)
            contact.email = email
            self._by_email[email_key(email)] = contact.contact_id
        if mobile is not None and (created or merge != "if-empty" or contact.mobile is None):
            if contact.mobile is not None:
                self._by_mobile.pop(contact.mobile, None)
            contact.mobile = mobile
            self._by_mobile[mobile] = contact.contact_id

    @staticmethod
    def _merge_fields(contact: Contact, fields_: dict[str, Any], merge: str) -> None:
        for name, value in fields_.items():
            current = contact.data_fields.get(name)
            if merge == "overwrite":
                if value is None:
                    contact.data_fields.pop(name, None)
                else:
                    contact.data_fields[name] = value
            elif merge == "if-not-empty":
                if value not in (None, ""):
                    contact.data_fields[name] = value
            elif current in (None, "") and value not in (None, ""):
                contact.data_fields[name] = value

    def _apply_channels(self, contact: Contact, props: dict[str, Any], created: bool) -> bool:
        """Apply channel properties; True when a suppression kept the contact unsubscribed."""
        email_props = props.get("email") or {}
        if "emailType" in email_props:
            contact.email_type = EMAIL_TYPES[email_props["emailType"]]
        if "optInType" in email_props:
            contact.opt_in_type = OPT_IN_TYPES[email_props["optInType"]]
        wanted = email_props.get("status")
        if wanted is None and created:
            wanted = "subscribed"
        suppression = (self._suppressions.get(email_key(contact.email))
                       if contact.email else None)
        resubscribe = email_props.get("resubscribeOptions")
        if (wanted == "subscribed" and isinstance(resubscribe, dict) and suppression is not None
                and suppression["reason"] == "Unsubscribed"):
            # Spec, resubscribeOptions: resubscribing an unsubscribed channel, with a
            # confirmation e-mail unless resubscribeWithNoChallenge (default true).
            del self._suppressions[email_key(contact.email or "")]
            contact.email_status = ("subscribed" if resubscribe.get(
                "resubscribeWithNoChallenge", True) else "pendingOptIn")
            suppression = None
            wanted = None
        held = False
        if suppression is not None:
            held = True
            contact.email_status = _REASON_TO_STATUS.get(suppression["reason"].lower(),
                                                         "suppressed")
        elif wanted == "subscribed":
            if contact.email_status in SUPPRESSED_EMAIL_STATUSES:
                held = True
            elif created or contact.email_status != "subscribed":
                contact.email_status = ("pendingOptIn" if contact.opt_in_type == "VerifiedDouble"
                                        else "subscribed")
        elif wanted in ("unsubscribed", "suppressed"):
            contact.email_status = wanted
            if contact.email:
                self._suppressions[email_key(contact.email)] = {
                    "email": contact.email,
                    "reason": "Unsubscribed" if wanted == "unsubscribed" else "Suppressed",
                    "dateRemoved": utcnow()}
        sms = props.get("sms") or {}
        if "status" in sms:
            contact.sms_status = sms["status"]
        return held

    def delete_contact(self, identifier: str, value: str) -> int | None:
        """Delete a contact and its insight records; its contactId, or None when absent."""
        with self.lock:
            contact = self.find(identifier, value)
            if contact is None:
                return None
            self._delete(contact)
            return contact.contact_id

    def _delete(self, contact: Contact) -> None:
        self._contacts.pop(contact.contact_id, None)
        if contact.email:
            self._by_email.pop(email_key(contact.email), None)
        if contact.mobile:
            self._by_mobile.pop(contact.mobile, None)
        for col in self._collections.values():
            for rk in _by_contact(col).pop(contact.contact_id, ()):
                col["records"].pop(rk, None)

    def list_contacts(self, since: datetime | None, after_id: int, limit: int,
                      **view: Any) -> tuple[list[dict[str, Any]], int | None]:
        """Contacts modified since ``since``, by contactId after the marker; (page, next)."""
        with self.lock:
            chosen = [c for cid, c in sorted(self._contacts.items())
                      if cid > after_id and (since is None or c.updated >= since)]
            page = chosen[:limit]
            more = len(chosen) > limit
            return ([c.to_v3(**view) for c in page],
                    page[-1].contact_id if more and page else None)

    # ------------------------------------------------------------------ insight
    def collection(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            col = self._collections.get(name)
            return copy.deepcopy({k: v for k, v in col.items()
                                  if k not in ("records", _BY_CONTACT)}) \
                if col else None

    def create_collection(self, name: str, scope: str, type: str, *,
                          limit: int) -> bool | None:
        """``POST /insightData/v3/collections/{name}``: True created, False already there,
        None when the account already has ``limit`` collections."""
        with self.lock:
            if name in self._collections:
                return False
            if len(self._collections) >= limit:
                return None
            self._collections[name] = {"scope": scope, "type": type, "schema": {},
                                       "records": {}}
            return True

    def put_insight(self, name: str, key: str, body: dict[str, Any],
                    contact: Contact | None) -> tuple[bool, str | None]:
        """Single upsert: (created, schema clash or None). The collection must exist."""
        with self.lock:
            clash = _schema_clash(self._collections[name]["schema"], body)
            if clash:
                return False, clash
            return self._put_insight(name, key, body, contact), None

    def _put_insight(self, name: str, key: str, body: dict[str, Any],
                     contact: Contact | None) -> bool:
        packed = pack(body)
        if packed is body:
            packed = copy.deepcopy(body)  # kept as is: the caller's dict must not alias it
        return self._store_insight(self._collections[name], key, packed, contact,
                                   schema_paths(body))

    @staticmethod
    def _store_insight(col: dict[str, Any], key: str, packed: Packed, contact: Contact | None,
                       paths: dict[str, str]) -> bool:
        """Store one record (its JSON already packed); True when it is new.

        A record is a tuple (key, packed JSON, contactId, email, created, updated): a
        tuple of plain values takes a fraction of a dict's memory and the garbage
        collector stops scanning it; :func:`_record_view` turns it back into the dict the
        inspection API has always returned.
        """
        for path, kind in paths.items():
            col["schema"].setdefault(path, kind)
        rk = (contact.contact_id if contact else None, key)
        now = utcnow()
        existing = col["records"].get(rk)
        index = col.get(_BY_CONTACT)
        if index is not None and existing is None and contact is not None:
            index.setdefault(contact.contact_id, set()).add(rk)
        col["records"][rk] = (key, packed, contact.contact_id if contact else None,
                              contact.email if contact else None,
                              existing[4] if existing else now, now)
        return existing is None

    def insight_record(self, name: str, contact_id: int | None,
                       key: str) -> dict[str, Any] | None:
        """One record of a collection (a copy, as in :meth:`insight`), or None."""
        with self.lock:
            col = self._collections.get(name)
            record = col["records"].get((contact_id, key)) if col else None
            return _record_view(record) if record is not None else None

    def list_insight(self, name: str, since: datetime | None, after: tuple[int, str] | None,
                     limit: int) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
        """``GET /insightData/v3/contacts/{collectionName}``: records modified at or after
        ``since``, ascending by (contactId, key) after the marker; (page, next marker)."""
        with self.lock:
            col = self._collections.get(name)
            if col is None:
                return [], None
            chosen = sorted((r for r in col["records"].values()
                             if since is None or r[5] >= since),
                            key=lambda r: (r[2] or 0, str(r[0])))
            if after is not None:
                chosen = [r for r in chosen if (r[2] or 0, str(r[0])) > after]
            page = chosen[:limit]
            more = len(chosen) > limit
            out = []
            for r in page:
                view = _record_view(r)
                out.append({"key": view["key"], "json": view["json"],
                            "created": view["created"], "updated": view["updated"],
                            "ownerContactId": view["contactId"]})
            return out, ((page[-1][2] or 0, str(page[-1][0])) if more and page else None)

    def delete_records(self, name: str, keys: list[str], contact_id: int | None
                       ) -> tuple[list[str], list[str]]:
        """The delete-records calls: remove the records ``keys`` of one owner (None: an
        account-scoped collection); (deleted keys, keys not found)."""
        with self.lock:
            col = self._collections[name]
            index = col.get(_BY_CONTACT)
            deleted: list[str] = []
            missing: list[str] = []
            for key in keys:
                rk = (contact_id, key)
                if col["records"].pop(rk, None) is None:
                    missing.append(key)
                    continue
                deleted.append(key)
                if index is not None and contact_id is not None:
                    index.get(contact_id, set()).discard(rk)
            return deleted, missing

    # -- changes made "in Dotdigital" by someone else (tests of reconciliation) ----------
    def delete_insight(self, name: str, key: str) -> bool:
        """Remove one record of a collection, whoever owns it; True when it was there."""
        with self.lock:
            col = self._collections.get(name)
            if col is None:
                return False
            gone = [rk for rk in col["records"] if rk[1] == key]
            index = col.get(_BY_CONTACT)
            for rk in gone:
                col["records"].pop(rk, None)
                if index is not None:
                    index.get(rk[0], set()).discard(rk)
            return bool(gone)

    def alter_insight(self, name: str, key: str, changes: dict[str, Any]) -> bool:
        """Change fields of a record's JSON (its ``updated`` moves, as an edit in
        Dotdigital's UI or by another integration would); True when it was there."""
        with self.lock:
            col = self._collections.get(name)
            if col is None:
                return False
            for rk, r in list(col["records"].items()):
                if rk[1] == key:
                    body = {**unpack(r[1]), **changes}
                    col["records"][rk] = (r[0], pack(body), r[2], r[3], r[4], utcnow())
                    return True
            return False

    def alter_contact(self, email: str, data_fields: dict[str, Any]) -> bool:
        """Overwrite data fields of a contact (its ``updated`` moves); True when found."""
        with self.lock:
            contact = self.find("email", email)
            if contact is None:
                return False
            contact.data_fields.update(data_fields)
            contact.updated = utcnow()
            return True

    def collections_summary(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"collectionName": n, "collectionType": c["type"],
                     "collectionScope": c["scope"], "recordCount": len(c["records"])}
                    for n, c in sorted(self._collections.items())]

    # ------------------------------------------------------------------ campaigns, sends
    def campaign(self, campaign_id: int) -> dict[str, Any] | None:
        with self.lock:
            c = self._campaigns.get(campaign_id)
            return copy.deepcopy(c) if c else None

    def campaign_page(self, skip: int, select: int) -> list[dict[str, Any]]:
        with self.lock:
            items = [self._campaigns[k] for k in sorted(self._campaigns)][skip:skip + select]
            return [{**copy.deepcopy(c), "htmlContent": None, "plainTextContent": None}
                    for c in items]

    def suppression(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            s = self._suppressions.get(email_key(email))
            return dict(s) if s else None

    def record_send(self, send: dict[str, Any]) -> None:
        with self.lock:
            self._sends.append({**copy.deepcopy(send), "seq": len(self._sends) + 1,
                                "time": iso(utcnow())})

    def suppressed_since(self, since: datetime, only_unsubscribed: bool, skip: int,
                         select: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = sorted((s for s in self._suppressions.values()
                           if s["dateRemoved"] >= since
                           and (not only_unsubscribed or s["reason"] == "Unsubscribed")),
                          key=lambda s: (s["dateRemoved"], email_key(s["email"])))
            out = []
            for s in rows[skip:skip + select]:
                contact = self.find("email", s["email"])
                shown = contact.to_v2() if contact else {
                    "id": 0, "email": s["email"], "optInType": "Unknown", "emailType": "Html",
                    "dataFields": None, "status": s["reason"]}
                out.append({"suppressedContact": shown, "dateRemoved": iso(s["dateRemoved"]),
                            "reason": s["reason"]})
            return out

    # ------------------------------------------------------------------ calls, rate limit
    def start_call(self, method: str, path: str, query: str) -> dict[str, Any]:
        with self.lock:
            entry = {"seq": len(self._calls) + 1, "method": method, "path": path,
                     "query": query, "status": None, "time": time.time(), "duration": None,
                     "fault": None}
            self._calls.append(entry)
            return entry

    def finish_call(self, entry: dict[str, Any], status: int | None, fault: str | None,
                    started: float) -> None:
        with self.lock:
            entry["status"] = status
            entry["fault"] = fault
            entry["duration"] = round(time.monotonic() - started, 6)

    def take_rate_slot(self, counted: bool) -> tuple[bool, int, int, int]:
        """Count a call in the current window: (allowed, limit, remaining, reset epoch)."""
        limit = self.config.rate_limit_per_minute or 0
        window = self.config.rate_limit_window
        with self.lock:
            now = time.time()
            if self._window_start is None or now >= self._window_start + window:
                self._window_start, self._window_count = now, 0
            allowed = True
            if counted:
                if self._window_count >= limit:
                    allowed = False
                else:
                    self._window_count += 1
            reset = int(self._window_start + window + 0.999)
            return allowed, limit, max(limit - self._window_count, 0), reset

    def pick_fault(self, method: str, path: str) -> tuple[str | None, int]:
        """Decide this call's fault: (kind or None, status for ``error``)."""
        with self.lock:
            f = self.faults
            for i, shot in enumerate(f.script):
                if (shot.get("path") is None or path.startswith(shot["path"])) and \
                        (shot.get("method") is None or shot["method"].upper() == method):
                    del f.script[i]
                    return shot["kind"], int(shot.get("status", f.error_status))
            if f.paths is not None and not any(path.startswith(p) for p in f.paths):
                return None, 0
            roll = self.rng.random()
            if roll < f.error_rate:
                return "error", f.error_status
            roll -= f.error_rate
            if roll < f.drop_rate:
                return "drop_before", 0
            roll -= f.drop_rate
            if roll < f.drop_after_rate:
                return "drop_after", 0
            return None, 0

    def latency(self) -> float:
        with self.lock:
            f = self.faults
            extra = self.rng.uniform(0, f.latency_jitter) if f.latency_jitter else 0.0
            return f.latency + extra

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change faults at run time (all or nothing); ``random_seed`` re-seeds the RNG."""
        with self.lock:
            if "random_seed" in changes:
                self.rng.seed(changes.pop("random_seed"))
            self.faults.update(**changes)
            return self.faults.as_dict()

    # ------------------------------------------------------------------ inspection
    def contacts(self) -> list[dict[str, Any]]:
        """Every contact in v3 form (channel properties, lists and all data fields)."""
        with self.lock:
            return [c.to_v3() for _, c in sorted(self._contacts.items())]

    def contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            c = self.find("email", email)
            return c.to_v3() if c else None

    def insight(self) -> dict[str, Any]:
        """{collection: {scope, type, records: [{key, json, contactId, email, …}]}}."""
        with self.lock:
            return {name: {"scope": c["scope"], "type": c["type"],
                           "records": [_record_view(r) for r in c["records"].values()]}
                    for name, c in self._collections.items()}

    def insight_records(self, collection: str) -> list[dict[str, Any]]:
        return self.insight().get(collection, {}).get("records", [])

    def sends(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._sends)

    def calls_since(self, epoch: float) -> int:
        """How many API calls arrived at or after ``epoch`` (for ``ApiCallsInLastHour``)."""
        with self.lock:
            return sum(1 for c in reversed(self._calls) if c["time"] >= epoch)

    def calls(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self._calls)

    def imports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"kind": i.kind, "id": i.import_id, "submitted": iso(i.submitted),
                     **self._import_view(i)} for i in self._imports.values()]

    def suppressions(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{**s, "dateRemoved": iso(s["dateRemoved"])}
                    for s in self._suppressions.values()]

    def campaigns(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(self._campaigns[k]) for k in sorted(self._campaigns)]


#: A collection's index of record keys by contactId, built on the first contact delete.
_BY_CONTACT = "_by_contact"


def _by_contact(col: dict[str, Any]) -> dict[int | None, set[tuple[int | None, str]]]:
    """The collection's record keys by contactId.

    Deleting a contact must delete its insight records. Scanning every record for each
    delete made erasing many contacts quadratic; keeping the index from the start would
    cost the emulator hundreds of megabytes at a backfill's size, where nothing is ever
    deleted. So it is built once, on the first delete, and kept up to date after.
    """
    index = col.get(_BY_CONTACT)
    if index is None:
        index = {}
        for rk in col["records"]:
            index.setdefault(rk[0], set()).add(rk)
        col[_BY_CONTACT] = index
    return index


def _record_view(r: tuple[Any, ...]) -> dict[str, Any]:
    """A stored insight record (see :meth:`EmulatorState._store_insight`) as a fresh dict."""
    key, packed, contact_id, email, created, updated = r
    return {"key": key, "json": unpack(packed), "contactId": contact_id, "email": email,
            "created": iso(created), "updated": iso(updated)}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _schema_clash(schema: dict[str, str], body: dict[str, Any]) -> str | None:
    """A description of the first field whose type differs from the collection's, or None."""
    return _paths_clash(schema, schema_paths(body))


def _paths_clash(schema: dict[str, str], paths: dict[str, str]) -> str | None:
    """:func:`_schema_clash` for a record's :func:`schema_paths`, already worked out."""
    for path, kind in paths.items():
        known = schema.get(path)
        if known is not None and known != kind:
            return f"Field '{path}' is expected to be {known} but was {kind}"
    return None
