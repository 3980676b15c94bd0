"""Value and request-shape checks that Dotdigital applies, and its error bodies.

Request enums are checked in their *request* casing (``html``/``plainText``,
``unknown``/``single``/``double``/``verifiedDouble``, ``subscribed``/``unsubscribed``…) because
that is what the v3 API accepts; responses use the Pascal case the spec gives. A wrong casing
is a 400 here, so a client that sends ``Html`` finds out against the emulator, not in
production.

Mobile numbers: the spec's examples are E.164 digits without ``+`` (``447123123123``) and
whether Dotdigital accepts a leading ``+`` is not documented. The emulator accepts both and
stores one canonical form, the digits without ``+`` as in the spec's examples, so lookups by
either form find the same contact. The number must be a valid number for its country
(``phonenumbers.is_valid_number``); spaces, dashes or brackets make it invalid.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from dotsync.data_contracts.emails import FAST_RE
from dotsync.data_contracts.phones import fast_e164

DATA_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
COLLECTION_NAME = re.compile(r"^[-A-Za-z_][-A-Za-z0-9_]{1,255}$")
IDENTIFIER_NAME = re.compile(r"^[-A-Za-z0-9_]{1,50}$")
MODIFIED_FILTER = re.compile(r"^gte::(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z)$")

EMAIL_TYPES = {"html": "Html", "plainText": "PlainText"}
OPT_IN_TYPES = {"unknown": "Unknown", "single": "Single", "double": "Double",
                "verifiedDouble": "VerifiedDouble"}
EMAIL_STATUS_UPDATES = ("subscribed", "unsubscribed", "suppressed")
CHANNEL_STATUS_UPDATES = ("noSubscription", "subscribed", "unsubscribed", "suppressed")
CONTACT_MERGE_OPTIONS = {"overwrite": "overwrite", "overwrite-if-not-empty": "if-not-empty",
                         "overwrite-if-empty": "if-empty"}
IMPORT_MERGE_OPTIONS = {"overwrite": "overwrite", "overwriteIfNotEmpty": "if-not-empty",
                        "overwriteIfEmpty": "if-empty"}
COLLECTION_SCOPES = ("account", "contact")
COLLECTION_TYPES = ("cartInsight", "catalog", "consentInsight", "custom", "easyEditorExtensions",
                    "nostoEmailCampaigns", "orders", "productCategories", "webInsight",
                    "wishList")
CONTACT_IDENTIFIERS = ("email", "mobileNumber", "contactId")

Problem = tuple[str, str]
"""(item, description): one entry of a v3 error's ``details``."""


def canonical_email(value: Any) -> str | None:
    """The address as stored, or None when Dotdigital would reject its syntax.

    Stored as given (no trimming: a padded address is invalid, as it is for Dotdigital);
    lookups compare lower-cased, see :func:`email_key`.
    """
    if not isinstance(value, str) or not value or len(value) > 254:
        return None
    if value.isascii() and FAST_RE.match(value.lower()):
        return value  # the library would accept it: skip its ~35 µs per address
    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return value


def email_key(value: str) -> str:
    return value.lower()


def canonical_mobile(value: Any) -> str | None:
    """E.164 digits without ``+`` (see module docstring), or None when not a valid number."""
    if not isinstance(value, str):
        return None
    digits = value[1:] if value.startswith("+") else value
    if not digits.isdigit() or not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    if fast_e164("+" + digits):
        return digits  # phonenumbers' own metadata, checked without parsing
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return digits


@functools.lru_cache(maxsize=4096)
def _country_of_prefix(prefix: str) -> str:
    try:
        return phonenumbers.region_code_for_number(
            phonenumbers.parse("+" + prefix + "0" * (12 - len(prefix)))) or "ZZ"
    except phonenumbers.NumberParseException:
        return "ZZ"


def mobile_country(digits: str) -> str:
    """ISO country of a canonical mobile number (``GB``), for ``channelProperties.sms``."""
    if len(digits) >= 11:
        return _country_of_prefix(digits[:6])  # the region is decided by the leading digits
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits)) or "ZZ"
    except phonenumbers.NumberParseException:
        return "ZZ"


def contains_nested_array(value: Any, inside_array: bool = False) -> bool:
    """True when an array appears directly inside an array (Dotdigital rejects those)."""
    if isinstance(value, list):
        if inside_array:
            return True
        return any(contains_nested_array(v, True) for v in value)
    if isinstance(value, dict):
        return any(contains_nested_array(v, False) for v in value.values())
    return False


def json_type(value: Any) -> str | None:
    """The collection-schema type of a JSON value; None (null) fits any type."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def schema_paths(value: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a record to {field path: type}; arrays of objects contribute ``path[]``."""
    out: dict[str, str] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        kind = json_type(item)
        if kind is None:
            continue
        out[path] = kind
        if kind == "object":
            out.update(schema_paths(item, path + "."))
        elif kind == "array":
            for element in item:
                if isinstance(element, dict):
                    out.update(schema_paths(element, path + "[]."))
                else:
                    ek = json_type(element)
                    if ek is not None:
                        out[path + "[]"] = ek
    return out


