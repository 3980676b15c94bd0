"""Phone normalisation to E.164 with a leading ``+``, judged by phonenumbers.

``normalise_phone(raw, region)`` never raises and is idempotent: an E.164 result
normalises to itself whatever the region.

A number is accepted when phonenumbers parses it (reading national numbers with
``region``) and ``is_valid_number`` says yes. A number with an extension is rejected:
E.164 cannot hold one, and dropping it silently would reach the wrong phone. Numbers
without a ``+`` need a region; without one the reason says so.

Fast path. phonenumbers costs ~20-45 µs per number. For text that is already
international (``+`` then ASCII digits, optionally grouped by single spaces or hyphens)
the library's verdict can be computed from its own metadata with one regex per country
calling code: parsing takes the calling code from the digits (calling codes are
prefix-free), keeps the national significant number (NSN) as written when the main
region's ``national_prefix_for_parsing`` does not match at its start, and
``is_valid_number`` then picks the main region (directly, or through its
``leading_digits``) and accepts the NSN when it matches that region's general pattern
and one of the type patterns, with their possible lengths. :func:`fast_e164` answers
only when that chain holds and the number is valid; everything else (national formats,
other regions sharing a code, invalid numbers) goes to the library.
``tests/contracts/test_phones.py`` checks the agreement with hypothesis and over every
region's example numbers.

This module imports neither pandas nor numpy so that pool workers start quickly.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
from dotsync.data_contracts._display import show
from phonenumbers import NumberParseException, PhoneMetadata

#: Regions phonenumbers can read national numbers in.
SUPPORTED_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)

_CANDIDATE_RE = re.compile(r"\+[0-9]+(?:[ -][0-9]+)*\Z")
#: National text the fast path reads: digit groups separated by single spaces, hyphens or
#: dots, the first group optionally in brackets ("(0161) 496 0000"). phonenumbers drops
#: a leading bracket before reading and ignores this punctuation, as the tests check.
_NATIONAL_RE = re.compile(r"(?:\([0-9]+\) ?)?[0-9]+(?:[ .-][0-9]+)*\Z")
_PUNCTUATION = str.maketrans("", "", " .-()")
_E164 = phonenumbers.PhoneNumberFormat.E164
_NON_GEO = "001"


class PhoneResult(NamedTuple):
    """``e164`` (with ``+``) or None and, when it is None, the ``reason`` why."""

    e164: str | None
    reason: str | None


def usable_region(region: Any) -> str | None:
    """``region`` upper-cased when phonenumbers knows it, else None."""
    if not isinstance(region, str):
        return None
    code = region.strip().upper()
    return code if code in SUPPORTED_REGIONS else None


def normalise_phone(raw: Any, region: str | None = None) -> PhoneResult:
    """One number in any human format → E.164, or the reason it cannot be; never raises."""
    if raw is None:
        return PhoneResult(None, "no phone number given")
    if isinstance(raw, bool):
        return PhoneResult(None, f"{show(raw)} is not a phone number")
    if isinstance(raw, int):
        raw = str(raw)
    elif isinstance(raw, float):
        if raw != raw or not raw.is_integer() or abs(raw) >= 1e17:
            return PhoneResult(None, f"{show(raw)} is not a phone number")
        raw = str(int(raw))
    elif not isinstance(raw, str):
        return PhoneResult(None, f"{show(raw)} is not text")
    given = region if isinstance(region, str) and region.strip() else None
    return PhoneResult(*_normalise_cached(str.__str__(raw), given))


@lru_cache(maxsize=65536)
def _normalise_cached(raw: str, region: str | None) -> tuple[str | None, str | None]:
    return normalise_text(raw, region)


def normalise_text(raw: str, region: str | None) -> tuple[str | None, str | None]:
    """:func:`normalise_phone` for a ``str``, uncached (batches are distinct already)."""
    text = raw.strip()
    if not text:
        return None, "no phone number given"
    fast = fast_phone(text, region)
    if fast is not None:
        return fast, None
    return _library(text, raw, region)


def normalise_batch(
    items: list[tuple[str, str | None]],
) -> list[tuple[str | None, str | None]]:
    """:func:`normalise_text` over ``(raw, region)`` pairs; the unit sent to pool workers."""
    return [normalise_text(raw, region) for raw, region in items]


def _library(text: str, raw: str, region: str | None) -> tuple[str | None, str | None]:
    code = usable_region(region)
    try:
        number = phonenumbers.parse(text, code)
    except NumberParseException as exc:
        return None, _parse_reason(exc, text, raw, region, code)
    except Exception as exc:  # the library must not take the run down with it
        return None, f"{show(raw)} could not be read as a phone number ({type(exc).__name__})"
    if number.extension:
        return None, (
            f"{show(raw)} has an extension ({number.extension}), which an E.164 number "
            "cannot hold"
        )
    try:
        valid = phonenumbers.is_valid_number(number)
    except Exception as exc:
        return None, f"{show(raw)} could not be checked as a phone number ({type(exc).__name__})"
    if not valid:
        return None, f"{show(raw)} is not a valid number for {_where(number)}"
    return phonenumbers.format_number(number, _E164), None


def _where(number: phonenumbers.PhoneNumber) -> str:
    main = phonenumbers.region_code_for_country_code(number.country_code)
    if main in (None, "ZZ", _NON_GEO):
        return f"country calling code +{number.country_code}"
    return main


def _parse_reason(
    exc: NumberParseException, text: str, raw: str, region: str | None, code: str | None
) -> str:
    q = show(raw)
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if text[:1] in ("+", "＋") or code is not None:
            return f"{q} does not start with a known country calling code"
        if region:
            return (
                f"{q} has no country code (+…) and {show(region)} is not a region it can "
                "be read in"
            )
        return (
            f"{q} has no country code (+…) and no country or default region was given "
            "to read it with"
        )
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"{q} is too short to be a phone number"
    if kind == NumberParseException.TOO_LONG:
        return f"{q} is too long to be a phone number"
    return f"{q} is not a phone number"


# -- fast path -----------------------------------------------------------------------

_RULES: dict[int, tuple[Callable[[str], bool], Callable[[str], bool]] | None] = {}
_PLANS: dict[str, Callable[[str], str | None] | None] = {}
_RULES_LOCK = threading.Lock()
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


def fast_e164(text: str) -> str | None:
    """The E.164 form when ``text`` is an international number phonenumbers would accept
    unchanged (apart from single spaces/hyphens between digit groups); else None.

    None means "ask the library", not "invalid". ``text`` must already be stripped.
    """
    if not _CANDIDATE_RE.match(text):
        return None
    digits = text[1:]
    if " " in digits or "-" in digits:
        digits = digits.replace(" ", "").replace("-", "")
    if digits[0] == "0" or len(digits) > 17:
        return None
    for size in (1, 2, 3):
        if size >= len(digits):
            return None
        cc = int(digits[:size])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            rule = _rule(cc)
            if rule is None or not rule[0](digits[size:]):
                return None
            return "+" + digits
    return None


def fast_phone(text: str, region: str | None) -> str | None:
    """:func:`fast_e164` for international text, :func:`fast_national` otherwise."""
    if text[:1] == "+":
        return fast_e164(text)
    code = usable_region(region)
    return fast_national(text, code) if code is not None else None


def fast_national(text: str, region: str) -> str | None:
    """The E.164 form of a national number (ASCII digits in groups separated by single
    spaces or hyphens) read in ``region``, when the library's verdict follows from its
    metadata; else None ("ask the library").

    Mirrors ``parse``: an international (IDD) prefix of ``region`` at the start makes it
    an international number (then as :func:`fast_e164`); no leading copy of the region's
    calling code (the library then tries stripping it),
    the national prefix removed by ``national_prefix_for_parsing`` when there is no
    transform rule and the remainder passes the region's length test; then the
    calling code's validity rule as in :func:`fast_e164`.
    """
    if not _NATIONAL_RE.match(text):
        return None
    plan = _plan(region)
    return None if plan is None else plan(text)


def _plan(region: str) -> Callable[[str], str | None] | None:
    try:
        return _PLANS[region]
    except KeyError:
        pass
    with _RULES_LOCK:
        if region not in _PLANS:
            _PLANS[region] = _build_plan(region)
        return _PLANS[region]


def _build_plan(region: str) -> Callable[[str], str | None] | None:
    code = usable_region(region)
    if code is None or code != region:
        return None
    meta = PhoneMetadata.metadata_for_region(code, None)
    if meta is None or meta.general_desc is None or not meta.general_desc.possible_length:
        return None
    cc = meta.country_code
    rules = _build_rule(cc)
    if rules is None:
        return None
    valid = rules[1]
    cc_text = str(cc)
    idd = re.compile(meta.international_prefix) if meta.international_prefix else None
    prefix = (
        re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
    )
    has_transform = bool(meta.national_prefix_transform_rule)
    general = re.compile(f"(?:{meta.general_desc.national_number_pattern})\\Z")
    lengths = tuple(meta.general_desc.possible_length)
    local_only = frozenset(meta.general_desc.possible_length_local_only or ())
    if lengths[0] < 0:
        return None

    def length_ok(n: int) -> bool:  # _test_number_length is not TOO_SHORT/LOCAL_ONLY/INVALID
        if n in local_only:
            return False
        return n == lengths[0] or n > lengths[-1] or (n > lengths[0] and n in lengths[1:])

    def plan(text: str) -> str | None:
        digits = text if text.isdigit() else text.translate(_PUNCTUATION)
        if idd is not None:
            m = idd.match(digits)
            if m is not None:
                # Dialled with the international prefix: read as "+" and the rest, unless
                # a 0 follows (the library then keeps the prefix; let it decide).
                rest = digits[m.end() :]
                if not rest or rest[0] == "0":
                    return None
                return fast_e164("+" + rest)
        if digits.startswith(cc_text):
            return None
        nsn = digits
        if prefix is not None:
            m = prefix.match(digits)
            if m is not None:
                if has_transform:
                    return None
                nsn = digits[m.end() :]
                # The library keeps the prefix when the rest is not viable for the region
                # or fails its length test; only the plain stripping case is decided here.
                if not general.match(nsn) or not length_ok(len(nsn)):
                    return None
        if not 2 <= len(nsn) <= 17 or not valid(nsn):
            return None
        return f"+{cc_text}{nsn}"

    return plan


def _rule(cc: int) -> tuple[Callable[[str], bool], Callable[[str], bool]] | None:
    try:
        return _RULES[cc]
    except KeyError:
        pass
    with _RULES_LOCK:
        if cc not in _RULES:
            _RULES[cc] = _build_rule(cc)
        return _RULES[cc]


def _desc_regex(desc: Any) -> str | None:
    """``_is_number_matching_desc`` as one regex: possible lengths, then full match."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = tuple(desc.possible_length or ())
    if lengths:
        usable = [n for n in lengths if n > 0]
        if not usable:
            return None
        guard = "(?=(?:" + "|".join(f"[0-9]{{{n}}}" for n in usable) + r")\Z)"
    else:
        guard = ""
    return f"{guard}(?:{desc.national_number_pattern})\\Z"


