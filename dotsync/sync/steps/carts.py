"""The carts step: staged carts as ``CartInsight`` records, idle carts enrolled.

Per chunk of changed carts: validated (rejects named per cart and field); a cart
with lines whose contact may receive marketing becomes a ``CartInsight`` record
(contact scope, collection type ``cartInsight``; a bulk import creates the collection
on a new account) with its phase, ``ORDER_PENDING`` until the cart converted, then
``ORDER_COMPLETE``. Empty carts and carts of contacts without consent are never sent,
and the step never creates a contact: a cart whose contact is not in Dotdigital yet
waits for the contacts step. Then each cart's enrolment is decided
(:func:`~dotsync.sync.carts_plan.plan_enrolments`): enrolled now
(:mod:`.enrolments`, exactly once), waiting (until idle, or the contact's re-enrolment
window is over: the ``due`` moment kept in the ledger, so the cart is found again
without changing) or never. After the chunks, the carts whose moment came are read
back from the store and decided again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from dotsync.dotdigital.bulk import chunk_insight_records
from dotsync.store import attempts
from dotsync.store.status import source_hashes
from dotsync.sync import carts_plan, payloads
from dotsync.sync.carts_plan import Cart, EnrolmentDecision
from dotsync.sync.steps import cart_facts
from dotsync.sync.steps.bulk_import import Settled
from dotsync.sync.steps.cart_facts import CartFacts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.enrolment_reads import Reading
from dotsync.sync.steps.enrolments import Contact, Enrol, enrol_once
from dotsync.sync.steps.insight_import import InsightImport
from dotsync.sync.steps.outcome import Outcome
from dotsync.sync.steps.records import records

ENTITY = "carts"
ENROLMENTS = carts_plan.LEDGER_ENTITY
#: What a cart in flight keeps until its import settles it.
CART_FIELDS = ("cart_id", "customer_email", "_hash", "_payload_hash")
#: ``error_code`` of a cart that is tracked but deliberately not sent.
NOT_SENT = "not_sent"
_NOT_SENT_WHY = {carts_plan.EMPTY: "the cart is empty: not sent (no contact is created)",
                 carts_plan.NO_CONSENT: "the contact may not receive marketing: not sent"}
#: Decisions that end a cart's wait for enrolment.
_NEVER = frozenset({carts_plan.EMPTY, carts_plan.CONVERTED, carts_plan.NO_CONSENT})


class CartImport(InsightImport[dict[str, Any], None]):
    """Cart records into insight imports of the ``CartInsight`` collection."""

    record_name = "cart"
    fields = CART_FIELDS

    def pack(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(item.get(k) for k in CART_FIELDS)

    def payload(self, item: dict[str, Any]) -> Any:
        return item["_payload"]

    def chunks(self, payloads: Iterator[Any],
               on_oversize: Callable[[Any, int], None]) -> Iterable[Sequence[Any]]:
        return chunk_insight_records(carts_plan.CART_COLLECTION, payloads,
                                     type=carts_plan.CART_COLLECTION_TYPE,
                                     max_bytes=self.ctx.options.import_max_bytes,
                                     serialized=True, on_oversize=on_oversize)

    def submit(self, chunk: Sequence[Any]) -> str:
        return self.ctx.api.import_insight_data(carts_plan.CART_COLLECTION, chunk,
                                                type=carts_plan.CART_COLLECTION_TYPE)

    def settle(self, outcomes: Sequence[Settled]) -> None:
        settle_carts(self.ctx, outcomes)

    def settle_finished(self, import_id: str | None, failures: Mapping[Any, Any],
                        rows: list[dict[str, Any]]) -> list[None]:
        settle_carts(self.ctx, [
            (row, Outcome("synced", reference=import_id)
             if (reason := failures.get(str(row["cart_id"]))) is None else
             Outcome("rejected", str(reason),
                     f"Dotdigital rejected the cart record: {reason}", reference=import_id))
            for row in rows])
        self.ctx.progress(len(rows))
        return []


def settle_carts(ctx: RunContext, outcomes: Sequence[Settled]) -> None:
    """Write carts' outcomes to the ledger and the report."""
    rows = []
    for row, outcome in outcomes:
        entry: dict[str, Any] = {"key": str(row["cart_id"]), "state": outcome.state,
                                 "error_code": outcome.code, "error_message": outcome.message,
                                 "source_hash": row["_hash"]}
        if outcome.reference is not None:
            entry["dotdigital_ref"] = outcome.reference
        if outcome.state == "synced":
            entry["payload_hash"] = row["_payload_hash"]
        else:
            ctx.report.problem(ENTITY, row["cart_id"], outcome.state,
                               outcome.message or outcome.state,
                               email=row["customer_email"], code=outcome.code)
        ctx.tally(ENTITY, outcome.state)
        rows.append(entry)
    ctx.ledger.record(ENTITY, rows, run_id=ctx.run_id, count_attempt=True,
                      attempt=attempts.INSIGHT_IMPORT)


