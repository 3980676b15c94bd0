"""Phone normalisation: rules, the fast paths' agreement with phonenumbers, and
robustness (never raises, idempotent) on arbitrary and naughty text."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from dotsync.data_contracts.phones import (
    SUPPORTED_REGIONS,
    PhoneResult,
    _library,
    fast_e164,
    fast_national,
    fast_phone,
    normalise_phone,
    normalise_text,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

REGIONS = sorted(SUPPORTED_REGIONS)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+447911123456", None, "+447911123456"),
        ("+44 7911 123456", None, "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("07911 123456", "gb", "+447911123456"),
        ("(07911) 123-456", "GB", "+447911123456"),
        ("0044 7911 123456", "GB", "+447911123456"),
        ("+1 (650) 253-0000", "FR", "+16502530000"),
        ("650-253-0000", "US", "+16502530000"),
        ("030 123456", "DE", "+4930123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        (447911123456, "GB", "+447911123456"),  # a number typed as an integer
        ("tel:+44-7911-123456", None, "+447911123456"),
    ],
)
def test_valid_numbers_become_e164(raw: object, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region) == PhoneResult(expected, None)


@pytest.mark.parametrize(
    ("raw", "region", "fragment"),
    [
        ("0161 496 000", "GB", "'0161 496 000' is not a valid number for GB"),
        ("07911 123456", None, "no country or default region"),
        ("07911 123456", "ZZ", "'ZZ' is not a region"),
        ("+999 123 4567", None, "does not start with a known country calling code"),
        ("+44 7911 123456 ext. 12", "GB", "has an extension (12)"),
        ("call me", "GB", "'call me' is not a phone number"),
        ("1", "GB", "is not a phone number"),
        ("+44 1", None, "too short"),
        ("1" * 300, "GB", "too long"),
        ("+1 415 555 0100 0000", None, "is not a valid number for US"),
    ],
)
def test_invalid_numbers_give_a_reason(raw: str, region: str | None, fragment: str) -> None:
    result = normalise_phone(raw, region)
    assert result.e164 is None
    assert fragment in result.reason


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_or_blank_is_no_number(raw: str | None) -> None:
    assert normalise_phone(raw, "GB") == PhoneResult(None, "no phone number given")


@pytest.mark.parametrize("raw", [True, 1.5, float("nan"), b"+447911123456", [1], {"a": 1}])
def test_non_numbers_are_refused_not_raised(raw: object) -> None:
    result = normalise_phone(raw, "GB")
    assert result.e164 is None and result.reason


# -- the fast paths agree with phonenumbers -----------------------------------------------


def _examples() -> list[phonenumbers.PhoneNumber]:
    out = []
    for region in REGIONS:
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE,
                     PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP, PhoneNumberType.UAN):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                out.append(example)
    return out


EXAMPLES = _examples()


def _variants(number: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = "".join(c for c in national if c.isdigit())
    cc = str(number.country_code)
    nsn = e164[1 + len(cc):]
    out = [e164, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
           national, digits, "0" + digits, digits[1:], cc + digits,
           f"({digits[:4]}) {digits[4:]}", f"({digits[:3]}){digits[3:]}",
           digits.replace("", ".")[1:-1],
           f"00{cc} {nsn}", f"011{cc}{nsn}", f"00{cc}0{nsn}", f"0011 {cc} {nsn}", f"810{cc}{nsn}"]
    for _ in range(3):
        d = list(e164[1:])
        d[rng.randrange(len(d))] = str(rng.randrange(10))
        out += ["+" + "".join(d), e164 + str(rng.randrange(10)), e164[:-1]]
    return out


def test_fast_paths_agree_on_every_regions_examples() -> None:
    rng = random.Random(7)
    decided = 0
    for number in EXAMPLES:
        home = phonenumbers.region_code_for_number(number)
        for text in _variants(number, rng):
            for region in (home, rng.choice(REGIONS)):
                fast = fast_phone(text, region)
                if fast is not None:
                    decided += 1
                    assert _library(text, text, region) == (fast, None), (text, region)
    assert decided > 1000  # the fast paths are taken, not just harmless


_digits = st.text("0123456789", min_size=1, max_size=16)
_grouped = st.lists(_digits, min_size=1, max_size=4).map(lambda g: " ".join(g))
_hyphened = st.lists(_digits, min_size=1, max_size=4).map(lambda g: "-".join(g))
_cc = st.sampled_from(sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


@settings(max_examples=4000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.builds(lambda c, r: f"+{c}{r}", _cc, _digits),
                 st.builds(lambda c, r: f"+{c} {r}", _cc, _grouped),
                 st.builds(lambda r: "+" + r, _hyphened)))
def test_e164_fast_path_agrees_with_phonenumbers(text: str) -> None:
    fast = fast_e164(text)
    if fast is not None:
        assert _library(text, text, None) == (fast, None)


_dotted = st.lists(_digits, min_size=1, max_size=4).map(lambda g: ".".join(g))
_bracketed = st.builds(lambda a, sep, b: f"({a}){sep}{b}", _digits, st.sampled_from(["", " "]),
                       st.one_of(_grouped, _hyphened, _dotted))
_idd = st.builds(lambda p, c, r: f"{p}{c}{r}", st.sampled_from(["00", "011", "0011", "810", "00 ",
                                                                "0", "1", "001"]), _cc, _grouped)


@settings(max_examples=6000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_digits, _grouped, _hyphened, _dotted, _bracketed, _idd),
       st.sampled_from(REGIONS))
def test_national_fast_path_agrees_with_phonenumbers(text: str, region: str) -> None:
    fast = fast_national(text, region)
    if fast is not None:
        assert _library(text, text, region) == (fast, None)


# -- robustness ---------------------------------------------------------------------------


@settings(max_examples=2000)
@given(st.text(max_size=40), st.one_of(st.none(), st.sampled_from(REGIONS + ["ZZ", "uk", ""])))
def test_never_raises_and_is_idempotent_on_any_text(text: str, region: str | None) -> None:
    result = normalise_phone(text, region)
    assert isinstance(result, PhoneResult)
    assert (result.e164 is None) != (result.reason is None)
    if result.e164 is not None:
        assert result.e164.startswith("+") and result.e164[1:].isdigit()
        for other in (None, "GB", "US", region):
            assert normalise_phone(result.e164, other) == PhoneResult(result.e164, None)


def test_naughty_strings(naughty_strings: list[str]) -> None:
    for text in naughty_strings:
        for region in (None, "GB", "US"):
            e164, reason = normalise_text(text, region)
            assert (e164 is None) != (reason is None)
            if e164 is not None:
                assert normalise_text(e164, None) == (e164, None)
