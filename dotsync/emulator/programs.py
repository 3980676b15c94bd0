"""Emulated programs and enrolments (``programs.yaml``).

* ``GET /v2/programs`` (``select`` 1–1000, ``skip``) and ``GET /v2/programs/{id}`` (404
  ``ERROR_PROGRAM_NOT_FOUND``); statuses ``Draft``, ``Active``, ``Deactivated``,
  ``ReadOnly``. A new account has no program: a seed's ``programs`` (or
  :meth:`ProgramBook.add_program`) creates them.
* ``POST /v2/programs/enrolments``: 201 with ``status: Processing``; 404 for an unknown
  program; 422 ``ERROR_PROGRAM_NOT_ACTIVE`` for one that is not ``Active`` (the spec's
  422 example body ``{"message": "Error: ERROR_PROGRAM_NOT_ACTIVE"}``); 400
  ``ERROR_ENROLMENT_INVALID`` without contacts or past the spec's ``maxItems: 25``; 400
  ``ERROR_CONTACT_NOT_FOUND`` when a contact id is unknown.
* Asynchronous: an enrolment is ``Processing`` until the emulator's ``import_delay`` has
  passed (or :meth:`ProgramBook.complete_all`), then ``Finished``; only then is its
  fault report available (400 ``ERROR_ENROLMENT_IS_PROCESSING`` before, as the spec
  says). Contacts that cannot receive marketing (suppressed, unsubscribed) are not
  enrolled and are listed in the report with a reason, in the spec's CSV shape
  ``Id,Email,TelephoneNumber,Reason`` (its example spells ``Unsubcribed``; the emulator
  writes the reason it has: ``Unsubscribed`` or ``Suppressed``).
* ``GET /v2/programs/enrolments/{enrolmentId}`` and ``…/{status}`` share one path in the
  spec; the emulator answers by status when the segment is one of the statuses.

Every enrolment is kept, duplicates included (:meth:`ProgramBook.enrolled`), so tests can
prove a contact was never enrolled twice.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from dotsync.emulator.state import EmulatorState

__all__ = ["PROGRAM_STATUSES", "ROUTES", "ProgramBook"]

PROGRAM_STATUSES = ("Draft", "Active", "Deactivated", "ReadOnly")
ENROLMENT_STATUSES = ("NotAvailableInThisVersion", "Processing", "Finished")
MAX_CONTACTS = 25
_REASONS = {"unsubscribed": "Unsubscribed", "suppressed": "Suppressed",
            "hardBounced": "Suppressed", "softBounced": "Suppressed",
            "ispComplained": "Suppressed", "mailBlocked": "Suppressed",
            "directComplaint": "Suppressed", "globallySuppressed": "Suppressed"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Enrolment:
    id: str
    program_id: int
    contacts: list[int]
    created: datetime
    due: float
    enrolled: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "programId": self.program_id,
                "status": "Finished" if self.finished else "Processing",
                "dateCreated": _iso(self.created), "contacts": list(self.contacts),
                "addressBooks": []}


class ProgramBook:
    """The account's programs and enrolments; guarded by the emulator state's lock."""

    def __init__(self, programs: list[dict[str, Any]] | None = None) -> None:
        self.programs: dict[int, dict[str, Any]] = {}
        self.enrolments: dict[str, Enrolment] = {}
        for program in programs or []:
            self.add_program(**program)

    def add_program(self, id: int, name: str, status: str = "Active",
                    dateCreated: str | None = None) -> None:
        if status not in PROGRAM_STATUSES:
            raise ValueError(f"program status must be one of {', '.join(PROGRAM_STATUSES)}")
        self.programs[int(id)] = {"id": int(id), "name": name, "status": status,
                                  "dateCreated": dateCreated or _iso(datetime.now(UTC))}

    def set_status(self, program_id: int, status: str) -> None:
        self.programs[int(program_id)]["status"] = status

    def complete_all(self) -> None:
        for enrolment in self.enrolments.values():
            enrolment.due = 0.0

    def enrolled(self, program_id: int) -> Counter[int]:
        """How many times each contact id was enrolled into the program."""
        out: Counter[int] = Counter()
        for enrolment in self.enrolments.values():
            if enrolment.program_id == program_id:
                out.update(enrolment.enrolled)
        return out

    def settle(self, state: EmulatorState, enrolment: Enrolment) -> None:
        """Finish an enrolment whose time has come: who is enrolled, who is a fault."""
        if enrolment.finished or time.monotonic() < enrolment.due:
            return
        for contact_id in enrolment.contacts:
            contact = state._contact_of(contact_id)
            if contact is None:  # deleted since the submission
                enrolment.faults.append({"Id": contact_id, "Email": "",
                                         "TelephoneNumber": "", "Reason": "ContactNotFound"})
                continue
            reason = _REASONS.get(contact.email_status)
            if reason is None and contact.email and state.suppression(contact.email):
                reason = "Suppressed"
            if reason is not None:
                enrolment.faults.append({"Id": contact_id, "Email": contact.email or "",
                                         "TelephoneNumber": contact.mobile or "",
                                         "Reason": reason})
            else:
                enrolment.enrolled.append(contact_id)
        enrolment.finished = True


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator  # type: ignore[no-any-return]


def _v2(status: int, code: str, text: str | None = None) -> JSONResponse:
    # Dotdigital's v2 messages end with the code ("Error: ERROR_PROGRAM_NOT_ACTIVE").
    return JSONResponse({"message": (f"{text}. " if text else "") + f"Error: {code}"},
                        status_code=status)


def _paging(request: Request) -> tuple[int, int] | Response:
    try:
        select = int(request.query_params.get("select", "1000"))
        skip = int(request.query_params.get("skip", "0"))
    except ValueError:
        return _v2(400, "ERROR_PARAMETER_INVALID")
    if not 1 <= select <= 1000 or skip < 0:
        return _v2(400, "ERROR_PARAMETER_INVALID")
    return select, skip


async def list_programs(request: Request) -> Response:
    paging = _paging(request)
    if isinstance(paging, Response):
        return paging
    select, skip = paging
    state = _state(request)
    with state.lock:
        ordered = [dict(p) for _, p in sorted(state.programs.programs.items())]
    return JSONResponse(ordered[skip:skip + select])


async def get_program(request: Request) -> Response:
    state = _state(request)
    try:
        program_id = int(request.path_params["id"])
    except ValueError:
        return _v2(400, "ERROR_PARAMETER_INVALID")
    with state.lock:
        program = state.programs.programs.get(program_id)
        return JSONResponse(dict(program)) if program else _v2(404, "ERROR_PROGRAM_NOT_FOUND")


async def create_enrolment(request: Request) -> Response:
    from dotsync.emulator.app import read_json

    state = _state(request)
    body = await read_json(request)
    if not isinstance(body, dict) or type(body.get("programId")) is not int:
        return _v2(400, "ERROR_PARAMETER_INVALID", "programId is required")
    contacts = body.get("contacts") or []
    books = body.get("addressBooks") or []
    if not isinstance(contacts, list) or any(type(c) is not int for c in contacts):
        return _v2(400, "ERROR_PARAMETER_INVALID", "contacts must be contact ids")
    if books:
        return _v2(400, "ERROR_PARAMETER_INVALID", "the emulator enrols contacts only")
    if not contacts or len(contacts) > MAX_CONTACTS:
        return _v2(400, "ERROR_ENROLMENT_INVALID",
                   f"1 to {MAX_CONTACTS} contacts per enrolment")
    with state.lock:
        program = state.programs.programs.get(body["programId"])
        if program is None:
            return _v2(404, "ERROR_PROGRAM_NOT_FOUND")
        if program["status"] != "Active":
            return _v2(422, "ERROR_PROGRAM_NOT_ACTIVE")
        if any(state._contact_of(c) is None for c in contacts):
            return _v2(400, "ERROR_CONTACT_NOT_FOUND")
        enrolment = Enrolment(id=str(uuid.uuid4()), program_id=program["id"],
                              contacts=list(contacts), created=datetime.now(UTC),
                              due=time.monotonic() + state.config.import_delay)
        state.programs.enrolments[enrolment.id] = enrolment
        state.programs.settle(state, enrolment)
        return JSONResponse(enrolment.view(), status_code=201)


async def get_enrolments(request: Request) -> Response:
    """One path, two operations: by id (``getProgramEnrolmentById``) or by status."""
    state = _state(request)
    segment = request.path_params["enrolmentId"]
    with state.lock:
        book = state.programs
        for each in book.enrolments.values():
            book.settle(state, each)
        if segment in ENROLMENT_STATUSES:
            paging = _paging(request)
            if isinstance(paging, Response):
                return paging
            select, skip = paging
            chosen = [e.view() for e in book.enrolments.values()
                      if e.view()["status"] == segment]
            return JSONResponse(chosen[skip:skip + select])
        enrolment = book.enrolments.get(segment)
        if enrolment is None:
            return _v2(404, "ERROR_ENROLMENT_NOT_FOUND")
        return JSONResponse(enrolment.view())


async def enrolment_faults(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        enrolment = state.programs.enrolments.get(request.path_params["id"])
        if enrolment is None:
            return _v2(404, "ERROR_ENROLMENT_NOT_FOUND")
        state.programs.settle(state, enrolment)
        if not enrolment.finished:
            return _v2(400, "ERROR_ENROLMENT_IS_PROCESSING")
        out = io.StringIO()
        writer = csv.DictWriter(out, ["Id", "Email", "TelephoneNumber", "Reason"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(enrolment.faults)
    return Response(out.getvalue(), media_type="text/csv")


async def inspect_programs(request: Request) -> Response:
    """``/_emulator/programs``: programs and every enrolment with its outcome."""
    state = _state(request)
    with state.lock:
        book = state.programs
        return JSONResponse({
            "programs": list(book.programs.values()),
            "enrolments": [{**e.view(), "enrolled": e.enrolled, "faults": e.faults}
                           for e in book.enrolments.values()]})


ROUTES = [
    Route("/v2/programs", list_programs, methods=["GET"]),
    Route("/v2/programs/enrolments", create_enrolment, methods=["POST"]),
    Route("/v2/programs/enrolments/{id}/report-faults", enrolment_faults, methods=["GET"]),
    Route("/v2/programs/enrolments/{enrolmentId}", get_enrolments, methods=["GET"]),
    Route("/v2/programs/{id}", get_program, methods=["GET"]),
    Route("/_emulator/programs", inspect_programs, methods=["GET"]),
]
