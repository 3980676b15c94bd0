"""Masking of personal data for reports, logs and artifacts."""

from __future__ import annotations


def mask_email(email: object) -> str:
    """``jo@example.com`` -> ``j***@example.com``.

    Reports name the record without spreading the address: the first character of
    the local part and the whole domain stay so an operator can still recognise it.
    Anything that is not a usable e-mail string is masked whole.
    """
    if not isinstance(email, str) or not email:
        return ""
    local, sep, domain = email.strip().rpartition("@")
    if not sep or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(number: object) -> str:
    """``+44 7911 123456`` -> ``***456``: enough to recognise a number, not to call it."""
    if not isinstance(number, str):
        return "***"
    digits = [c for c in number if c.isdigit()]
    return "***" + "".join(digits[-3:]) if len(digits) > 3 else "***"


def mask_text(value: object) -> str:
    """``Jonathan`` -> ``J***``: personal free text (names, data field values) in reports."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        return "***"
    if not isinstance(value, str):
        return "***"
    text = value.strip()
    if not text:
        return ""
    first = text[0]
    return (first if first.isprintable() else "") + "***"
