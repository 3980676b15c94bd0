"""The enrolment fault report (``programs.yaml``: CSV ``Id,Email,TelephoneNumber,
Reason``) read by column name."""

from __future__ import annotations

from dotsync.dotdigital.programs import parse_faults


def test_the_specs_example() -> None:
    text = ("Id,Email,TelephoneNumber,Reason\n12345,contact@example.com,+441234567890,"
            "Unsubcribed\n67890,other@example.com,,AlreadyInProgram\n")
    assert [(f.contact_id, f.email, f.reason) for f in parse_faults(text)] == [
        (12345, "contact@example.com", "Unsubcribed"),
        (67890, "other@example.com", "AlreadyInProgram")]


def test_columns_are_found_by_name_and_odd_values_kept_apart() -> None:
    text = "\ufeffReason,Extra,Email,Id\r\nSuppressed,x,\"a,b\"@example.com,\r\n"
    (fault,) = parse_faults(text)
    assert (fault.contact_id, fault.email, fault.reason) == (
        None, "a,b@example.com", "Suppressed")


def test_an_empty_report_has_no_faults() -> None:
    assert parse_faults("Id,Email,TelephoneNumber,Reason\n") == []
    assert parse_faults("") == []
