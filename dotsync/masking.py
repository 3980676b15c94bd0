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
