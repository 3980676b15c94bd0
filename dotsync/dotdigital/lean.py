"""Decoding a contact import report without its list of every contact.

A finished contact import's report names every contact it created or updated, which
is what makes it large. msgspec decodes an object into a struct that declares only
the wanted members and skips the others without building Python objects for them,
which orjson or the standard library cannot do.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson


class _ContactImportHead(msgspec.Struct):
    """A contact import report without ``created`` and ``updated``."""

    importId: Any = msgspec.UNSET  # Dotdigital's camelCase name
    status: Any = msgspec.UNSET
    summary: Any = msgspec.UNSET
    failures: Any = msgspec.UNSET


def contact_import_head(raw: bytes) -> Any:
    """The contact import report ``raw`` without its ``created`` and ``updated`` lists.

    Raises ``ValueError`` when ``raw`` is not JSON. A document that is not an object is
    returned whole (the report parsers treat it as empty).
    """
    try:
        head = msgspec.json.decode(raw, type=_ContactImportHead)
    except msgspec.ValidationError:
        try:
            return orjson.loads(raw)  # valid JSON, but not an object of that shape
        except orjson.JSONDecodeError:
            raise ValueError("not JSON") from None
    except msgspec.DecodeError:
        raise ValueError("not JSON") from None
    return {name: value for name in head.__struct_fields__
            if (value := getattr(head, name)) is not msgspec.UNSET}