class Carts:
    """Validates, sends and enrols one run's carts (after the contacts step)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: Dotdigital's contacts as enrolment resolved them, once a run.
        self.contacts: dict[str, Contact | None] = {}
        #: Carts decided this run (the due carts read afterwards skip them).
        self.decided: set[str] = set()
        #: Earlier enrolments' fault reports being fetched (:meth:`read_back_meanwhile`).
        self.reading: Reading | None = None

    @property
    def enrolling(self) -> bool:
        return self.ctx.settings.cart_program_id is not None and not self.ctx.options.dry_run

    def now(self) -> datetime:
        moment: datetime = self.ctx.options.now().to_pydatetime()
        return moment

    def validate(self, pending: pd.DataFrame, record: bool = True) -> pd.DataFrame:
        """The valid carts of ``pending`` (rejects and warnings recorded), ``_hash`` kept."""
        from dotsync.data_contracts.carts import validate_carts

        ctx = self.ctx
        if pending.empty:
            return pending
        staged = pending.drop(columns=["_hash"], errors="ignore")
        ids = [i for i in staged.get("customer_id", pd.Series(dtype=object)).tolist()
               if isinstance(i, str) and i.strip()]
        found = ctx.store.read_staged("customers", sorted(set(ids))) if ids else None
        emails = ({} if found is None else
                  dict(zip(found["customer_id"], found["email"], strict=True)))
        result = validate_carts(staged, strict=ctx.settings.strict_fields,
                                customer_emails=emails)
        if record:
            ctx.record_rejects(ENTITY, pending, result.rejects, "customer_email")
            ctx.record_warnings(ENTITY, pending["cart_id"].astype(str), result.warnings)
        valid = result.valid.copy()
        valid["_hash"] = (pending.loc[valid.index, "_hash"] if "_hash" in pending
                          else source_hashes(ENTITY, staged.loc[valid.index]))
        return valid

    def push(self, pending: pd.DataFrame) -> None:
        """One chunk of changed carts: validate, send, decide their enrolments."""
        valid = self.validate(pending)
        if valid.empty:
            return
        rows = records(valid)
        facts = cart_facts.gather(self.ctx, [r["customer_email"] for r in rows],
                                  [str(r["cart_id"]) for r in rows])
        sent = self.send(rows, facts)
        if self.enrolling:
            self.decide(rows, facts, sent)

    def send(self, rows: list[dict[str, Any]], facts: CartFacts) -> set[str]:
        """CartInsight records of the carts that want one; returns the carts whose
        record Dotdigital holds (sent now, or unchanged since)."""
        ctx = self.ctx
        skipped: list[tuple[str, str]] = []
        quiet: list[dict[str, Any]] = []
        wanted: list[dict[str, Any]] = []
        for row in rows:
            cart = carts_plan.cart_from_row(row)
            if not carts_plan.wants_insight(cart, facts.marketable.get(cart.email, False)):
                why = carts_plan.EMPTY if cart.empty else carts_plan.NO_CONSENT
                skipped.append((cart.cart_id, why))
                quiet.append({"key": cart.cart_id, "state": "synced", "error_code": NOT_SENT,
                              "error_message": _NOT_SENT_WHY[why], "source_hash": row["_hash"],
                              "payload_hash": None})
                continue
            phase = carts_plan.cart_phase(cart, facts.orders_placed)
            record = {"key": cart.cart_id,
                      "contactIdentity": {"identifier": "email", "value": cart.email},
                      "json": carts_plan.cart_record(row, phase)}
            wanted.append({**row, "customer_email": cart.email, "_payload": record,
                           "_payload_hash": payloads.payload_hash(record)})
        ctx.count_skips(ENTITY, skipped)
        if quiet and not ctx.options.dry_run:
            ctx.ledger.record(ENTITY, quiet, run_id=ctx.run_id)
        if not wanted:
            return set()
        gate = ctx.contact_gate(r["customer_email"] for r in wanted)
        waiting = [r for r in wanted if gate.get(r["customer_email"])]
        ctx.wait_for_contact(ENTITY, waiting, gate, "customer_email")
        ready = [r for r in wanted if not gate.get(r["customer_email"])]
        prior = ctx.ledger.lookup(ENTITY, [str(r["cart_id"]) for r in ready],
                                  ("state", "payload_hash"))
        unchanged = [r for r in ready if prior.get(str(r["cart_id"]))
                     == ("synced", r["_payload_hash"])]
        to_send = [r for r in ready if prior.get(str(r["cart_id"]))
                   != ("synced", r["_payload_hash"])]
        ctx.report.counts[ENTITY].unchanged += len(unchanged)
        if ctx.options.dry_run:
            ctx.report.counts[ENTITY].sent += len(to_send)
            return set()
        if unchanged:
            ctx.ledger.record(ENTITY, [{"key": str(r["cart_id"]), "state": "synced",
                                        "source_hash": r["_hash"]} for r in unchanged],
                              run_id=ctx.run_id)
        if to_send:
            CartImport(ctx).run(to_send)
        states = ctx.ledger.states(ENTITY, [str(r["cart_id"]) for r in ready])
        return {k for k, s in states.items() if s == "synced"}

    # -- enrolment ------------------------------------------------------------------

    def decide(self, rows: list[dict[str, Any]], facts: CartFacts, sent: set[str]) -> None:
        """Enrol the due carts of ``rows``; the others wait (with when) or stop waiting.
        Only a cart whose record Dotdigital holds may enrol: the journey reads it."""
        ctx = self.ctx
        program_id = ctx.settings.cart_program_id
        assert program_id is not None
        carts = [carts_plan.cart_from_row(r) for r in rows]
        self.decided.update(c.cart_id for c in carts)
        now = self.now()
        ready = {c.email: 0 for c in carts if c.cart_id in sent}
        decisions = carts_plan.plan_enrolments(
            carts, now=now, idle_minutes=ctx.settings.cart_idle_minutes,
            reenrol_hours=ctx.settings.cart_reenrol_hours, marketable=facts.marketable,
            orders_placed=facts.orders_placed, enrolled_carts=facts.enrolled_carts,
            last_enrolment=facts.last_enrolment, contact_ids=ready)
        by_id = {c.cart_id: c for c in carts}
        waits: list[dict[str, Any]] = []
        never: list[str] = []
        owed: list[Enrol] = []
        for d in decisions:
            if d.enrol:
                owed.append(Enrol(d.cart_id, d.email, program_id))
                # Due now, written before any claim: a run that dies before this cart's
                # batch is claimed leaves it for the next run's due carts to find.
                waits.append({"key": d.cart_id, "state": "pending", "error_code": "due",
                              "error_message": "idle: to be enrolled",
                              "detail": json.dumps({"due": now.isoformat()})})
            elif d.reason in _NEVER:
                never.append(d.cart_id)
            elif d.reason != carts_plan.ALREADY_ENROLLED:
                waits.append(self._wait(d, by_id[d.cart_id], now, facts))
        cart_facts.drop_waiting(ctx, never)
        if waits:
            ctx.ledger.record(ENROLMENTS, waits, run_id=ctx.run_id, protect_sent=True)
        if owed:
            enrol_once(ctx, ENROLMENTS, owed, self.contacts,
                       before_claim=lambda emails: cart_facts.mark_windows(ctx, emails, now))

    def _wait(self, d: EnrolmentDecision, cart: Cart, now: datetime,
              facts: CartFacts) -> dict[str, Any]:
        settings = self.ctx.settings
        if d.reason == carts_plan.NOT_IDLE:
            due = cart.updated_at + timedelta(minutes=settings.cart_idle_minutes)
            why = f"enrolled once idle, at {due.isoformat()}"
        elif d.reason == carts_plan.RECENTLY_ENROLLED:
            last = facts.last_enrolment.get(cart.email, now)
            due = last + timedelta(hours=settings.cart_reenrol_hours)
            why = f"the contact was enrolled by a cart at {last.isoformat()}; not before " \
                  f"{due.isoformat()}"
        else:  # its record or its contact is not in Dotdigital yet: the next run looks
            due = now
            why = "waiting for the cart's record and contact to be in Dotdigital"
        return {"key": d.cart_id, "state": "pending", "error_code": d.reason,
                "error_message": why, "detail": json.dumps({"due": due.isoformat()})}

    def read_back_meanwhile(self) -> None:
        """Start fetching the fault reports of earlier runs' enrolments on a background
        thread, so the calls overlap the changed carts' import (mostly a wait for
        Dotdigital); :meth:`enrol_due` settles them. :meth:`stop_reading` after."""
        if self.enrolling and self.reading is None:
            self.reading = Reading(self.ctx, ENROLMENTS)

    def stop_reading(self) -> None:
        """Done with the step (or it failed): the background reads end here."""
        if self.reading is not None:
            self.reading.close()
            self.reading = None

    def enrol_due(self) -> None:
        """After the chunks: settle the earlier enrolments read back, then decide the
        carts whose moment came (idle now, or their contact's window over) without
        changing."""
        if not self.enrolling:
            return
        ctx = self.ctx
        self.read_back_meanwhile()  # (started already, unless enrol_due runs alone)
        assert self.reading is not None
        self.reading.settle()
        self.reading = None
        keys = [k for k in cart_facts.due(ctx, self.now()) if k not in self.decided]
        for start in range(0, len(keys), ctx.options.confirmations_chunk):
            part = keys[start:start + ctx.options.confirmations_chunk]
            staged = ctx.store.read_staged(ENTITY, part)
            gone = sorted(set(part) - set(staged["cart_id"].astype(str)))
            cart_facts.drop_waiting(ctx, gone)  # deleted from the store
            if staged.empty:
                continue
            staged["_hash"] = source_hashes(ENTITY, staged)
            valid = self.validate(staged, record=False)
            if valid.empty:
                continue
            rows = records(valid)
            facts = cart_facts.gather(ctx, [r["customer_email"] for r in rows],
                                      [str(r["cart_id"]) for r in rows])
            states = ctx.ledger.states(ENTITY, [str(r["cart_id"]) for r in rows])
            self.decide(rows, facts, {k for k, s in states.items() if s == "synced"})

    def recheck_converted(self) -> None:
        """Carts of the contacts whose orders this run sent: an order may have converted
        a cart already sent (or enrolled), whose record must say so now so the journey
        stops, although the cart itself did not change."""
        ctx = self.ctx
        emails = sorted(e for e in ctx.ordered_emails if isinstance(e, str) and e)
        if not emails:
            return
        customers = ctx.customers_with_emails(emails)
        email_of_id = dict(zip(customers["customer_id"].astype(str),
                               customers["_email_norm"], strict=True))
        carts = cart_facts.carts_of(ctx, emails, email_of_id)
        sent = ctx.ledger.lookup(ENTITY, list(carts), ("state", "error_code"))
        open_ = [k for k, (state, code) in sent.items() if state == "synced"
                 and code != NOT_SENT]
        for start in range(0, len(open_), ctx.options.confirmations_chunk):
            staged = ctx.store.read_staged(ENTITY, open_[start:start + ctx.options
                                                         .confirmations_chunk])
            staged["_hash"] = source_hashes(ENTITY, staged)
            self.push(staged)

    def resend(self, cart_id: str) -> None:
        """Deliberately enrol a cart's contact again (``dotsync resend cart ID``): the
        way out of an enrolment left ``in_doubt``. The cart must still be one that
        enrols (not empty, not converted, its contact marketable); the re-enrolment
        window is the operator's call, so it is not applied."""
        from dotsync.sync.steps.errors import RunFailed

        ctx = self.ctx
        program_id = ctx.settings.cart_program_id
        if program_id is None:
            raise RunFailed("DOTSYNC_CART_PROGRAM_ID is not set: there is no cart program")
        staged = ctx.store.read_staged(ENTITY, [cart_id])
        if staged.empty:
            raise RunFailed(f"no staged cart {cart_id!r}")
        valid = self.validate(staged.assign(_hash=source_hashes(ENTITY, staged)),
                              record=False)
        if valid.empty:
            raise RunFailed(f"cart {cart_id!r} is invalid (dotsync trace carts {cart_id})")
        row = records(valid)[0]
        cart = carts_plan.cart_from_row(row)
        facts = cart_facts.gather(ctx, [cart.email], [cart.cart_id])
        why = (carts_plan.EMPTY if cart.empty else carts_plan.CONVERTED
               if carts_plan.is_converted(cart, facts.orders_placed) else
               carts_plan.NO_CONSENT if not facts.marketable.get(cart.email) else None)
        if why is not None:
            raise RunFailed(f"cart {cart_id!r} does not enrol: {why}")
        ctx.ledger.record(ENROLMENTS, [{
            "key": cart_id, "state": "pending", "error_code": None,
            "error_message": "resend requested", "detail": None}],
            run_id=ctx.run_id, attempt=attempts.RESEND)
        now = self.now()
        enrol_once(ctx, ENROLMENTS, [Enrol(cart_id, cart.email, program_id)], self.contacts,
                   before_claim=lambda emails: cart_facts.mark_windows(ctx, emails, now))