def check_channel_properties(value: Any, item: str, allow_resubscribe: bool) -> list[Problem]:
    """Shape and request-casing of ``channelProperties`` (additionalProperties: false)."""
    if not isinstance(value, dict):
        return [(item, "must be an object")]
    problems: list[Problem] = []
    for channel, props in value.items():
        where = f"{item}.{channel}"
        if channel not in ("email", "sms", "whatsApp"):
            problems.append((where, "unknown channel; expected email, sms or whatsApp"))
            continue
        if not isinstance(props, dict):
            problems.append((where, "must be an object"))
            continue
        for name, v in props.items():
            at = f"{where}.{name}"
            if channel == "email" and name == "emailType":
                if not _one_of(v, EMAIL_TYPES):
                    problems.append((at, f"'{v}' is not one of {', '.join(EMAIL_TYPES)}"))
            elif channel == "email" and name == "optInType":
                if not _one_of(v, OPT_IN_TYPES):
                    problems.append((at, f"'{v}' is not one of {', '.join(OPT_IN_TYPES)}"))
            elif channel == "email" and name == "status":
                if not _one_of(v, EMAIL_STATUS_UPDATES):
                    problems.append((at, f"'{v}' is not one of {', '.join(EMAIL_STATUS_UPDATES)}"))
            elif channel == "email" and name == "resubscribeOptions" and allow_resubscribe:
                if not isinstance(v, dict):
                    problems.append((at, "must be an object"))
            elif channel != "email" and name == "status":
                if not _one_of(v, CHANNEL_STATUS_UPDATES):
                    problems.append((at, f"'{v}' is not one of "
                                         f"{', '.join(CHANNEL_STATUS_UPDATES)}"))
            else:
                problems.append((at, "unknown property"))
    return problems


def _one_of(value: Any, choices: Any) -> bool:
    """``value in choices`` for a JSON value: a list or an object (unhashable) is simply
    not one of the choices, rather than a TypeError and a 500."""
    return isinstance(value, str) and value in choices


def check_data_fields(value: Any, item: str, known: set[str] | None) -> list[Problem]:
    """Names: letters, digits, ``-``, ``_``, at most 20; values: scalars (null clears)."""
    if not isinstance(value, dict):
        return [(item, "must be an object")]
    problems: list[Problem] = []
    for name, v in value.items():
        if not DATA_FIELD_NAME.match(name):
            problems.append((f"{item}.{name}", "invalid data field name: letters, digits, '-' "
                                               "and '_' only, at most 20 characters"))
        elif known is not None and name.upper() not in known:
            problems.append((f"{item}.{name}", "data field does not exist in the account"))
        elif isinstance(v, (dict, list)):
            problems.append((f"{item}.{name}", "data field values must be text, number, "
                                               "boolean, date or null"))
    return problems


def check_contact_body(body: Any, item: str, *, known_fields: set[str] | None,
                       for_import: bool) -> list[Problem]:
    """Shape of a PATCH body or of one import record (values are checked later)."""
    if not isinstance(body, dict):
        return [(item or "body", "must be a JSON object")]
    prefix = f"{item}." if item else ""
    problems: list[Problem] = []
    if for_import:
        match = body.get("matchIdentifier")
        if not isinstance(match, str) or not IDENTIFIER_NAME.match(match):
            problems.append((f"{prefix}matchIdentifier", "required: email, mobileNumber or "
                                                         "contactId"))
        elif not _one_of(match, CONTACT_IDENTIFIERS):
            problems.append((f"{prefix}matchIdentifier", f"custom identifier '{match}' does "
                                                         "not exist in the account"))
        if "identifiers" not in body:
            problems.append((f"{prefix}identifiers", "required"))
    identifiers = body.get("identifiers")
    if identifiers is not None:
        if not isinstance(identifiers, dict):
            problems.append((f"{prefix}identifiers", "must be an object"))
        else:
            for name, v in identifiers.items():
                at = f"{prefix}identifiers.{name}"
                if name == "contactId":
                    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                        problems.append((at, "must be a non-negative integer"))
                elif name in ("email", "mobileNumber"):
                    if not isinstance(v, str):
                        problems.append((at, "must be a string"))
                else:
                    problems.append((at, f"custom identifier '{name}' does not exist in the "
                                         "account"))
    if "dataFields" in body and body["dataFields"] is not None:
        problems += check_data_fields(body["dataFields"], f"{prefix}dataFields", known_fields)
    if "channelProperties" in body and body["channelProperties"] is not None:
        problems += check_channel_properties(body["channelProperties"],
                                             f"{prefix}channelProperties",
                                             allow_resubscribe=True)
    lists = body.get("lists")
    if lists is not None and (not isinstance(lists, list) or not 1 <= len(lists) <= 100 or any(
            isinstance(x, bool) or not isinstance(x, int) for x in lists)):
        problems.append((f"{prefix}lists", "must be an array of 1 to 100 integer list ids"))
    consent = body.get("consentRecords")
    if consent is not None:
        if not isinstance(consent, list) or not 1 <= len(consent) <= 5:
            problems.append((f"{prefix}consentRecords", "must be an array of 1 to 5 records"))
        else:
            required = ("text", "dateTimeConsented", "url", "ipAddress", "userAgent")
            for i, rec in enumerate(consent):
                missing = [k for k in required if not isinstance(rec, dict) or k not in rec]
                if missing:
                    problems.append((f"{prefix}consentRecords[{i}]",
                                     f"missing {', '.join(missing)}"))
    return problems


