"""Programs and enrolments (v2, ``programs.yaml``): the abandoned-cart journey and
programs started by order events.

An enrolment is asynchronous: ``POST /v2/programs/enrolments`` answers 201 with an id
and ``status: Processing``; ``GET /v2/programs/enrolments/{id}`` reads it until
``Finished``; then ``GET …/{id}/report-faults`` lists, as CSV, the contacts that were
not enrolled and why. A program that is not ``Active`` answers 422
``ERROR_PROGRAM_NOT_ACTIVE`` (a :class:`~.errors.ValidationError` with that
``error_code``).

Submitting an enrolment is sent as kind ``send``: a repeat would start the journey
again for every contact in it (a second cart e-mail), so an answer lost after the
request may have arrived raises :class:`~.errors.SendOutcomeUnknown`, for the caller's
in-doubt rule, instead of being retried.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from dotsync.dotdigital.errors import DotdigitalError
from dotsync.dotdigital.models import EnrolmentFault, Program, ProgramEnrolment
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.retry import SEND
from dotsync.dotdigital.wire import seg

__all__ = ["MAX_ENROLMENT_CONTACTS", "ProgramOperations"]

#: ``programs.yaml``: ``contacts`` ``maxItems: 25``, ``minItems: 1``.
MAX_ENROLMENT_CONTACTS = 25


class ProgramOperations(Resource):
    """Programs and enrolments; mixed into ``DotdigitalClient``."""

    def list_programs(self, *, page_size: int = 1000) -> list[Program]:
        """``GET /v2/programs``, every page."""
        return [Program.from_json(item)
                for item in self._v2_pages("list_programs", "/v2/programs", page_size)]

    def get_program(self, program_id: int) -> Program:
        """``GET /v2/programs/{id}``; :class:`~.errors.NotFoundError` when absent."""
        response = self._call("get_program", "GET", f"/v2/programs/{seg(int(program_id))}")
        return Program.from_json(self._json(response, "get_program"))

    def enrol_contacts(self, program_id: int, contact_ids: Sequence[int]) -> ProgramEnrolment:
        """Enrol 1 to 25 contacts (Dotdigital contact ids) into a program."""
        ids = [int(i) for i in contact_ids]
        if not 1 <= len(ids) <= MAX_ENROLMENT_CONTACTS:
            raise ValueError(f"an enrolment takes 1 to {MAX_ENROLMENT_CONTACTS} contact ids,"
                             f" got {len(ids)}")
        response = self._call("enrol_contacts", "POST", "/v2/programs/enrolments",
                              body={"programId": int(program_id), "contacts": ids}, kind=SEND)
        enrolment = ProgramEnrolment.from_json(self._json(response, "enrol_contacts"))
        if not enrolment.id:
            raise DotdigitalError("enrol_contacts: Dotdigital accepted the enrolment but "
                                  "returned no id", status=response.status_code,
                                  operation="enrol_contacts")
        return enrolment

    def get_enrolment(self, enrolment_id: str) -> ProgramEnrolment:
        """``GET /v2/programs/enrolments/{enrolmentId}``."""
        response = self._call("get_enrolment", "GET",
                              f"/v2/programs/enrolments/{seg(enrolment_id)}")
        return ProgramEnrolment.from_json(self._json(response, "get_enrolment"))

    def get_enrolment_faults(self, enrolment_id: str) -> list[EnrolmentFault]:
        """``GET /v2/programs/enrolments/{id}/report-faults`` (CSV); 400
        ``ERROR_ENROLMENT_IS_PROCESSING`` while the enrolment is not finished."""
        response = self._call("get_enrolment_faults", "GET",
                              f"/v2/programs/enrolments/{seg(enrolment_id)}/report-faults")
        return parse_faults(response.text)


def parse_faults(text: str) -> list[EnrolmentFault]:
    """The fault report's CSV rows (header ``Id,Email,TelephoneNumber,Reason``; columns
    found by name, so an added column does not shift them)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out: list[EnrolmentFault] = []
    for row in reader:
        raw_id = (row.get("Id") or "").strip()
        out.append(EnrolmentFault(
            contact_id=int(raw_id) if raw_id.isdigit() else None,
            email=(row.get("Email") or "").strip() or None,
            reason=(row.get("Reason") or "").strip()))
    return out
