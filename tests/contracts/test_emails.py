"""E-mail normalisation: rules, the fast path's agreement with email-validator, and
robustness (never raises, idempotent) on arbitrary and naughty text."""

from __future__ import annotations

import string

import pytest
from dotsync.data_contracts._display import show
from dotsync.data_contracts.emails import (
    FAST_RE,
    EmailResult,
    fast_email,
    normalise_email,
    normalise_text,
)
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jo@example.com", "jo@example.com"),
        ("  Jo@Example.COM ", "jo@example.com"),
        ("JO.SMITH+tag@Sub.Example.co.uk", "jo.smith+tag@sub.example.co.uk"),
        ("jö@bücher.de", "jö@bücher.de"),
        ("x@xn--bcher-kva.de", "x@bücher.de"),  # Punycode comes back as Unicode
        ("Info@Example.com", "info@example.com"),
    ],
)
def test_valid_addresses_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalise_email(raw) == EmailResult(expected, None)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("jo@@x", "is not a valid e-mail address"),
        ("no-at-sign", "must have an @-sign"),
        ("a@b", "should have a period"),
        ("x@mail.localhost", "special-use"),
        ("jo..smith@x.com", "two periods"),
        ("jo@ex ample.com", "invalid characters"),
        ("Jo <jo@example.com>", "display name"),
        ("jo\x00@example.com", "not a valid e-mail address"),
    ],
)
def test_invalid_addresses_give_a_reason_quoting_the_value(raw: str, fragment: str) -> None:
    result = normalise_email(raw)
    assert result.email is None
    assert result.reason.startswith(show(raw))
    assert fragment in result.reason


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_missing_or_blank_is_no_address(raw: str | None) -> None:
    assert normalise_email(raw) == EmailResult(None, "no e-mail address given")


@pytest.mark.parametrize("raw", [42, 4.2, b"jo@example.com", ["jo@example.com"], {"a": 1}])
def test_non_text_is_refused_not_raised(raw: object) -> None:
    result = normalise_email(raw)
    assert result.email is None and "is not text" in result.reason


def test_no_dns_lookups_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import email_validator.deliverability as deliverability

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("deliverability must not be checked")

    monkeypatch.setattr(deliverability, "validate_email_deliverability", boom)
    assert normalise_text("someone@does-not-exist.example.org") == (
        "someone@does-not-exist.example.org", None)


# -- the fast path agrees with the library ------------------------------------------------

_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_local = st.lists(st.text(_ATEXT, min_size=1, max_size=12), min_size=1, max_size=3).map(".".join)
_label = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=15)
_domain = st.lists(_label, min_size=1, max_size=4).map(".".join)
_tld = st.sampled_from(["com", "co", "uk", "de", "x1", "a", "museum", "test", "local", "onion",
                        "arpa", "invalid", "localhost", "1", "c-m", "xn--p1ai"])
_plausible = st.builds(lambda lo, d, t: f"{lo}@{d}.{t}", _local, _domain, _tld)
_noisy = st.text(alphabet=_ATEXT + ".@- \"<>[]()\\,;:" + "éß\u212a", max_size=40)


def _library(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_plausible, _noisy))
def test_fast_path_agrees_with_email_validator(text: str) -> None:
    text = text.strip()
    fast = fast_email(text)
    if fast is not None:
        assert _library(text) == fast


@settings(max_examples=500)
@given(_plausible)
def test_fast_path_covers_plain_addresses(text: str) -> None:
    # Not a correctness property: shows the fast path is actually taken for most
    # plain addresses the library accepts unchanged (else it would be pointless).
    low = text.lower()
    assume(_library(text) == low and ".-" not in low and "-." not in low)
    # The fast path leaves every label with "--" to the library (IDNA rules on hyphens).
    assume("--" not in low.split("@")[1])
    assert fast_email(text) == low


def test_fast_regex_refuses_what_the_library_changes_or_refuses() -> None:
    for text in ["a@xn--bcher-kva.de", "a@b", "a@ab--c.com", "a@x.test", "a@-x.com",
                 "a@x-.com", "a@x.1", ".a@x.com", "a.@x.com", "a" * 250 + "@x.com",
                 "a@" + "b" * 64 + ".com", "Kelvin\u212a@x.com"]:
        assert fast_email(text) is None or _library(text) == fast_email(text), text
    assert FAST_RE.match("jo@example.com")


# -- robustness ---------------------------------------------------------------------------


@settings(max_examples=2000)
@given(st.text(max_size=80))
def test_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    result = normalise_email(text)
    assert isinstance(result, EmailResult)
    assert (result.email is None) != (result.reason is None)
    if result.email is not None:
        assert normalise_email(result.email) == EmailResult(result.email, None)


@settings(max_examples=1000)
@given(st.builds(lambda lo, d: f"{lo}@{d}.com",
                 st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10)))
def test_idempotent_on_unicode_addresses(text: str) -> None:
    result = normalise_email(text)
    if result.email is not None:
        assert normalise_email(result.email).email == result.email


def test_naughty_strings(naughty_strings: list[str]) -> None:
    for text in naughty_strings:
        for candidate in (text, f"{text}@example.com", f"jo@{text}.com"):
            result = normalise_email(candidate)
            assert (result.email is None) != (result.reason is None)
            if result.email is not None:
                assert normalise_email(result.email).email == result.email
            else:
                assert "\x00" not in result.reason and "\x1b" not in result.reason