_EMAIL_ENUMS: dict[str, frozenset[str]] = {
    "emailType": frozenset(EMAIL_TYPES), "optInType": frozenset(OPT_IN_TYPES),
    "status": frozenset(EMAIL_STATUS_UPDATES)}
_CHANNEL_STATUSES = frozenset(CHANNEL_STATUS_UPDATES)
_MISSING = object()


def first_unclean_record(records: list[Any], start: int, good_fields: set[str],
                         known: set[str] | None) -> int:
    """The index of the first import record from ``start`` that may have a problem for
    :func:`check_contact_body`; ``len(records)`` when there is none.

    A 48 MB import carries ~190,000 records and the full checker builds item paths and
    lists for each; this vouches for the common, well-formed record with exact type checks
    (JSON gives no subclasses) in one loop, so the import is accepted in well under a
    second. It may stop at a record that is in fact fine (the caller then runs the full
    checker, which has the last word, and carries on after it), but never passes one that
    is not. ``good_fields`` caches the data field names found valid for ``known``; channel
    properties equal to ones already found valid are not checked again (the check depends
    on the values alone, and a backfill sends the same few over and over).
    """
    good_channels: list[dict[str, Any]] = []
    for i in range(start, len(records)):
        body = records[i]
        if type(body) is not dict or not _one_of(body.get("matchIdentifier"),
                                                 CONTACT_IDENTIFIERS):
            return i
        identifiers = body.get("identifiers", _MISSING)
        if type(identifiers) is dict:
            for name, value in identifiers.items():
                if name == "email" or name == "mobileNumber":
                    if type(value) is not str:
                        return i
                elif name != "contactId" or type(value) is not int or value < 0:
                    return i
        elif identifiers is not None:
            return i  # missing, or not an object
        fields = body.get("dataFields")
        if fields is not None:
            if type(fields) is not dict:
                return i
            if not fields.keys() <= good_fields:
                for name in fields:
                    if not DATA_FIELD_NAME.match(name) or (known is not None
                                                           and name.upper() not in known):
                        return i
                    good_fields.add(name)
            for value in fields.values():
                if type(value) is dict or type(value) is list:
                    return i
        channels = body.get("channelProperties")
        if channels is not None and channels not in good_channels:
            if not _channels_clean(channels):
                return i
            if len(good_channels) < 16:
                good_channels.append(channels)
        lists = body.get("lists")
        if lists is not None:
            if type(lists) is not list or not 1 <= len(lists) <= 100:
                return i
            for x in lists:
                if type(x) is not int:
                    return i
        if body.get("consentRecords") is not None:
            return i
    return len(records)


def _channels_clean(channels: Any) -> bool:
    """True only when :func:`check_channel_properties` would find nothing wrong."""
    if type(channels) is not dict:
        return False
    for channel, props in channels.items():
        if type(props) is not dict:
            return False
        if channel == "email":
            for name, value in props.items():
                allowed = _EMAIL_ENUMS.get(name)
                if allowed is None:
                    if name != "resubscribeOptions" or type(value) is not dict:
                        return False
                elif type(value) is not str or value not in allowed:
                    return False
        elif channel == "sms" or channel == "whatsApp":
            for name, value in props.items():
                if name != "status" or type(value) is not str or value not in _CHANNEL_STATUSES:
                    return False
        else:
            return False
    return True


def v3_error(namespace: str, code: str, description: str,
             details: list[Problem] | None = None) -> dict[str, Any]:
    """Dotdigital's v3 error body: ``{"errorCode":"contacts:…","description":…,"details":…}``."""
    body: dict[str, Any] = {"errorCode": f"{namespace}:{code}", "description": description}
    if details:
        body["details"] = [{"item": item, "description": text} for item, text in details]
    return body


def v2_error(message: str, code: str) -> dict[str, Any]:
    """Dotdigital's v2 error body: ``{"message":"… ERROR_CODE"}``."""
    return {"message": f"{message} {code}"}
