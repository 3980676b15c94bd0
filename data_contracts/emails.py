"""E-mail normalisation: email-validator's judgement, trimmed and lower-cased.

``normalise_email`` is what the contracts use per distinct value. It never raises, and
it is idempotent: a normalised address normalises to itself.

Fast path. email-validator costs ~20-35 µs per address. Most real addresses are
plain ASCII ``local@domain.tld``, for which the library's result is provably the input
lower-cased: its own first check on the local part is the ASCII dot-atom regex
(``DOT_ATOM_TEXT``), and an ASCII domain of letters/digits/hyphens in labels of at most
63 characters, not starting or ending with a hyphen, with a TLD ending in a letter, no
``--`` anywhere (which rules out Punycode and the R-LDH rule), not under a special-use
name, within the 253/254 length limits, comes back from its UTS-46 step merely
lower-cased. :data:`FAST_RE` encodes exactly those conditions; anything it does not
match goes to the library. ``tests/contracts/test_emails.py`` checks the equivalence
with hypothesis.

This module imports neither pandas nor numpy so that pool workers start quickly.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

from dotsync.data_contracts._display import show
from email_validator import EmailNotValidError, validate_email

_ATEXT = r"a-z0-9!#$%&'*+/=?^_`{|}~\-"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TLD = r"(?!(?:arpa|invalid|local|localhost|onion|test)\Z)(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]"

#: Lower-case ASCII addresses that email-validator accepts and returns unchanged.
FAST_RE = re.compile(
    r"(?=[\x21-\x7e]{3,254}\Z)"  # printable ASCII, whole address ≤ 254
    rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"  # dot-atom local part
    r"@(?=[a-z0-9.-]{1,253}\Z)(?![a-z0-9.-]*--)"  # domain ≤ 253, no "--"
    rf"(?:{_LABEL}\.)+{_TLD}\Z"
)


class EmailResult(NamedTuple):
    """``email`` normalised (or None) and, when it is None, the ``reason`` why."""

    email: str | None
    reason: str | None


def fast_email(text: str) -> str | None:
    """The normalised address when the fast path can decide, else None (ask the library).

    ``text`` must already be stripped. Only ASCII text qualifies, so lower-casing cannot
    turn a non-ASCII character into an ASCII one (``K``, the Kelvin sign, lowers to ``k``).
    """
    if not text.isascii():
        return None
    low = text.lower()
    return low if FAST_RE.match(low) else None


def normalise_email(raw: Any) -> EmailResult:
    """Trim, validate (syntax only: no DNS) and lower-case one address; never raises."""
    if raw is None:
        return EmailResult(None, "no e-mail address given")
    if not isinstance(raw, str):
        return EmailResult(None, f"{show(raw)} is not text")
    return EmailResult(*_normalise_cached(str.__str__(raw)))


@lru_cache(maxsize=65536)
def _normalise_cached(raw: str) -> tuple[str | None, str | None]:
    return normalise_text(raw)


def normalise_text(raw: str) -> tuple[str | None, str | None]:
    """:func:`normalise_email` for a ``str``, uncached (batches are distinct already)."""
    text = raw.strip()
    if not text:
        return None, "no e-mail address given"
    fast = fast_email(text)
    if fast is not None:
        return fast, None
    return _library(text, raw)


def _library(text: str, raw: str) -> tuple[str | None, str | None]:
    try:
        result = validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        return None, f"{show(raw)} is not a valid e-mail address: {exc}"
    except Exception as exc:  # the library must not take the run down with it
        return None, f"{show(raw)} could not be checked as an e-mail address ({type(exc).__name__})"
    if result != text:
        # Lower-casing can (rarely, in Unicode) produce an address that normalises to
        # something else again; accept only a fixed point so that normalising twice
        # never changes the answer.
        try:
            again = validate_email(result, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            return None, f"{show(raw)} is not a valid e-mail address once lower-cased: {exc}"
        except Exception as exc:
            return None, (
                f"{show(raw)} could not be checked as an e-mail address ({type(exc).__name__})"
            )
        if again != result:
            return None, f"{show(raw)} has no stable lower-case form as an e-mail address"
    return result, None


def normalise_batch(items: list[str]) -> list[tuple[str | None, str | None]]:
    """:func:`normalise_text` over a list; the unit of work sent to pool workers."""
    return [normalise_text(s) for s in items]