def _build_rule(cc: int) -> tuple[Callable[[str], bool], Callable[[str], bool]] | None:
    """Two tests of an NSN under calling code ``cc``: as written after ``+cc`` (the
    national prefix must not match, or parsing might strip it), and as the final NSN."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc) or ()
    if not regions or regions[0] == _NON_GEO:
        return None
    meta = PhoneMetadata.metadata_for_region(regions[0], None)
    if meta is None:
        return None
    general = _desc_regex(meta.general_desc)
    if general is None:
        return None
    names = list(_TYPE_DESCS)
    if not meta.same_mobile_and_fixed_line_pattern:
        names.append("mobile")
    alternatives = [r for r in (_desc_regex(getattr(meta, n, None)) for n in names) if r]
    if not alternatives:
        return None
    valid_re = re.compile(f"(?={general})(?:{'|'.join(f'(?:{a})' for a in alternatives)})")
    prefix = (
        re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
    )
    leading = (
        re.compile(meta.leading_digits)
        if len(regions) > 1 and meta.leading_digits is not None
        else None
    )

    def is_valid(nsn: str) -> bool:
        if leading is not None and not leading.match(nsn):
            return False  # another region sharing the code might claim it
        return valid_re.match(nsn) is not None

    def as_written(nsn: str) -> bool:
        if prefix is not None and prefix.match(nsn):
            return False  # parsing might strip a national prefix: let the library decide
        return is_valid(nsn)

    return as_written, is_valid
