"""Reading enrolments back: each one's fault report, once Dotdigital finished it.

An enrolment is processed asynchronously (``Processing``, then ``Finished``); its fault
report answers ``ERROR_ENROLMENT_IS_PROCESSING`` until then, and afterwards lists the
contacts it did not enrol (``programs.yaml``). So a run reads back the enrolments of
earlier runs (:func:`unfinished`), one call each, up to ``Options.calls_in_flight`` at
once, and settles each contact ``synced`` (enrolled) or ``rejected`` with the report's
reason; one still processing is left to the next run, never waited for (the run's time
is the schedule's). The carts step fetches the reports on a background thread
(:class:`Reading`) while its changed carts' import runs, and settles them afterwards:
only the calls run there, every ledger write stays on the step's thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.models import EnrolmentFault
from dotsync.store import attempts, schema
from dotsync.sync.steps.calls import Answer, call_all
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.enrolments import PROCESSING
from dotsync.sync.steps.records import describe

#: Dotdigital's answer for a fault report asked before the enrolment finished.
STILL_PROCESSING = "ERROR_ENROLMENT_IS_PROCESSING"
#: Enrolments read back, then written to the ledger, at a time.
READ_BACK_PART = 500

#: (enrolment id, {contact id: ledger keys enrolled by it}).
Made = tuple[str, dict[int, list[str]]]
Faults = list[EnrolmentFault]


def unfinished(ctx: RunContext, entity: str) -> list[Made]:
    """Enrolments earlier runs made whose outcome was not read back yet."""
    t = schema.ledger
    out: dict[str, dict[int, list[str]]] = {}
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.key, t.c.detail).where(
            t.c.entity == entity, t.c.state == "synced", t.c.error_code == PROCESSING))
        for key, detail in rows:
            try:
                data = json.loads(detail or "{}")
            except ValueError:
                continue
            if data.get("enrolment") and data.get("contact") is not None:
                out.setdefault(str(data["enrolment"]), {}).setdefault(
                    int(data["contact"]), []).append(str(key))
    return list(out.items())


def fetch(ctx: RunContext, made: Sequence[Made]) -> list[Answer[Faults]]:
    """Each enrolment's fault report (or the error reading it), in ``made``'s order."""
    return call_all(max(1, ctx.options.calls_in_flight),
                    lambda m: ctx.api.get_enrolment_faults(m[0]), made)


def settle(ctx: RunContext, entity: str, made: Sequence[Made],
           answers: Sequence[Answer[Faults]]) -> None:
    """Write what the fault reports say, a part at a time; then raise the first error
    that must stop the run (refused credentials, or anything unexpected)."""
    stop: Exception | None = None
    for start in range(0, len(made), READ_BACK_PART):
        rows: list[dict[str, Any]] = []
        for (enrolment_id, keys), answer in zip(made[start:start + READ_BACK_PART],
                                                answers[start:start + READ_BACK_PART],
                                                strict=True):
            exc = answer.error
            if exc is None:
                rows += _read_back_rows(ctx, entity, enrolment_id, keys,
                                        {f.contact_id: f.reason for f in answer.value or ()})
            elif isinstance(exc, dd.AuthenticationError) or not isinstance(
                    exc, dd.DotdigitalError):
                stop = stop or exc
            elif exc.error_code != STILL_PROCESSING:
                ctx.report.notes.append(f"enrolment {enrolment_id}: read back later "
                                        f"({describe(exc)})")
        if rows:  # the part's outcomes in one write
            ctx.ledger.record(entity, rows, run_id=ctx.run_id, attempt=attempts.ENROLMENT_READ)
    if stop is not None:
        raise stop


def read_back(ctx: RunContext, entity: str, made: Sequence[Made]) -> None:
    """Fetch and settle the fault reports of ``made``, a part at a time."""
    for start in range(0, len(made), READ_BACK_PART):
        part = made[start:start + READ_BACK_PART]
        settle(ctx, entity, part, fetch(ctx, part))


class Reading:
    """The fault reports of earlier enrolments, fetched on a background thread while
    the step does something else; :meth:`settle` waits for them and writes them."""

    def __init__(self, ctx: RunContext, entity: str) -> None:
        self.ctx = ctx
        self.entity = entity
        self.made = unfinished(ctx, entity)
        self._pool: ThreadPoolExecutor | None = None
        self._answers: Future[list[Answer[Faults]]] | None = None
        if self.made:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="dotsync-read-back")
            self._answers = self._pool.submit(fetch, ctx, self.made)

    def settle(self) -> None:
        """Wait for the reports and settle them (once; later calls do nothing)."""
        if self._answers is None:
            return
        answers, self._answers = self._answers, None
        try:
            settle(self.ctx, self.entity, self.made, answers.result())
        finally:
            self.close()

    def close(self) -> None:
        """Stop waiting: the thread finishes its calls; nothing is written (the next
        run reads those enrolments back)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _read_back_rows(ctx: RunContext, entity: str, enrolment_id: str,
                    keys: Mapping[int, list[str]], faults: Mapping[int | None, str]
                    ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for contact_id, contact_keys in keys.items():
        reason = faults.get(contact_id)
        for key in contact_keys:
            if reason is None:
                rows.append({"key": key, "state": "synced", "error_code": None,
                             "error_message": None})
            else:
                message = (f"enrolment {enrolment_id}: Dotdigital did not enrol the contact"
                           f" ({reason})")
                rows.append({"key": key, "state": "rejected", "error_code": "enrolment_fault",
                             "error_message": message})
                ctx.report.problem(entity, key, "rejected", message, code="enrolment_fault")
    return rows
