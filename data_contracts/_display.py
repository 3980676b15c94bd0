"""How offending values appear in rejects and reasons: short, quoted, control-safe.

Kept free of pandas and numpy so the normalisers (and pool workers) stay light.
"""

from __future__ import annotations

from typing import Any

#: How much of an offending value a reject keeps (and a reason quotes).
VALUE_CHARS = 80

#: C0/C1 controls and lone surrogates, written as escapes so a value cannot drive a
#: terminal or break a UTF-8 encoder when a reject is printed or stored.
_ESCAPES = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0xD800, 0xE000))
}


def _cut(text: str) -> str:
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def clip(value: Any) -> str | None:
    """The offending value as text for a reject: at most ~80 characters, controls escaped."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = value if isinstance(value, str) else _safe_repr(value)
    return _cut(text).translate(_ESCAPES)


def show(value: Any) -> str:
    """A value quoted for a reason sentence, e.g. ``'0161 496 000'`` (clipped, escaped)."""
    if isinstance(value, str):
        return repr(_cut(value)).translate(_ESCAPES)
    return clip(value) or "null"


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a hostile __repr__ must not stop the report
        return f"<{type(value).__name__}>"
