"""Dotdigital's refusals of a contact are reported under the field they are about."""

from __future__ import annotations

import pytest

from dotsync.dotdigital.errors import ConflictError, ValidationError
from dotsync.sync.failure_fields import contact_problem_field, field_of_error, field_of_item


@pytest.mark.parametrize("code,description,field", [
    # Contact import report failures (Dotdigital's failure codes).
    ("Duplicate", "Duplicate identifier detected for mobileNumber '+447911123456'",
     "mobile_number"),
    ("Duplicate", "Duplicate identifier detected for email 'jo@example.com'", "email"),
    ("InvalidPhoneNumber", "Invalid value for 'mobileNumber': must be E.164", "mobile_number"),
    ("InvalidEmail", None, "email"),
    ("GloballySuppressed", None, "email"),
    ("InvalidAddressBookIds", None, "DOTSYNC_ADDRESS_BOOK_ID"),
    # A 409 on a single upsert names the identifier in its description.
    ("contacts:idAlreadyExists", "The id value '447911123456' for the identifier "
     "'mobileNumber' already exists. All identifiers must be unique!", "mobile_number"),
    ("SomethingNew", None, "email"),  # nothing says otherwise: the identifier
])
def test_failure_codes_and_descriptions(code, description, field):
    assert contact_problem_field(code, description) == field


@pytest.mark.parametrize("item,field", [
    ("identifiers.mobileNumber", "mobile_number"),
    ("contacts[3].identifiers.email", "email"),
    ("dataFields.FIRSTNAME", "first_name"),
    ("dataFields.STORE", "store"),
    ("dataFields.LOCALE", "locale"),
    ("dataFields.TIER", "data_fields"),
    ("channelProperties.email.status", "email_consent"),
    ("channelProperties.sms.status", "sms_consent"),
    ("channelProperties.email.emailType", "email_type"),
    ("channelProperties.email.optInType", "opt_in_type"),
    ("consentRecords[0].text", "consent_text"),
    ("lists", "DOTSYNC_ADDRESS_BOOK_ID"),
    ("somethingElse", None),
])
def test_detail_items_name_their_column(item, field):
    assert field_of_item(item) == field


def test_details_win_over_the_code():
    assert contact_problem_field("contacts:validationError", "The request is invalid",
                                 [{"item": "dataFields.TIER", "description": "unknown"}]) \
        == "data_fields"


def test_a_client_error_is_read_the_same_way():
    conflict = ConflictError("409", status=409, error_code="contacts:idAlreadyExists",
                             description="… for the identifier 'mobileNumber' already exists")
    assert field_of_error(conflict) == "mobile_number"
    invalid = ValidationError("400", status=400, error_code="contacts:validationError",
                              details=[{"item": "dataFields.LASTNAME", "description": "x"}])
    assert field_of_error(invalid) == "last_name"
