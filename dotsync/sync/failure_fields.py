"""Which staged field a Dotdigital refusal of a contact is about.

Dotdigital says what it refused in three places: a bulk import report's
``failureCode`` and ``description`` (``InvalidPhoneNumber``; ``Duplicate`` with
"Duplicate identifier detected for mobileNumber"), a v3 error's ``details`` items
(``identifiers.mobileNumber``, ``dataFields.FIRSTNAME``) and a 409's description
("… for the identifier 'mobileNumber' already exists"). A problem must be reported
under the field the shop has to fix, so ``rejects`` says ``mobile_number`` for a
duplicate or invalid mobile number, not ``email``. The e-mail stays the answer only
when nothing points elsewhere (it is the contact's identifier).

Failure codes: Dotdigital's contacts import report (DOTDIGITAL.md, "Contacts";
``dotdigital-contacts-service.json``): ``InvalidEmail``, ``InvalidPhoneNumber``,
``GloballySuppressed``, ``SuppressedByDomain``, ``Duplicate``, ``NoValidIdentifiers``,
``InvalidDomain``, ``InvalidAddressBookIds``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Dotdigital identifier names (lower-cased) → staged column.
IDENTIFIERS = {"email": "email", "mobilenumber": "mobile_number"}
#: Data fields dotsync fills from named columns; any other is one of ``data_fields``.
DATA_FIELDS = {"FIRSTNAME": "first_name", "LASTNAME": "last_name", "STORE": "store",
               "LOCALE": "locale"}
#: Failure codes that name their field by themselves (lower-cased).
CODES = {
    "invalidemail": "email",
    "invaliddomain": "email",
    "globallysuppressed": "email",
    "suppressedbydomain": "email",
    "invalidphonenumber": "mobile_number",
    "invalidmobilenumber": "mobile_number",
    "invalidaddressbookids": "DOTSYNC_ADDRESS_BOOK_ID",
}
_IDENTIFIER_IN_TEXT = re.compile(r"\b(mobileNumber|email)\b", re.IGNORECASE)
_CHANNELS = {"email": "email_consent", "sms": "sms_consent"}


def field_of_item(item: str) -> str | None:
    """The staged column a v3 ``details`` item path is about, or None."""
    parts = [p for p in re.split(r"[.\[\]]", item) if p and not p.isdigit()]
    if parts and parts[0] in ("contacts", "body"):
        parts = parts[1:]
    if not parts:
        return None
    head = parts[0].lower()
    if head == "identifiers" and len(parts) > 1:
        return IDENTIFIERS.get(parts[1].lower())
    if head == "datafields":
        return DATA_FIELDS.get(parts[1].upper(), "data_fields") if len(parts) > 1 \
            else "data_fields"
    if head == "channelproperties" and len(parts) > 1:
        leaf = parts[-1].lower()
        if leaf == "emailtype":
            return "email_type"
        if leaf == "optintype":
            return "opt_in_type"
        return _CHANNELS.get(parts[1].lower())
    if head == "consentrecords":
        return "consent_text"
    if head == "lists":
        return "DOTSYNC_ADDRESS_BOOK_ID"
    return None


def contact_problem_field(code: str | None, description: str | None = None,
                          details: Iterable[Mapping[str, Any]] = ()) -> str:
    """The field a refused contact is reported under (``email`` when nothing says)."""
    for detail in details:
        item = detail.get("item") if isinstance(detail, Mapping) else None
        found = field_of_item(str(item)) if item else None
        if found:
            return found
    by_code = CODES.get((code or "").rsplit(":", 1)[-1].lower())
    if by_code:
        return by_code
    if description:
        match = _IDENTIFIER_IN_TEXT.search(description)
        if match:
            return IDENTIFIERS[match.group(1).lower()]
    return "email"


def field_of_error(exc: Any) -> str:
    """:func:`contact_problem_field` for a client error (``DotdigitalError``)."""
    return contact_problem_field(getattr(exc, "error_code", None),
                                 getattr(exc, "description", None),
                                 getattr(exc, "details", None) or ())
