"""Program enrolment, exactly once: resolve, claim, enrol, settle, read back.

Cart enrolments and order-event enrolments (``DOTSYNC_PROGRAMS``) both start a journey
that e-mails the customer, so both go this one way, as :mod:`.exactly_once` does for
triggered campaigns:

1. **resolve** each contact once a run (``GET /contacts/v3/email/{email}``): the
   enrolment call takes Dotdigital's contact ids, and the same answer says whether the
   contact may receive marketing there (e-mail status ``subscribed``); one that may
   not is never enrolled, whatever the staged consent says;
2. **claim** the batch's ledger keys (``in_doubt``, committed) before the call;
3. **enrol** at most 25 contacts a call (``programs.yaml``: ``maxItems: 25``); the
   call is of kind ``send``, so an answer lost after the request may have arrived is
   :class:`~dotsync.dotdigital.errors.SendOutcomeUnknown` and its claims stay
   ``in_doubt``: never enrolled again automatically (``dotsync resend`` does it,
   deliberately). Batches go a window at a time (``Options.calls_in_flight``, each
   call paced by the client): the window claimed, its calls made at once
   (:mod:`.calls`), each batch settled in order;
4. **settle**: ``synced`` with the enrolment id (``dotdigital_ref``) and the moment;
5. **read back** the enrolment's outcome (asynchronous: ``Processing`` then
   ``Finished``) through its fault report (``…/report-faults``), by the next run,
   once Dotdigital has had the time to process it (:mod:`.enrolment_reads`;
   ``error_code`` :data:`PROCESSING` until then): a contact Dotdigital did not enrol
   is settled ``rejected`` with the report's reason. One still processing then is
   read back by the run after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from dotsync import failpoints
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.models import ProgramEnrolment
from dotsync.masking import mask_email
from dotsync.store import attempts, schema
from dotsync.sync.carts_plan import enrolment_batches
from dotsync.sync.steps.calls import call_all
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import describe

#: ``error_code`` of an enrolment made whose outcome Dotdigital has not finished.
PROCESSING = "enrolment_processing"
#: Waiting for the contact to exist in Dotdigital (``dotsync rejects --waiting``).
NO_CONTACT = "waiting_for_contact"
#: Dotdigital says the contact may not receive marketing.
NOT_MARKETABLE = "no_marketing_consent"
#: More contacts than this to resolve in a run are found by listing the account's
#: contacts (5,000 a call) rather than one call each, when the listing is shorter.
BULK_RESOLVE = 25
#: Contacts per page of a listing (``GET /contacts/v3``: ``limit`` at most 5,000).
LISTING_PAGE = 5000
#: Contacts a listing keeps for the rest of the run beyond those it was asked for.
LISTING_KEPT = 500_000
#: "Modified since" for a listing of every contact.
EVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Enrol:
    """One enrolment owed: its ledger key, the contact and the program."""

    key: str
    email: str
    program_id: int
    source_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """What Dotdigital holds about a contact that enrolment needs."""

    contact_id: int
    marketable: bool


def resolve_contacts(ctx: RunContext, emails: Iterable[str],
                     known: dict[str, Contact | None]) -> None:
    """Fill ``known`` with each e-mail's Dotdigital contact (None: none there).

    A few are read one by one (``GET /contacts/v3/email/{email}``); more than
    :data:`BULK_RESOLVE`, when that is fewer calls, by paging through the account's
    contacts (``GET /contacts/v3``, 5,000 a call, stopping once every one is found):
    100,000 contacts cost 20 calls instead of 100,000."""
    missing = [e for e in dict.fromkeys(emails) if e not in known]
    if len(missing) > BULK_RESOLVE and len(missing) > _listing_calls(ctx):
        wanted = set(missing)
        for found in ctx.api.contacts_modified_since(EVER, limit=LISTING_PAGE):
            email = str((found.get("identifiers") or {}).get("email") or "").strip().lower()
            if email in wanted or len(known) < LISTING_KEPT:
                # Kept for the run's later batches too: one listing, not one per batch.
                known[email] = _contact(found)
            wanted.discard(email)
            if not wanted and len(known) >= LISTING_KEPT:
                break  # (below the cap the listing goes on: later batches need it)
        for email in wanted:
            known[email] = None
        return
    for email in missing:
        try:
            known[email] = _contact(ctx.api.get_contact("email", email))
        except dd.NotFoundError:
            known[email] = None


def _listing_calls(ctx: RunContext) -> int:
    """The calls a listing of the account's contacts takes, as far as the ledger knows
    them (one indexed count)."""
    t = schema.ledger
    with ctx.store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.entity == "contacts", t.c.state == "synced")).scalar_one()
    return int(n) // LISTING_PAGE + 1


def _contact(found: Mapping[str, Any]) -> Contact | None:
    raw = str(found.get("contactId") or "")
    channels = found.get("channelProperties") or {}
    status = (channels.get("email") or {}).get("status")
    return Contact(int(raw), status == "subscribed") if raw.isdigit() else None


def enrol_once(ctx: RunContext, entity: str, owed: Sequence[Enrol],
               contacts: dict[str, Contact | None] | None = None,
               before_claim: Callable[[list[str]], None] | None = None) -> list[str]:
    """Enrol each ``owed`` contact once per key; returns the keys enrolled this run.

    Batches of 25 contacts go ``Options.calls_in_flight`` at a time (a window): the
    window's keys claimed (committed) first, its calls made at once, then each batch
    settled in order. ``before_claim`` is handed each window's e-mails just before the
    window is claimed. The outcomes are not polled now: Dotdigital processes an
    enrolment asynchronously, so the next run reads them back (:mod:`.enrolment_reads`),
    one fault-report read each, once they are finished."""
    known = {} if contacts is None else contacts
    resolve_contacts(ctx, (o.email for o in owed), known)
    waiting, refused, ready = [], [], []
    for item in owed:
        contact = known.get(item.email)
        if contact is None:
            waiting.append(item)
        elif not contact.marketable:
            refused.append(item)
        else:
            ready.append(item)
    _record(ctx, entity, waiting, "pending", NO_CONTACT,
            "contact {email} is not in Dotdigital yet; enrolled once it is")
    _record(ctx, entity, refused, "rejected", NOT_MARKETABLE,
            "contact {email} may not receive marketing in Dotdigital; not enrolled")
    batches: list[tuple[int, list[Enrol]]] = []
    by_program: dict[int, list[Enrol]] = {}
    for item in ready:
        by_program.setdefault(item.program_id, []).append(item)
    for program_id, items in by_program.items():
        by_contact: dict[int, list[Enrol]] = {}
        for item in items:
            by_contact.setdefault(_id(known, item.email), []).append(item)
        batches += [(program_id, [i for cid in batch for i in by_contact[cid]])
                    for batch in enrolment_batches(by_contact)]
    width = max(1, ctx.options.calls_in_flight)
    done: list[str] = []
    for start in range(0, len(batches), width):
        done += _enrol_window(ctx, entity, batches[start:start + width], known, before_claim)
    return done


def _enrol_window(ctx: RunContext, entity: str, window: Sequence[tuple[int, list[Enrol]]],
                  known: Mapping[str, Contact | None],
                  before_claim: Callable[[list[str]], None] | None) -> list[str]:
    """Claim the window's batches, make their calls at once, settle each in order.

    A run killed between the claim and a settle leaves those claims in doubt (never
    repeated automatically), as one batch at a time would: at most a window of them."""
    if before_claim is not None:
        before_claim(list(dict.fromkeys(i.email for _, items in window for i in items)))
    keys = [i.key for _, items in window for i in items]
    claimed = ctx.ledger.claim(entity, keys, run_id=ctx.run_id)
    ctx.report.counts[entity].skipped += len(keys) - len(claimed)
    calls: list[tuple[int, list[Enrol]]] = []
    for program_id, items in window:
        failpoints.hit("after_enrol_claim")
        mine = [i for i in items if i.key in claimed]
        if mine:
            calls.append((program_id, mine))

    def enrol(call: tuple[int, list[Enrol]]) -> ProgramEnrolment:
        program_id, batch = call
        ids = list(dict.fromkeys(_id(known, i.email) for i in batch))
        return ctx.api.enrol_contacts(program_id, ids)

    done: list[str] = []
    stop: Exception | None = None
    for (program_id, batch), answer in zip(calls, call_all(ctx.options.calls_in_flight,
                                                           enrol, calls), strict=True):
        if answer.error is not None:
            failure = _settle_failure(ctx, entity, program_id, batch, answer.error)
            stop = stop or failure
            continue
        enrolment = answer.value
        assert enrolment is not None
        failpoints.hit("after_enrol")
        settle(ctx, entity, batch, Outcome("synced", PROCESSING,
                                           f"enrolment {enrolment.id} into program "
                                           f"{program_id} submitted; its outcome is read back",
                                           reference=enrolment.id),
               detail={"program": program_id, "enrolment": enrolment.id,
                       "status": enrolment.status or "Processing"},
               contacts=known)
        done += [i.key for i in batch]
    if stop is not None:
        raise stop
    return done


def _id(known: Mapping[str, Contact | None], email: str) -> int:
    contact = known[email]
    assert contact is not None
    return contact.contact_id


def _settle_failure(ctx: RunContext, entity: str, program_id: int, batch: list[Enrol],
                    exc: Exception) -> Exception | None:
    """Settle a batch whose call failed; returns the exception that must stop the run
    (refused credentials, or anything unexpected, whose claims stay in doubt)."""
    if isinstance(exc, dd.SendOutcomeUnknown):
        settle(ctx, entity, batch, Outcome(
            "in_doubt", "SendOutcomeUnknown",
            "the connection dropped after the enrolment was sent; the contact may or may "
            f"not be enrolled ({describe(exc)}); never repeated automatically"))
        return None
    if isinstance(exc, dd.AuthenticationError):
        settle(ctx, entity, batch, Outcome(
            "failed", "AuthenticationError", "credentials refused; nobody was enrolled"))
        return exc
    if isinstance(exc, dd.DotdigitalError):
        settle(ctx, entity, batch, Outcome(
            "failed" if exc.transient else "rejected",
            exc.error_code or type(exc).__name__,
            f"program {program_id}: {describe(exc)}"))
        return None
    return exc  # anything else leaves the claims in doubt, which is what we want


def settle(ctx: RunContext, entity: str, batch: Sequence[Enrol], outcome: Outcome, *,
           detail: Mapping[str, Any] | None = None,
           contacts: Mapping[str, Contact | None] | None = None) -> None:
    """Write one outcome for each enrolment of ``batch`` to the ledger and the report.

    ``sent_at`` (also of one in doubt: when it may have been made) is the run's clock,
    the one the re-enrolment window is measured on."""
    now = ctx.options.now().to_pydatetime()
    rows = []
    for item in batch:
        row: dict[str, Any] = {"key": item.key, "state": outcome.state,
                               "error_code": outcome.code, "error_message": outcome.message}
        if outcome.reference is not None:
            row["dotdigital_ref"] = f"enrolment {outcome.reference}"
        if item.source_hash is not None:
            row["source_hash"] = item.source_hash
        if detail is not None:
            contact = (contacts or {}).get(item.email)
            row["detail"] = json.dumps({**detail, "contact": contact.contact_id
                                        if contact else None}, sort_keys=True)
        if outcome.final:
            ctx.settled.setdefault(entity, set()).add(item.key)
        if outcome.state in ("synced", "in_doubt"):
            row["sent_at"] = now
        if outcome.state != "synced":
            ctx.report.problem(entity, item.key, outcome.state, outcome.message or "",
                               email=item.email, code=outcome.code)
        ctx.tally(entity, outcome.state)
        rows.append(row)
    ctx.ledger.record(entity, rows, run_id=ctx.run_id, attempt=attempts.ENROLMENT)


def _record(ctx: RunContext, entity: str, items: Sequence[Enrol], state: str, code: str,
            message: str) -> None:
    """Enrolments not made, with why (never over a record sent or in doubt)."""
    if not items:
        return
    ctx.count_skips(entity, [(i.key, code) for i in items])
    ctx.ledger.record(entity, [
        {"key": i.key, "state": state, "error_code": code,
         "error_message": message.format(email=mask_email(i.email)),
         **({"source_hash": i.source_hash} if i.source_hash else {})}
        for i in items], run_id=ctx.run_id, protect_sent=True)
